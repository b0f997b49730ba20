package reconciler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// setState remembers whether the loop must retry, and the last valid revision (for drift checks).
func (r *Reconciler) setState(repo *Repository, rev source.Revision, retry bool) {
	r.setStateLeased(repo, rev, retry, false)
}

// setStateLeased is setState where leased says the retry is only for tenants another replica held.
func (r *Reconciler) setStateLeased(repo *Repository, rev source.Revision, retry, leased bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.needRetry = retry
	r.leaseWait = leased
	if repo != nil && repo.Valid() {
		r.lastRepo, r.lastRev = repo, rev
	}
}

func (r *Reconciler) repoName() string {
	if r.opts.Source != nil {
		return r.opts.Source.Redacted()
	}
	return "local"
}

// ReconcileRevision converges every targeted tenant to rev (whose tree is exported at rev.Dir).
func (r *Reconciler) ReconcileRevision(ctx context.Context, rev source.Revision) (*Summary, error) {
	start := time.Now()
	sum, err := r.reconcile(ctx, rev)
	result := "success"
	switch {
	case err != nil:
		result = "error"
	case !sum.Valid:
		result = "invalid"
	case !sum.OK():
		result = "failed"
	case sum.Applied == 0 && sum.UpToDate == 0:
		result = "unchanged"
	}
	r.m.ReconcileDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
	if err != nil {
		r.mu.Lock()
		r.needRetry = true // e.g. the control plane was unreachable: try again on the next poll
		r.mu.Unlock()
		r.log.Error("reconcile failed", "revision", rev.String(), "error", err)
	}
	if sum != nil {
		sum.DurationMs = time.Since(start).Milliseconds()
		r.mu.Lock()
		r.last = sum // published only once complete: /status reads it concurrently
		r.mu.Unlock()
		r.log.Info("reconcile finished", "revision", sum.Revision, "result", result, "targeted", sum.Targeted,
			"skipped", sum.Skipped, "applied", sum.Applied, "failed", sum.Failed, "refused", sum.Refused,
			"halted", sum.Halted, "durationMs", sum.DurationMs)
	}
	return sum, err
}

