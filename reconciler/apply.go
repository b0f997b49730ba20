package reconciler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// applyTenant applies everything the revision gives a tenant — every unit's DDL, registry rows, deployment rows,
// app seeds and registry rows — in ONE transaction sent as one batch, so the tenant ends with all of the revision
// or none of it, and records the outcome. A database that moved since the dry run (another replica, a restart, a
// hand change) is planned again once; if it is now up to date nothing runs, so no tenant is migrated twice.
func (ex *execution) applyTenant(ctx context.Context, tp *tenantPlan, wave string) TenantResult {
	r := ex.r
	start := time.Now()
	d := tp.d
	res := TenantResult{TenantID: d.Tenant.ID, Wave: wave}
	fail := func(outcome, msg string) TenantResult {
		res.Outcome, res.Error = outcome, msg
		res.DurationMs = time.Since(start).Milliseconds()
		ex.recordResult(ctx, d, res)
		return res
	}
	if tp.outcome != "" {
		res.Refused = tp.refused
		return fail(tp.outcome, tp.err)
	}
	db, err := r.opts.Tenants.DB(ctx, d.Tenant.ID)
	if err != nil {
		return fail(OutcomeFailed, fmt.Sprintf("open tenant %s: %v", d.Tenant.ID, err))
	}
	out, err := ex.applyBatch(ctx, db, tp)
	if errors.Is(err, schema.ErrStalePlan) {
		tp = r.planTenant(ctx, d)
		if tp.outcome != "" {
			res.Refused = tp.refused
			return fail(tp.outcome, tp.err)
		}
		out, err = ex.applyBatch(ctx, db, tp)
	}
	if err != nil {
		var de *schema.DestructiveError
		if errors.As(err, &de) {
			return fail(OutcomeRefused, err.Error())
		}
		return fail(OutcomeFailed, err.Error())
	}
	res.Statements, res.DeploymentIDs = out.statements, out.deployments
	// Prune only once every unit is in: a revision that moves objects from a removed bundle into a kept one
	// has adopted them by now, so dropping the removed bundle's tables cannot take them along.
	done, err := ex.prune(ctx, db, tp)
	res.Pruned, res.Orphaned, res.LeftAlone = pruneSummary(done)
	if err != nil {
		return fail(OutcomeFailed, err.Error())
	}
	res.Outcome = OutcomeApplied
	if len(res.DeploymentIDs) == 0 && res.Statements == 0 && len(res.Pruned) == 0 {
		res.Outcome = OutcomeUpToDate
	}
	res.DurationMs = time.Since(start).Milliseconds()
	ex.recordResult(ctx, d, res)
	return res
}

type batchOutcome struct {
	statements  int
	deployments []string
}

// applyBatch stages every unit of tp into one batch and commits it.
func (ex *execution) applyBatch(ctx context.Context, db *sql.DB, tp *tenantPlan) (batchOutcome, error) {
	r := ex.r
	var out batchOutcome
	b := schema.NewBatch(tp.state, r.opts.Holder)
	var staged []*apps.Staged
	var bundles int
	// A destructive revision records its restore point (a snapshot first on the local backend) so that
	// `objectstack tenant restore` can undo it.
	restorePoint := r.opts.Tenants.RestorePointFunc(&tp.d.Tenant)
	for _, up := range tp.units {
		if up.noop() {
			continue
		}
		u := up.unit
		if up.plan != nil {
			opts := schema.ApplyOptions{Allow: u.Allow, Version: u.Version, Source: ex.sourceTag(), Holder: r.opts.Holder,
				RestorePoint: restorePoint}
			if _, err := b.AddPlan(up.plan, opts); err != nil {
				return out, err
			}
			bundles++
			continue
		}
		io := installOptions(u, tp.d.Tenant, u.Allow, ex.sourceTag())
		io.RestorePoint = restorePoint
		s, err := up.install.Stage(b, u.App, io)
		if err != nil {
			return out, fmt.Errorf("install %s: %w", u.Owner, err)
		}
		staged = append(staged, s)
	}
	res, err := b.Commit(ctx, db)
	if err != nil {
		return out, err
	}
	for _, dep := range res.Deployments {
		out.statements += dep.StatementsExecuted
		out.deployments = append(out.deployments, dep.DeploymentID)
	}
	for _, s := range staged {
		if _, err := s.Result(res, nil); err != nil {
			return out, err
		}
	}
	r.m.Applies.WithLabelValues("bundle").Add(float64(bundles))
	r.m.Applies.WithLabelValues("app").Add(float64(len(staged)))
	return out, nil
}

