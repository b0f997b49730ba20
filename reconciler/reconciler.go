// Package reconciler is the GitOps reconciler: it watches a Git repository of metadata bundles and apps
// (reconciler/source), validates every revision as a whole, and converges each targeted tenant database
// through the engine with a two-phase fan-out (plan every tenant, then apply wave by wave with bounded
// concurrency), recording status, rollouts and leases in the control plane (reconciler/status), exposing
// /status, /healthz, /readyz, /metrics and webhook receivers over HTTP, and reporting (or healing) drift.
package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/metrics"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/webhook"
)

// Options configure a Reconciler.
type Options struct {
	Tenants *tenant.Service
	Store   *status.Store
	Source  *source.Source // nil when revisions are handed in directly (tests, plan --repo)
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Concurrency bounds how many tenant databases are planned or migrated at once; a wave's maxParallel
	// lowers it for that wave. Default DefaultConcurrency of the tenants' platform: 64 on Turso, where a
	// tenant's work is WAN round trips and waiting is what a worker mostly does; 4 for local files, where it
	// is CPU and disk.
	Concurrency int
	// FlushEvery is how many tenant outcomes make one control-plane write (default DefaultFlushEvery).
	FlushEvery int
	// FlushInterval is the longest an outcome waits for its write (default DefaultFlushInterval; negative:
	// only every FlushEvery outcomes and at wave end, which makes control-plane request counts exact).
	FlushInterval time.Duration
	// Interval is the polling backstop (default 1m, jittered ±10%).
	Interval time.Duration
	// DriftInterval is how often up-to-date tenants are re-planned to detect changes made by hand (default
	// 10m; negative disables). Drift checks open tenant databases; the regular fast path never does.
	DriftInterval time.Duration
	// Holder identifies this replica in leases and the engine's migration lock (default host-pid-random).
	Holder string
	// LeaseTTL bounds how long a crashed replica keeps its tenants (default DefaultLeaseTTL). A replica at
	// work renews its leases every LeaseTTL/3 (one request for all of them), so a short TTL costs a few
	// requests, not a lost lease; a survivor takes a dead replica's tenants over within about one TTL.
	LeaseTTL time.Duration
	// Settle is the quiet period that coalesces webhook bursts into one reconcile (default 1s).
	Settle time.Duration
	// OnTenant, if set, is called after each tenant's outcome is decided (tests use it to crash mid-rollout).
	OnTenant func(TenantResult)
	// Notify tunes the delivery of the notifications objectstack.yaml configures (queue size, attempts,
	// timeouts); zero values take notify's defaults, and the logger and metrics are the reconciler's.
	Notify notify.Options
	// NotifyDrain bounds how long Run, when its context ends, waits for queued notifications (default
	// DefaultNotifyDrain).
	NotifyDrain time.Duration
}

// DefaultLeaseTTL is the default LeaseTTL: short, because a replica at work renews its leases by
// heartbeat and a dead one should not keep its tenants long.
const DefaultLeaseTTL = 30 * time.Second

// DefaultConcurrency is the default number of tenants in flight for a platform kind ("local", "turso").
func DefaultConcurrency(platformKind string) int {
	if platformKind == "turso" {
		return 64
	}
	return 4
}

// Reconciler converges tenants to repository revisions.
type Reconciler struct {
	opts    Options
	log     *slog.Logger
	m       *metrics.Metrics
	trigger *webhook.Trigger
	notify  *notify.Notifier
	ready   atomic.Bool

	mu        sync.Mutex
	last      *Summary // last reconcile
	lastRepo  *Repository
	lastRev   source.Revision
	needRetry bool
	// leaseWait: the last reconcile found tenants held by another replica (and nothing else to retry);
	// the next try comes after about half a lease TTL, when a dead holder's leases have run out, however
	// long the poll interval is.
	leaseWait bool
	backoff   time.Duration
}