func (r *Reconciler) reconcile(ctx context.Context, rev source.Revision) (*Summary, error) {
	repo, err := LoadRepository(rev.Dir)
	if err != nil {
		return nil, fmt.Errorf("load revision %s: %w", rev, err)
	}
	sum := &Summary{Revision: rev.String(), Digest: rev.Digest, Valid: repo.Valid(), Issues: repo.Errors()}
	src := status.Source{Repo: r.repoName(), Revision: rev.String(), Digest: rev.Digest, Valid: sum.Valid}
	for _, is := range sum.Issues {
		src.Issues = append(src.Issues, status.Issue{File: is.File, Line: is.Line, Path: is.Path, Message: is.Message, Code: is.Code})
	}
	// Control-plane budget of one revision: one read (tenants and their status, one snapshot) and one write
	// for the source — together with the rollout and all its tasks when there is work. Everything after
	// that is written per batch of tenants.
	tenants, statuses, err := r.readControlPlane(ctx)
	if err != nil {
		return nil, err
	}
	if !sum.Valid {
		for _, is := range sum.Issues {
			r.log.Error("invalid revision", "revision", sum.Revision, "file", is.File, "line", is.Line, "path", is.Path, "message", is.Message)
		}
		if err := r.markInvalid(ctx, rev, src, statuses, sum.Issues); err != nil {
			return nil, err
		}
		r.notifyInvalid(repo, rev, sum.Issues)
		r.setState(repo, rev, false)
		return sum, nil
	}
	waves, desired := repo.resolveRun(tenants, statuses)
	sum.Unknown = repo.UnknownTenants(tenants)
	if len(sum.Unknown) > 0 {
		r.log.Warn("objectstack.yaml names tenants that are not active", "tenants", sum.Unknown)
	}
	need := map[string]bool{}
	var recovered []status.Update
	for _, d := range desired {
		if !d.Untargeted {
			sum.Targeted++
		}
		if len(d.Orphans) > 0 {
			sum.WithOrphans++
		}
		st, ok := statuses[d.Tenant.ID]
		if upToDate(st, ok, d, repo.Config.Prune) {
			// The fast path: no database opened. A tenant that already holds what this revision asks for
			// is Ready at it, whatever an earlier revision left in its conditions (a refused or invalid
			// push that was then reverted): GitOps users fix a bad push by reverting it.
			if u, ok := readyAgain(st, d, rev); ok {
				recovered = append(recovered, u)
				statuses[d.Tenant.ID] = u.Status
			}
			continue
		}
		need[d.Tenant.ID] = true
	}
	sum.Skipped = len(desired) - len(need)
	if len(need) == 0 {
		// The source and the recovered tenants' conditions: one write.
		if err := r.opts.Store.Write(ctx, status.Batch{Source: &src, Updates: recovered}); err != nil {
			return nil, err
		}
		r.observeConditions(statuses)
		r.setState(repo, rev, false)
		return sum, nil
	}
	tasks := map[string]string{}
	firstWave := ""
	for _, w := range waves {
		for _, d := range w.Members {
			if need[d.Tenant.ID] {
				tasks[d.Tenant.ID] = w.Name
				if firstWave == "" {
					firstWave = w.Name
				}
			}
		}
	}
	ro, resumed, err := r.opts.Store.Begin(ctx, status.RolloutStart{Revision: rev.String(), Digest: rev.Digest, Tasks: tasks, Wave: firstWave, Source: &src})
	if err != nil {
		return nil, err
	}
	sum.RolloutID, sum.Resumed = ro.ID, resumed
	if resumed {
		r.log.Info("resuming rollout", "rollout", ro.ID, "revision", ro.Revision, "wave", ro.Wave)
	}
	ex := &execution{r: r, rev: rev, cfg: repo.Config, statuses: statuses, rollout: ro, rec: newRecorder(ctx, r), wave: firstWave,
		held: map[string]bool{}}
	ex.rec.onReleased = ex.released
	for _, u := range recovered {
		_ = ex.rec.add(ctx, u) // rides on the rollout's first write
	}
	stopBeat := ex.heartbeat(ctx)
	ex.run(ctx, waves, need, sum)
	state := status.RolloutCompleted
	msg := ""
	switch {
	case sum.Halted > 0:
		state = status.RolloutHalted
		msg = ex.haltMsg
	case sum.Failed+sum.Refused > 0:
		state = status.RolloutFailed
		msg = fmt.Sprintf("%d tenant(s) failed, %d refused", sum.Failed, sum.Refused)
	case sum.Leased > 0:
		msg = fmt.Sprintf("%d tenant(s) held by another replica", sum.Leased)
	}
	sum.RolloutState = state
	// The last outcomes and the rollout's final state: one write.
	err = ex.rec.close(ctx, &status.RolloutState{ID: ro.ID, State: state, Wave: ex.wave, Message: msg})
	// The heartbeat runs until the releases are written: a lease must not run out between its tenant's
	// outcome and the write that records it.
	stopBeat()
	if err != nil {
		return sum, err
	}
	ex.notifyFinished(sum, state, msg)
	r.observeConditions(ex.rec.merged(statuses))
	r.setStateLeased(repo, rev, !sum.OK() || sum.Leased > 0, sum.OK() && sum.Leased > 0)
	return sum, nil
}

