package reconciler

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// DriftResult is the drift check of one up-to-date tenant.
type DriftResult struct {
	TenantID   string `json:"tenantId"`
	Drifted    bool   `json:"drifted"`
	Statements int    `json:"statements"` // what re-applying the revision would run
	Healed     bool   `json:"healed"`
	Error      string `json:"error,omitempty"`
}

// DriftReport summarises one drift check.
type DriftReport struct {
	Revision string        `json:"revision"`
	Checked  int           `json:"checked"`
	Drifted  int           `json:"drifted"`
	Healed   int           `json:"healed"`
	Failed   int           `json:"failed"`
	Results  []DriftResult `json:"results,omitempty"`
}

// CheckDrift re-plans every tenant the status store says is at the last valid revision. A plan with
// statements means the database was changed outside the reconciler: it is reported (condition Stalled,
// reason Drifted, the drifted-tenants metric) and, with driftPolicy heal, re-applied. Unlike the regular
// reconcile this opens every up-to-date tenant database, which is why it runs on its own, slower interval.
func (r *Reconciler) CheckDrift(ctx context.Context) (*DriftReport, error) {
	r.mu.Lock()
	repo, rev := r.lastRepo, r.lastRev
	r.mu.Unlock()
	if repo == nil {
		return &DriftReport{}, nil
	}
	tenants, statuses, err := r.readControlPlane(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	_, desired := repo.resolveRun(tenants, statuses)
	var check []*Desired
	for _, d := range desired {
		if st, ok := statuses[d.Tenant.ID]; !d.Untargeted && upToDate(st, ok, d, repo.Config.Prune) {
			check = append(check, d)
		}
	}
	rep := &DriftReport{Revision: rev.String(), Checked: len(check)}
	wasDrifted := map[string]bool{} // drift already known: not notified again on every check
	for _, d := range check {
		if statuses[d.Tenant.ID].Drifted {
			wasDrifted[d.Tenant.ID] = true
		}
	}
	heal := repo.Config.DriftPolicy == config.DriftHeal
	var ids []string
	for _, d := range check {
		ids = append(ids, d.Tenant.ID)
	}
	leased, err := r.opts.Store.AcquireLeases(ctx, r.opts.Holder, ids, r.opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	ex := &execution{r: r, rev: rev, cfg: repo.Config, statuses: statuses, rollout: &status.Rollout{}, rec: newRecorder(ctx, r), held: maps.Clone(leased)}
	// Every checked tenant is leased up front: the heartbeat keeps them while the check runs.
	ex.rec.onReleased = ex.released
	stopBeat := ex.heartbeat(ctx)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for _, d := range check {
		if !leased[d.Tenant.ID] {
			continue
		}
		g.Go(func() error {
			res := r.driftTenant(gctx, ex, d, heal)
			mu.Lock()
			rep.Results = append(rep.Results, res)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	err = ex.rec.close(ctx, nil)
	stopBeat()
	if err != nil {
		return rep, err
	}
	for _, res := range rep.Results {
		if res.Drifted {
			rep.Drifted++
		}
		if res.Healed {
			rep.Healed++
		}
		if res.Error != "" {
			rep.Failed++
		}
	}
	r.observeConditions(ex.rec.merged(statuses))
	r.notifyDrift(repo, rev, rep, wasDrifted)
	r.log.Info("drift check finished", "revision", rep.Revision, "checked", rep.Checked, "drifted", rep.Drifted, "healed", rep.Healed)
	return rep, nil
}

func (r *Reconciler) driftTenant(ctx context.Context, ex *execution, d *Desired, heal bool) DriftResult {
	res := DriftResult{TenantID: d.Tenant.ID}
	st := ex.statuses[d.Tenant.ID]
	now := time.Now()
	st.DriftCheckedAt = &now
	st.UpdatedAt = time.Time{}
	tp := r.planTenant(ctx, d)
	if tp.outcome == OutcomeFailed {
		res.Error = tp.err
		st.Condition, st.Reason, st.Error = status.Stalled, status.ReasonPlanFailed, tp.err
		st.Message = fmt.Sprintf("drift check against %s failed: %s", ex.rev, tp.err)
		_ = ex.rec.add(ctx, status.Update{Status: st, ReleaseHolder: r.opts.Holder})
		return res
	}
	for _, up := range tp.units {
		res.Statements += up.statements()
	}
	res.Drifted = res.Statements > 0
	var hist *status.HistoryEntry
	switch {
	case !res.Drifted:
		if st.Drifted {
			st.Drifted = false
			st.Condition, st.Reason = status.Ready, status.ReasonUpToDate
			st.Message = fmt.Sprintf("no drift from %s", ex.rev)
		}
	case heal && tp.outcome == "":
		out := ex.applyTenant(ctx, tp, "drift")
		// applyTenant recorded the apply; mark it as a heal on top.
		st = ex.statuses[d.Tenant.ID]
		st.DriftCheckedAt = &now
		if out.Outcome == OutcomeApplied || out.Outcome == OutcomeUpToDate {
			res.Healed = true
			st.LastAppliedRevision, st.LastAttemptedRevision, st.Checksum = ex.rev.String(), ex.rev.String(), d.Checksum
			st.Owners = recordedOwners(st.Owners, d, out)
			st.Condition, st.Reason, st.Error, st.Drifted = status.Ready, status.ReasonHealed, "", false
			st.Message = fmt.Sprintf("drift healed: re-applied %s (%d statement(s))", ex.rev, out.Statements)
			hist = &status.HistoryEntry{Revision: ex.rev.String(), Checksum: d.Checksum, Result: "healed", Reason: status.ReasonHealed,
				Message: st.Message, Statements: out.Statements, DurationMs: out.DurationMs}
		} else {
			res.Error = out.Error
			st.Condition, st.Reason, st.Drifted, st.Error = status.Stalled, status.ReasonDrifted, true, out.Error
			st.Message = fmt.Sprintf("drift from %s could not be healed: %s", ex.rev, out.Error)
		}
	default:
		st.Drifted = true
		st.Condition, st.Reason = status.Stalled, status.ReasonDrifted
		why := "driftPolicy is report"
		if heal {
			why = "healing would need destructive changes that are not allowed: " + tp.err
		}
		st.Message = fmt.Sprintf("database differs from %s: re-applying would run %d statement(s); not healed (%s)", ex.rev, res.Statements, why)
		if !ex.statuses[d.Tenant.ID].Drifted {
			hist = &status.HistoryEntry{Revision: ex.rev.String(), Checksum: d.Checksum, Result: "drifted", Reason: status.ReasonDrifted,
				Message: st.Message, Statements: res.Statements}
		}
		r.log.Warn("tenant drifted", "tenant", d.Tenant.ID, "revision", ex.rev.String(), "statements", res.Statements)
	}
	if err := ex.rec.add(ctx, status.Update{Status: st, History: hist, ReleaseHolder: r.opts.Holder}); err != nil {
		res.Error = err.Error()
	}
	return res
}