func (ex *execution) recordResult(ctx context.Context, d *Desired, res TenantResult) {
	r := ex.r
	st := ex.statuses[d.Tenant.ID]
	st.TenantID = d.Tenant.ID
	st.LastAttemptedRevision = ex.rev.String()
	st.AttemptedChecksum = d.Checksum
	st.UpdatedAt = time.Time{}
	h := &status.HistoryEntry{Revision: ex.rev.String(), Checksum: d.Checksum, Statements: res.Statements, DurationMs: res.DurationMs}
	task := status.TaskFailed
	switch res.Outcome {
	case OutcomeApplied, OutcomeUpToDate:
		st.LastAppliedRevision = ex.rev.String()
		st.Checksum = d.Checksum
		st.Owners = recordedOwners(ex.statuses[d.Tenant.ID].Owners, d, res)
		st.Condition, st.Reason, st.Error, st.Drifted = status.Ready, status.ReasonApplied, "", false
		st.Message = fmt.Sprintf("applied %s: %d statement(s)", ex.rev, res.Statements)
		if res.Outcome == OutcomeUpToDate {
			st.Reason = status.ReasonUpToDate
			st.Message = fmt.Sprintf("already at %s", ex.rev)
		}
		st.Message += pruneMessage(res)
		h.Result, h.Reason = "applied", st.Reason
		task = status.TaskApplied
		r.log.Info("tenant reconciled", "tenant", d.Tenant.ID, "wave", res.Wave, "revision", ex.rev.String(), "statements", res.Statements, "durationMs", res.DurationMs)
	case OutcomeRefused:
		st.Condition, st.Reason, st.Error = status.Stalled, status.ReasonDestructiveRefused, res.Error
		st.Message = fmt.Sprintf("refused %s: destructive changes need allowDestructive in objectstack.yaml: %s", ex.rev, strings.Join(res.Refused, "; "))
		if strings.HasPrefix(res.Error, "prune ") {
			st.Message = fmt.Sprintf("refused %s: %s", ex.rev, strings.Join(res.Refused, "; "))
		}
		h.Result, h.Reason = "refused", st.Reason
		r.m.Failures.WithLabelValues(st.Reason).Inc()
		r.log.Warn("tenant refused", "tenant", d.Tenant.ID, "revision", ex.rev.String(), "destructive", res.Refused)
	default:
		reason := status.ReasonApplyFailed
		if strings.HasPrefix(res.Error, "plan ") || strings.HasPrefix(res.Error, "open tenant") || strings.Contains(res.Error, "not compatible") {
			reason = status.ReasonPlanFailed
		}
		st.Condition, st.Reason, st.Error = status.Stalled, reason, res.Error
		st.Message = fmt.Sprintf("%s failed: %s", ex.rev, res.Error)
		h.Result, h.Reason = "failed", reason
		r.m.Failures.WithLabelValues(reason).Inc()
		r.log.Error("tenant failed", "tenant", d.Tenant.ID, "revision", ex.rev.String(), "error", res.Error)
	}
	if ex.overridden[d.Tenant.ID] {
		// The emergency path is on the record: the tenant was outside its sync windows.
		st.Message += overrideNote
	}
	h.Message = st.Message
	if err := ex.rec.add(ctx, status.Update{Status: st, History: h, RolloutID: ex.rollout.ID, TaskState: task, ReleaseHolder: r.opts.Holder}); err != nil {
		r.log.Error("record status", "tenant", d.Tenant.ID, "error", err)
	}
}

func (ex *execution) recordHalted(ctx context.Context, d *Desired, wave string) {
	st := ex.statuses[d.Tenant.ID]
	st.TenantID = d.Tenant.ID
	st.UpdatedAt = time.Time{}
	ex.mu.Lock()
	msg := ex.haltMsg
	ex.mu.Unlock()
	if msg == "" {
		msg = "rollout halted by the failure policy"
	}
	st.Condition, st.Reason = status.Stalled, status.ReasonHalted
	st.Message = fmt.Sprintf("%s was not applied to this tenant (wave %q): %s", ex.rev, wave, msg)
	if err := ex.rec.add(ctx, status.Update{Status: st, RolloutID: ex.rollout.ID, TaskState: status.TaskSkipped, ReleaseHolder: ex.r.opts.Holder}); err != nil {
		ex.r.log.Error("record status", "tenant", d.Tenant.ID, "error", err)
	}
}

// pruneMessage is the prune part of a status message (and so of the history entry).
func pruneMessage(res TenantResult) string {
	var b strings.Builder
	if len(res.Pruned) > 0 {
		fmt.Fprintf(&b, "; pruned %s", strings.Join(res.Pruned, ", "))
	}
	if len(res.Orphaned) > 0 {
		fmt.Fprintf(&b, "; orphaned (prune disabled): %s", strings.Join(res.Orphaned, ", "))
	}
	if len(res.LeftAlone) > 0 {
		fmt.Fprintf(&b, "; no longer targeted but not deployed by the reconciler, left alone: %s", strings.Join(res.LeftAlone, ", "))
	}
	return b.String()
}

// recordedOwners is what the status store records as applied by the reconciler after res: d's units plus
// the orphans kept because prune is off, so turning prune on later still finds them. Pruned owners and
// those another tool deployed last are forgotten.
func recordedOwners(prev map[string]string, d *Desired, res TenantResult) map[string]string {
	owners := d.Owners()
	for _, o := range res.Orphaned {
		owners[o] = prev[o]
	}
	return owners
}