// readyAgain is the status update of a tenant skipped at its checksum (it already has everything rev
// asks for) whose conditions still say something else — Stalled by a refused, failed, halted or invalid
// revision since reverted. Drift is left alone: a drifted tenant does not match its revision, and the
// drift check owns that condition. The history keeps the earlier failure and gains the recovery.
func readyAgain(st status.Tenant, d *Desired, rev source.Revision) (status.Update, bool) {
	if st.Drifted || st.Condition == status.Ready {
		return status.Update{}, false // Ready at an earlier revision with the same content: nothing to say
	}
	st.LastAttemptedRevision, st.LastAppliedRevision = rev.String(), rev.String()
	st.AttemptedChecksum = d.Checksum
	st.Condition, st.Reason, st.Error = status.Ready, status.ReasonUpToDate, ""
	st.Message = fmt.Sprintf("already at %s", rev)
	st.UpdatedAt = time.Time{}
	return status.Update{Status: st, History: &status.HistoryEntry{Revision: rev.String(), Checksum: d.Checksum, Result: "applied",
		Reason: status.ReasonUpToDate, Message: st.Message}}, true
}

// readControlPlane reads the tenant registry and every tenant's reconcile status. When the status store
// and the tenant service share one control-plane handle (cmd/objectstack and the tests open them so)
// that is ONE request from one snapshot; otherwise one each.
func (r *Reconciler) readControlPlane(ctx context.Context) ([]tenant.Tenant, map[string]status.Tenant, error) {
	if r.opts.Store.DB() == r.opts.Tenants.ControlDB() {
		statuses, res, err := r.opts.Store.Snapshot(ctx, tenant.ListStmt(tenant.Filter{}))
		if err != nil {
			return nil, nil, fmt.Errorf("read control plane: %w", err)
		}
		tenants, err := tenant.DecodeList(res[0], tenant.Filter{})
		if err != nil {
			return nil, nil, err
		}
		return tenants, statuses, nil
	}
	tenants, err := r.opts.Tenants.List(ctx, tenant.Filter{})
	if err != nil {
		return nil, nil, fmt.Errorf("list tenants: %w", err)
	}
	statuses, err := r.opts.Store.All(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tenants, statuses, nil
}

// invalidBatch bounds one write of markInvalid: every known tenant gets a status row and a history entry,
// and a fleet's worth in one request would be megabytes.
const invalidBatch = 512

// markInvalid records on every tenant the reconciler knows that the revision was rejected, naming the
// first problems; their databases are untouched and their last applied revision stays. The source goes
// with the first batch: one write for up to invalidBatch tenants.
func (r *Reconciler) markInvalid(ctx context.Context, rev source.Revision, src status.Source, statuses map[string]status.Tenant, issues []bundle.Issue) error {
	var msgs []string
	for i, is := range issues {
		if i == 5 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(issues)-5))
			break
		}
		msgs = append(msgs, config.FormatIssue(is))
	}
	msg := fmt.Sprintf("revision %s is invalid; nothing was applied: %s", rev, strings.Join(msgs, "; "))
	var ups []status.Update
	for _, st := range statuses {
		if st.LastAttemptedRevision == rev.String() && st.Reason == status.ReasonInvalidRevision {
			continue
		}
		st.LastAttemptedRevision = rev.String()
		st.Condition, st.Reason, st.Message, st.Error = status.Stalled, status.ReasonInvalidRevision, msg, ""
		st.UpdatedAt = time.Time{}
		ups = append(ups, status.Update{Status: st, History: &status.HistoryEntry{Revision: rev.String(), Result: "invalid",
			Reason: status.ReasonInvalidRevision, Message: msg}})
	}
	b := status.Batch{Source: &src}
	for {
		n := min(len(ups), invalidBatch)
		b.Updates = ups[:n]
		if err := r.opts.Store.Write(ctx, b); err != nil {
			return err
		}
		for _, u := range b.Updates {
			statuses[u.Status.TenantID] = u.Status
		}
		ups = ups[n:]
		if len(ups) == 0 {
			break
		}
		b.Source = nil
	}
	r.observeConditions(statuses)
	return nil
}

func (r *Reconciler) observeConditions(all map[string]status.Tenant) {
	r.m.TenantsByCond.Reset()
	drifted := 0
	for _, st := range all {
		r.m.TenantsByCond.WithLabelValues(st.Condition, st.Reason).Inc()
		if st.Drifted {
			drifted++
		}
	}
	r.m.Drifted.Set(float64(drifted))
}