// New validates the options and fills in defaults.
func New(opts Options) (*Reconciler, error) {
	if opts.Tenants == nil || opts.Store == nil {
		return nil, errors.New("reconciler: Tenants and Store are required")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency(opts.Tenants.Platform().Kind())
	}
	if opts.Tenants.Platform().Kind() == "turso" || opts.Store.Remote() {
		// Every tenant in flight keeps a request open to the same host (a Turso edge, the dev server);
		// a keep-alive pool smaller than that closes and re-dials connections on every request. A few
		// more for the control plane's writes and the next group's leases.
		database.SetMaxConnsPerHost(opts.Concurrency + 4)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.DriftInterval == 0 {
		opts.DriftInterval = 10 * time.Minute
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.Settle == 0 {
		opts.Settle = time.Second
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.NotifyDrain <= 0 {
		opts.NotifyDrain = DefaultNotifyDrain
	}
	r := &Reconciler{opts: opts, log: opts.Logger, m: opts.Metrics, trigger: webhook.NewTrigger(opts.Settle)}
	r.notify = newNotifier(opts.Notify, r)
	return r, nil
}

// Holder is this replica's lease holder id.
func (r *Reconciler) Holder() string { return r.opts.Holder }

// Metrics returns the instruments.
func (r *Reconciler) Metrics() *metrics.Metrics { return r.m }

// Wake asks for a reconcile soon; bursts coalesce. It never blocks (webhooks call it).
func (r *Reconciler) Wake() { r.trigger.Wake() }

// Ready reports whether the source has been fetched successfully at least once.
func (r *Reconciler) Ready() bool { return r.ready.Load() }

// Last returns the summary of the last reconcile (nil before the first).
func (r *Reconciler) Last() *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Once fetches the source and reconciles the revision it resolves (even when it has not moved).
func (r *Reconciler) Once(ctx context.Context) (*Summary, error) {
	return r.tick(ctx, true)
}

// tick fetches the source; it reconciles when the revision moved, when force is set, or when the last
// reconcile left failures to retry.
func (r *Reconciler) tick(ctx context.Context, force bool) (*Summary, error) {
	if r.opts.Source == nil {
		return nil, errors.New("reconciler: no source configured")
	}
	rev, changed, err := r.opts.Source.Fetch(ctx)
	if err != nil {
		r.m.Fetches.WithLabelValues("error").Inc()
		r.log.Error("source fetch failed", "repo", r.opts.Source.Redacted(), "error", err)
		_ = r.opts.Store.SetSource(ctx, status.Source{Repo: r.opts.Source.Redacted(), Error: err.Error(), Revision: r.lastRev.String(), Valid: false})
		return nil, err
	}
	r.ready.Store(true)
	if changed {
		r.m.Fetches.WithLabelValues("changed").Inc()
		r.log.Info("new revision", "revision", rev.String(), "digest", rev.Digest)
	} else {
		r.m.Fetches.WithLabelValues("unchanged").Inc()
	}
	r.mu.Lock()
	retry := r.needRetry
	r.mu.Unlock()
	if !changed && !force && !retry {
		return r.Last(), nil
	}
	return r.ReconcileRevision(ctx, rev)
}

// Run reconciles until ctx ends: at start, on every (jittered) interval, and when woken by a webhook.
// Drift checks run on their own, slower interval.
func (r *Reconciler) Run(ctx context.Context) error {
	defer func() {
		// Queued notifications get a bounded drain: a hanging receiver must not hold up shutdown.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.NotifyDrain)
		defer cancel()
		if err := r.Close(dctx); err != nil {
			r.log.Warn("notifications", "error", err)
		}
	}()
	_, err := r.tick(ctx, true)
	poll := time.NewTimer(r.nextPoll(err))
	defer poll.Stop()
	var driftC <-chan time.Time // nil (never fires) when drift checks are disabled
	var drift *time.Timer
	if r.opts.DriftInterval > 0 {
		drift = time.NewTimer(source.Jitter(r.opts.DriftInterval))
		defer drift.Stop()
		driftC = drift.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.trigger.C():
			r.trigger.Drain(ctx)
			_, err := r.tick(ctx, false)
			poll.Reset(r.nextPoll(err))
		case <-poll.C:
			_, err := r.tick(ctx, false)
			poll.Reset(r.nextPoll(err))
		case <-driftC:
			if _, err := r.CheckDrift(ctx); err != nil {
				r.log.Error("drift check failed", "error", err)
			}
			drift.Reset(source.Jitter(r.opts.DriftInterval))
		}
	}
}

// nextPoll is the (jittered) delay before the next poll: the interval normally, and an exponential backoff
// from 5s up to the interval while fetches or reconciles keep failing, so a transient error (a remote
// hiccup, a locked tenant) is retried soon without hammering anything.
func (r *Reconciler) nextPoll(err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && !r.needRetry {
		r.backoff = 0
		return source.Jitter(r.opts.Interval)
	}
	if err == nil && r.leaseWait {
		r.backoff = 0
		return source.Jitter(min(r.opts.Interval, max(r.opts.LeaseTTL/2, 500*time.Millisecond)))
	}
	if r.backoff == 0 {
		r.backoff = 5 * time.Second
	} else {
		r.backoff *= 2
	}
	r.backoff = min(r.backoff, r.opts.Interval)
	return source.Jitter(r.backoff)
}
