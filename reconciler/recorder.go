package reconciler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// Defaults of the control-plane write batching.
const (
	// DefaultFlushEvery is how many tenant outcomes make a control-plane write: at the remote default
	// concurrency of 64 that is about one write per round of tenants.
	DefaultFlushEvery = 64
	// DefaultFlushInterval bounds how long an outcome waits for its write, so status and lease releases
	// stay current while a slow rollout trickles.
	DefaultFlushInterval = 250 * time.Millisecond
	// flushTimeout bounds one background write: it runs detached from the rollout's context (status must
	// survive cancellation) but must not wait forever on an unreachable control plane.
	flushTimeout = time.Minute
)

// recorder batches the reconciler's control-plane writes: tenant outcomes (status row, history entry,
// rollout task state, lease release) and the rollout's state. Each flush is ONE status.Store.Write — one
// transaction, one request — taken every `every` outcomes (exactly that many, so request counts do not
// depend on timing), when the oldest pending outcome is `interval` old, and at wave end.
//
// Why a crash between flushes can never apply a tenant twice: an outcome is added only after the tenant's
// engine transaction committed (or failed), and nothing marks a task applied before that. A crash loses
// at most the outcomes not yet flushed; their tasks are still pending and their leases still held by this
// holder (a restarted replica keeps its holder id; another takes them once they expire). The resumed
// rollout therefore visits those tenants again — and their plans come back up to date from the engine's
// in-database registry, so nothing runs (OutcomeUpToDate); a plan made before another writer moved the
// database fails the engine's stale-plan check and is re-planned. The task state only decides what a resume
// skips without planning; the registry decides what is applied. Updates keep their order across flushes
// (one flush at a time, taken from the front), so a later outcome of a tenant never loses to an earlier.
type recorder struct {
	store    *status.Store
	log      *slog.Logger
	every    int
	interval time.Duration
	bgCtx    context.Context

	mu       sync.Mutex
	pending  []status.Update
	rollout  *status.RolloutState // rides on the next flush
	timer    *time.Timer
	draining bool                     // a background flush of full batches is running
	written  map[string]status.Tenant // last status written per tenant, for metrics without a re-read
	bg       sync.WaitGroup

	flushMu sync.Mutex // one write at a time, so batches land in the order they were taken

	// onReleased, when set, is told the tenants whose leases a write released (the heartbeat stops
	// renewing them only then: until the write lands, their leases must not run out).
	onReleased func(ids []string)
}

func newRecorder(ctx context.Context, r *Reconciler) *recorder {
	return &recorder{store: r.opts.Store, log: r.log, every: r.opts.FlushEvery, interval: r.opts.FlushInterval,
		bgCtx: context.WithoutCancel(ctx), written: map[string]status.Tenant{}}
}

// add queues one outcome; it never waits for the control plane.
func (rc *recorder) add(_ context.Context, u status.Update) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.pending = append(rc.pending, u)
	if len(rc.pending) >= rc.every && !rc.draining {
		rc.draining = true
		rc.bg.Add(1)
		go rc.drain()
	}
	if rc.timer == nil && rc.interval > 0 {
		rc.bg.Add(1)
		rc.timer = time.AfterFunc(rc.interval, func() {
			defer rc.bg.Done()
			rc.mu.Lock()
			rc.timer = nil
			rc.mu.Unlock()
			ctx, cancel := context.WithTimeout(rc.bgCtx, flushTimeout)
			defer cancel()
			if err := rc.flush(ctx, nil); err != nil {
				rc.log.Error("record status", "error", err)
			}
		})
	}
	return nil
}

// setRollout makes the next flush record the rollout's state (e.g. the wave it moved to) at no extra cost.
func (rc *recorder) setRollout(ro status.RolloutState) {
	rc.mu.Lock()
	rc.rollout = &ro
	rc.mu.Unlock()
}

// drain writes full batches of exactly `every` outcomes while there are that many pending.
func (rc *recorder) drain() {
	defer rc.bg.Done()
	for {
		ctx, cancel := context.WithTimeout(rc.bgCtx, flushTimeout)
		more, err := rc.write(ctx, rc.every, nil)
		cancel()
		if err != nil {
			rc.log.Error("record status", "error", err)
		}
		if !more || err != nil {
			rc.mu.Lock()
			// Re-check under the lock add uses: an outcome that arrived since must not be stranded.
			if err == nil && len(rc.pending) >= rc.every {
				rc.mu.Unlock()
				continue
			}
			rc.draining = false
			rc.mu.Unlock()
			return
		}
	}
}

// flush writes everything pending (and ro, or a rollout state set earlier) in one request; with nothing
// to write it sends nothing.
func (rc *recorder) flush(ctx context.Context, ro *status.RolloutState) error {
	_, err := rc.write(ctx, 0, ro)
	return err
}

// write takes up to limit pending outcomes (0: all) from the front and writes them with the rollout
// state; on failure they go back to the front so the next flush retries them. more reports whether a
// full batch is still pending.
func (rc *recorder) write(ctx context.Context, limit int, ro *status.RolloutState) (more bool, err error) {
	rc.flushMu.Lock()
	defer rc.flushMu.Unlock()
	rc.mu.Lock()
	if limit > 0 && len(rc.pending) < limit {
		rc.mu.Unlock()
		return false, nil
	}
	n := len(rc.pending)
	if limit > 0 {
		n = limit
	}
	batch := rc.pending[:n:n]
	rc.pending = append([]status.Update(nil), rc.pending[n:]...)
	if ro == nil {
		ro = rc.rollout
	}
	rc.rollout = nil
	if limit == 0 && rc.timer != nil && rc.timer.Stop() {
		rc.timer = nil
		rc.bg.Done() // the stopped timer's function will not run
	}
	rc.mu.Unlock()
	if len(batch) == 0 && ro == nil {
		return false, nil
	}
	// Status must survive the caller's cancellation: it is what a restarted reconciler resumes from.
	err = rc.store.Write(context.WithoutCancel(ctx), status.Batch{Updates: batch, Rollout: ro})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.pending = append(batch, rc.pending...)
		if rc.rollout == nil {
			rc.rollout = ro
		}
		return false, err
	}
	var released []string
	for _, u := range batch {
		rc.written[u.Status.TenantID] = u.Status
		if u.ReleaseHolder != "" {
			released = append(released, u.Status.TenantID)
		}
	}
	if rc.onReleased != nil && len(released) > 0 {
		rc.onReleased(released)
	}
	return limit > 0 && len(rc.pending) >= limit, nil
}

// close writes what is pending with ro and waits for background writes to finish, so nothing of this
// recorder reaches the control plane after it returns.
func (rc *recorder) close(ctx context.Context, ro *status.RolloutState) error {
	err := rc.flush(ctx, ro)
	rc.mu.Lock()
	if rc.timer != nil && rc.timer.Stop() {
		rc.timer = nil
		rc.bg.Done()
	}
	rc.mu.Unlock()
	rc.bg.Wait()
	if err == nil {
		// A background write that failed put its batch back; this is the last chance to write it.
		err = rc.flush(ctx, nil)
	}
	return err
}

// merged is statuses with everything this recorder wrote on top.
func (rc *recorder) merged(statuses map[string]status.Tenant) map[string]status.Tenant {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]status.Tenant, len(statuses)+len(rc.written))
	for id, st := range statuses {
		out[id] = st
	}
	for id, st := range rc.written {
		out[id] = st
	}
	return out
}