// execution is one rollout of one revision.
type execution struct {
	r        *Reconciler
	rev      source.Revision
	cfg      *config.Config
	statuses map[string]status.Tenant
	rollout  *status.Rollout
	rec      *recorder

	mu       sync.Mutex
	held     map[string]bool // tenants this rollout leased and has not recorded yet: what the heartbeat renews
	failures atomic.Int64
	halted   atomic.Bool
	haltMsg  string
	wave     string
}

func (ex *execution) sourceTag() string { return "reconcile@" + ex.rev.String() }

// stop reports whether the failure policy forbids starting another tenant.
func (ex *execution) stop() bool {
	if ex.halted.Load() {
		return true
	}
	f := ex.failures.Load()
	switch ex.cfg.FailurePolicy.Mode {
	case config.FailureContinue:
		return false
	case config.FailureStopAfter:
		return f >= int64(ex.cfg.FailurePolicy.MaxFailures)
	default:
		return f > 0
	}
}

// leaseGroup is how many tenants one control-plane request prepares (opens, or leases): as many as can run
// at once, so a remote rollout at concurrency 64 pays one request per 64 tenants; at least 8, so a serial
// wave does not pay one per tenant.
func leaseGroup(limit int) int { return max(limit, 8) }

// inGroups hands items to each in order, after prepare ran for the group of size items they belong to —
// one control-plane request per group. The next group is prepared in the background once half of the
// current one is handed out, so the workers downstream never wait for that request at a group boundary
// (there is no barrier: a group is not waited for, only prepared), while nothing is prepared more than a
// group and a half ahead of its use (leases are taken just before their tenants start). Once skip
// reports true no further group is prepared, and each gets the zero value for the rest.
func inGroups[T any](items []*Desired, size int, prepare func([]*Desired) T, skip func() bool, each func(*Desired, T)) {
	var groups [][]*Desired
	for len(items) > 0 {
		n := min(size, len(items))
		groups = append(groups, items[:n])
		items = items[n:]
	}
	start := func(g []*Desired) <-chan T {
		ch := make(chan T, 1)
		go func() { ch <- prepare(g) }()
		return ch
	}
	var next <-chan T
	if len(groups) > 0 && !skip() {
		next = start(groups[0])
	}
	for i, g := range groups {
		var v T
		if next != nil {
			v = <-next
			next = nil
		}
		for j, d := range g {
			if j == len(g)/2 && i+1 < len(groups) && !skip() {
				next = start(groups[i+1])
			}
			each(d, v)
		}
	}
}

