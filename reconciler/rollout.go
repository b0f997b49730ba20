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
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// setState remembers whether the loop must retry, and the last valid revision (for drift checks).
func (r *Reconciler) setState(repo *Repository, rev source.Revision, retry bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.needRetry = retry
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
	if err := r.opts.Store.SetSource(ctx, src); err != nil {
		return nil, err
	}
	if !sum.Valid {
		for _, is := range sum.Issues {
			r.log.Error("invalid revision", "revision", sum.Revision, "file", is.File, "line", is.Line, "path", is.Path, "message", is.Message)
		}
		if err := r.markInvalid(ctx, rev, sum.Issues); err != nil {
			return nil, err
		}
		r.setState(repo, rev, false)
		return sum, nil
	}
	tenants, err := r.opts.Tenants.List(ctx, tenant.Filter{})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	statuses, err := r.opts.Store.All(ctx)
	if err != nil {
		return nil, err
	}
	waves, desired := repo.resolveRun(tenants, statuses)
	sum.Unknown = repo.UnknownTenants(tenants)
	if len(sum.Unknown) > 0 {
		r.log.Warn("objectstack.yaml names tenants that are not active", "tenants", sum.Unknown)
	}
	need := map[string]bool{}
	for _, d := range desired {
		if !d.Untargeted {
			sum.Targeted++
		}
		if len(d.Orphans) > 0 {
			sum.WithOrphans++
		}
		st, ok := statuses[d.Tenant.ID]
		if upToDate(st, ok, d, repo.Config.Prune) {
			continue // the fast path: no database opened
		}
		need[d.Tenant.ID] = true
	}
	sum.Skipped = len(desired) - len(need)
	if len(need) == 0 {
		r.observeConditions(statuses)
		r.setState(repo, rev, false)
		return sum, nil
	}
	tasks := map[string]string{}
	for _, w := range waves {
		for _, d := range w.Members {
			if need[d.Tenant.ID] {
				tasks[d.Tenant.ID] = w.Name
			}
		}
	}
	ro, resumed, err := r.opts.Store.StartRollout(ctx, rev.String(), rev.Digest, tasks)
	if err != nil {
		return nil, err
	}
	sum.RolloutID, sum.Resumed = ro.ID, resumed
	if resumed {
		r.log.Info("resuming rollout", "rollout", ro.ID, "revision", ro.Revision, "wave", ro.Wave)
	}
	ex := &execution{r: r, rev: rev, cfg: repo.Config, statuses: statuses, rollout: ro, rec: newRecorder(r.opts.Store)}
	ex.run(ctx, waves, need, sum)
	if err := ex.rec.flush(ctx); err != nil {
		return sum, err
	}
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
	if err := r.opts.Store.UpdateRollout(ctx, ro.ID, state, ex.wave, msg); err != nil {
		return sum, err
	}
	if all, err := r.opts.Store.All(ctx); err == nil {
		r.observeConditions(all)
	}
	r.setState(repo, rev, !sum.OK() || sum.Leased > 0)
	return sum, nil
}