func (ex *execution) run(ctx context.Context, waves []Wave, need map[string]bool, sum *Summary) {
	r := ex.r
	todo := make([][]*Desired, len(waves))
	var all []*Desired
	for i, w := range waves {
		for _, d := range w.Members {
			if need[d.Tenant.ID] && ex.rollout.Tasks[d.Tenant.ID] != status.TaskApplied {
				todo[i] = append(todo[i], d) // TaskApplied: a resumed rollout finished this tenant before the restart
			}
		}
		all = append(all, todo[i]...)
	}
	ex.notifyStarted(waves, todo, sum.Resumed)

	// Phase 1: plan every tenant (dry run, read-only), so refusals are known before anything is applied.
	// A continuous pool: a tenant starts as soon as any earlier one finishes. Handles are opened a group at
	// a time (one registry read per group instead of one per tenant).
	planStart := time.Now()
	plans := make(map[string]*tenantPlan, len(all))
	var pmu sync.Mutex
	var g errgroup.Group
	g.SetLimit(r.opts.Concurrency)
	inGroups(all, leaseGroup(r.opts.Concurrency), func(ds []*Desired) struct{} {
		ex.warm(ctx, ds)
		return struct{}{}
	}, func() bool { return ctx.Err() != nil }, func(d *Desired, _ struct{}) {
		g.Go(func() error {
			tp := r.planTenant(ctx, d)
			pmu.Lock()
			plans[d.Tenant.ID] = tp
			pmu.Unlock()
			return nil
		})
	})
	_ = g.Wait()
	r.log.Debug("planned tenants", "count", len(plans), "durationMs", time.Since(planStart).Milliseconds())

	// Phase 2: apply wave by wave.
	var results []TenantResult
	var resMu sync.Mutex
	add := func(res TenantResult) {
		resMu.Lock()
		results = append(results, res)
		resMu.Unlock()
		ex.notifyTenant(res)
		if r.opts.OnTenant != nil {
			r.opts.OnTenant(res)
		}
	}
	last := -1
	for i := range waves {
		if len(todo[i]) > 0 {
			last = i
		}
	}
	var haltedWaves []notify.WaveInfo // waves the failure policy (or shutdown) stopped before they began
	for i, w := range waves {
		if len(todo[i]) == 0 {
			continue
		}
		notRun := ex.stop() || ctx.Err() != nil
		if notRun {
			haltedWaves = append(haltedWaves, notify.WaveInfo{Name: w.Name, Tenants: len(todo[i])})
		} else {
			ex.notifyWaveStarted(w, len(todo[i]))
		}
		ex.mu.Lock()
		moved := ex.wave != w.Name
		ex.wave = w.Name
		ex.mu.Unlock()
		if moved {
			ex.rec.setRollout(status.RolloutState{ID: ex.rollout.ID, State: status.RolloutRunning, Wave: w.Name})
		}
		ex.runWave(ctx, w, todo[i], plans, add)
		if !notRun {
			resMu.Lock()
			ex.notifyWaveFinished(w, results)
			resMu.Unlock()
		}
		if ex.stop() {
			ex.halted.Store(true)
		}
		// Wave end: what the wave did is written before the next wave starts (the last wave's outcomes go
		// with the rollout's final state, in reconcile).
		if i != last {
			if err := ex.rec.flush(ctx, nil); err != nil {
				r.log.Error("record status", "wave", w.Name, "error", err)
			}
		}
	}
	if len(haltedWaves) > 0 {
		ex.mu.Lock()
		why := ex.haltMsg
		ex.mu.Unlock()
		if why == "" && ctx.Err() != nil {
			why = "the reconciler is stopping"
		}
		ex.notifyHalted(haltedWaves, why)
	}
	for _, res := range results {
		switch res.Outcome {
		case OutcomeApplied:
			sum.Applied++
		case OutcomeUpToDate:
			sum.UpToDate++
		case OutcomeFailed:
			sum.Failed++
		case OutcomeRefused:
			sum.Refused++
		case OutcomeHalted:
			sum.Halted++
		case OutcomeLeased:
			sum.Leased++
		}
		sum.Pruned += len(res.Pruned)
	}
	sum.Results = results
}

// runWave applies one wave's tenants with a continuous pool of workers: each worker takes the next leased
// tenant as soon as it finishes one, so a slow tenant holds up only its own worker. Leases are taken a
// group at a time just before the group's tenants are handed out (one control-plane request per group),
// and each is released by the status write that records its tenant's outcome.
func (ex *execution) runWave(ctx context.Context, w Wave, todo []*Desired, plans map[string]*tenantPlan, add func(TenantResult)) {
	r := ex.r
	limit := r.opts.Concurrency
	if w.MaxParallel > 0 && w.MaxParallel < limit {
		limit = w.MaxParallel
	}
	halt := func(d *Desired) {
		ex.recordHalted(ctx, d, w.Name)
		add(TenantResult{TenantID: d.Tenant.ID, Wave: w.Name, Outcome: OutcomeHalted})
	}
	work := make(chan *Desired)
	var wg sync.WaitGroup
	for range min(limit, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				// Checked again here: the failure policy may have stopped the rollout while d waited.
				if ex.stop() || ctx.Err() != nil {
					halt(d)
					continue
				}
				res := ex.applyTenant(ctx, plans[d.Tenant.ID], w.Name)
				if res.Outcome == OutcomeFailed || res.Outcome == OutcomeRefused {
					ex.failures.Add(1)
					if ex.stop() {
						ex.mu.Lock()
						if ex.haltMsg == "" {
							ex.haltMsg = fmt.Sprintf("rollout halted in wave %q after tenant %s failed (failurePolicy %s)", w.Name, d.Tenant.ID, ex.cfg.FailurePolicy.Mode)
						}
						ex.mu.Unlock()
					}
				}
				add(res)
			}
		}()
	}
	stopped := func() bool { return ex.stop() || ctx.Err() != nil }
	inGroups(todo, leaseGroup(limit), func(ds []*Desired) map[string]bool {
		return ex.lease(ctx, ds)
	}, stopped, func(d *Desired, leased map[string]bool) {
		switch {
		case stopped():
			halt(d)
		case !leased[d.Tenant.ID]:
			add(TenantResult{TenantID: d.Tenant.ID, Wave: w.Name, Outcome: OutcomeLeased})
		default:
			select {
			case work <- d:
			case <-ctx.Done():
				halt(d)
			}
		}
	})
	close(work)
	wg.Wait()
}