// markInvalid records on every tenant the reconciler knows that the revision was rejected, naming the
// first problems; their databases are untouched and their last applied revision stays.
func (r *Reconciler) markInvalid(ctx context.Context, rev source.Revision, issues []bundle.Issue) error {
	statuses, err := r.opts.Store.All(ctx)
	if err != nil {
		return err
	}
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
	rec := newRecorder(r.opts.Store)
	for _, u := range ups {
		if err := rec.add(ctx, u); err != nil {
			return err
		}
	}
	if err := rec.flush(ctx); err != nil {
		return err
	}
	if len(ups) > 0 {
		if all, err := r.opts.Store.All(ctx); err == nil {
			r.observeConditions(all)
		}
	}
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

func (ex *execution) run(ctx context.Context, waves []Wave, need map[string]bool, sum *Summary) {
	r := ex.r
	// Phase 1: plan every tenant (dry run, read-only), so refusals are known before anything is applied.
	planStart := time.Now()
	plans := map[string]*tenantPlan{}
	var pmu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for _, w := range waves {
		for _, d := range w.Members {
			if !need[d.Tenant.ID] || ex.rollout.Tasks[d.Tenant.ID] == status.TaskApplied {
				continue
			}
			g.Go(func() error {
				tp := r.planTenant(gctx, d)
				pmu.Lock()
				plans[d.Tenant.ID] = tp
				pmu.Unlock()
				return nil
			})
		}
	}
	_ = g.Wait()
	r.log.Debug("planned tenants", "count", len(plans), "durationMs", time.Since(planStart).Milliseconds())

	// Phase 2: apply wave by wave. Leases are taken chunk by chunk just before applying, so replicas
	// sharing the control plane interleave instead of one grabbing every tenant up front.
	var results []TenantResult
	var resMu sync.Mutex
	add := func(res TenantResult) {
		resMu.Lock()
		results = append(results, res)
		resMu.Unlock()
		if r.opts.OnTenant != nil {
			r.opts.OnTenant(res)
		}
	}
	for _, w := range waves {
		ex.mu.Lock()
		ex.wave = w.Name
		ex.mu.Unlock()
		var todo []*Desired
		for _, d := range w.Members {
			if need[d.Tenant.ID] && ex.rollout.Tasks[d.Tenant.ID] != status.TaskApplied {
				todo = append(todo, d) // TaskApplied: a resumed rollout finished this tenant before the restart
			}
		}
		if len(todo) == 0 {
			continue
		}
		_ = r.opts.Store.UpdateRollout(ctx, ex.rollout.ID, status.RolloutRunning, w.Name, "")
		limit := r.opts.Concurrency
		if w.MaxParallel > 0 && w.MaxParallel < limit {
			limit = w.MaxParallel
		}
		chunk := max(2*limit, 8)
		for len(todo) > 0 {
			batch := todo[:min(chunk, len(todo))]
			todo = todo[len(batch):]
			if ex.stop() || ctx.Err() != nil {
				for _, d := range batch {
					ex.recordHalted(ctx, d, w.Name)
					add(TenantResult{TenantID: d.Tenant.ID, Wave: w.Name, Outcome: OutcomeHalted})
				}
				continue
			}
			ids := make([]string, len(batch))
			for i, d := range batch {
				ids[i] = d.Tenant.ID
			}
			leased, err := r.opts.Store.AcquireLeases(ctx, r.opts.Holder, ids, r.opts.LeaseTTL)
			if err != nil {
				r.log.Error("acquire leases", "error", err)
				leased = map[string]bool{}
			}
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(limit)
			for _, d := range batch {
				id := d.Tenant.ID
				if !leased[id] {
					add(TenantResult{TenantID: id, Wave: w.Name, Outcome: OutcomeLeased})
					continue
				}
				g.Go(func() error {
					if ex.stop() || gctx.Err() != nil {
						ex.recordHalted(gctx, d, w.Name)
						add(TenantResult{TenantID: id, Wave: w.Name, Outcome: OutcomeHalted})
						return nil
					}
					res := ex.applyTenant(gctx, plans[id], w.Name)
					if res.Outcome == OutcomeFailed || res.Outcome == OutcomeRefused {
						ex.failures.Add(1)
						if ex.stop() {
							ex.mu.Lock()
							if ex.haltMsg == "" {
								ex.haltMsg = fmt.Sprintf("rollout halted in wave %q after tenant %s failed (failurePolicy %s)", w.Name, id, ex.cfg.FailurePolicy.Mode)
							}
							ex.mu.Unlock()
						}
					}
					add(res)
					return nil
				})
			}
			_ = g.Wait()
			// Flush per chunk: it releases this chunk's leases, so other replicas can take what is left.
			if err := ex.rec.flush(ctx); err != nil {
				r.log.Error("record status", "error", err)
			}
		}
		if ex.stop() {
			ex.halted.Store(true)
		}
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