// lease takes the leases of a group of tenants in one control-plane request and makes sure the handles of
// those it got are open (a registry read only for handles the cache lost since planning).
func (ex *execution) lease(ctx context.Context, ds []*Desired) map[string]bool {
	r := ex.r
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Tenant.ID
	}
	leased, err := r.opts.Store.AcquireLeases(ctx, r.opts.Holder, ids, r.opts.LeaseTTL)
	if err != nil {
		// Nothing is applied without a lease: these tenants are reported held and retried next time.
		r.log.Error("acquire leases", "tenants", len(ids), "error", err)
		return map[string]bool{}
	}
	var got []*Desired
	ex.mu.Lock()
	for _, d := range ds {
		if leased[d.Tenant.ID] {
			got = append(got, d)
			ex.held[d.Tenant.ID] = true
		}
	}
	ex.mu.Unlock()
	ex.warm(ctx, got)
	return leased
}

// warm opens the handles of a group of tenants with one registry read; on failure each tenant's own open
// reads (and reports) on its own.
func (ex *execution) warm(ctx context.Context, ds []*Desired) {
	if len(ds) == 0 {
		return
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Tenant.ID
	}
	if err := ex.r.opts.Tenants.Warm(ctx, ids); err != nil {
		ex.r.log.Warn("open tenant databases", "tenants", len(ids), "error", err)
	}
}

// heartbeat renews, every LeaseTTL/3, the leases this rollout holds — ONE control-plane request for all
// of them, however many tenants are in flight — so a replica keeps its tenants while it works (a table
// rebuild may take longer than a TTL) and loses them within one TTL of dying. The returned stop waits
// for a renewal in flight to end.
func (ex *execution) heartbeat(ctx context.Context) (stop func()) {
	r := ex.r
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(r.opts.LeaseTTL/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ex.mu.Lock()
			ids := make([]string, 0, len(ex.held))
			for id := range ex.held {
				ids = append(ids, id)
			}
			ex.mu.Unlock()
			rctx, rcancel := context.WithTimeout(ctx, r.opts.LeaseTTL)
			n, err := r.opts.Store.RenewLeases(rctx, r.opts.Holder, ids, r.opts.LeaseTTL)
			rcancel()
			switch {
			case err != nil && ctx.Err() == nil:
				// The next beat tries again; the engine's stale-plan guard keeps a tenant another replica
				// took over meanwhile from being migrated twice.
				r.log.Warn("renew leases", "tenants", len(ids), "error", err)
			case err == nil && n < int64(len(ids)):
				r.log.Warn("leases lost to another replica (they had expired)", "held", len(ids), "renewed", n)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// released forgets the leases a control-plane write released (with the outcomes it recorded).
func (ex *execution) released(ids []string) {
	ex.mu.Lock()
	for _, id := range ids {
		delete(ex.held, id)
	}
	ex.mu.Unlock()
}
