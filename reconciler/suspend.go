package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// Suspension (`objectstack suspend` / `resume`) lives in the control plane (status.Suspension), so every
// replica honours it. A replica reads it with the tenant registry at the start of a reconcile (the same
// request), again with every group of leases it takes (the same request: a suspended tenant is never
// leased), and with each lease heartbeat. A tenant already started finishes; no new one starts. A
// suspended tenant is skipped and reported — Reconciling/Suspended, outcome "suspended" — never failed,
// and the loop keeps polling so that a resume is picked up without a new commit.

// setSuspensions replaces the suspensions this rollout knows of (from a lease group or a heartbeat).
func (ex *execution) setSuspensions(s status.Suspensions) {
	if s == nil {
		return
	}
	ex.mu.Lock()
	ex.sus = s
	ex.mu.Unlock()
	ex.r.observeSuspensions(s)
}

// suspension is the suspension stopping tenant id, if this rollout knows of one.
func (ex *execution) suspension(id string) (status.Suspension, bool) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.sus.Of(id)
}

// suspendedUpdate is the status of a tenant skipped because it is suspended: Reconciling (its change is
// still to come), reason Suspended, with who suspended it and why. No history entry: nothing was tried.
func suspendedUpdate(st status.Tenant, id, rev string, sp status.Suspension) status.Update {
	st.TenantID = id
	st.LastAttemptedRevision = rev
	st.Condition, st.Reason, st.Error = status.Reconciling, status.ReasonSuspended, ""
	st.Message = fmt.Sprintf("%s not applied: %s", rev, describeSuspension(sp))
	st.UpdatedAt = time.Time{}
	return status.Update{Status: st}
}

func describeSuspension(sp status.Suspension) string {
	what := "tenant suspended"
	if sp.Scope == status.SuspendAll {
		what = "repository suspended"
	}
	if sp.By != "" {
		what += " by " + sp.By
	}
	if !sp.At.IsZero() {
		what += " at " + sp.At.UTC().Format(time.RFC3339)
	}
	if sp.Reason != "" {
		what += ": " + sp.Reason
	}
	return what + " (objectstack resume lifts it)"
}

// recordSuspended reports a tenant of this rollout that a suspension stopped before it started; its lease,
// if this replica took one, goes with the status write.
func (ex *execution) recordSuspended(ctx context.Context, d *Desired, wave string, sp status.Suspension) TenantResult {
	u := suspendedUpdate(ex.statuses[d.Tenant.ID], d.Tenant.ID, ex.rev.String(), sp)
	u.ReleaseHolder = ex.r.opts.Holder
	if err := ex.rec.add(ctx, u); err != nil {
		ex.r.log.Error("record status", "tenant", d.Tenant.ID, "error", err)
	}
	ex.r.log.Info("tenant suspended: skipped", "tenant", d.Tenant.ID, "wave", wave, "scope", sp.Scope, "reason", sp.Reason)
	return TenantResult{TenantID: d.Tenant.ID, Wave: wave, Outcome: OutcomeSuspended, Error: describeSuspension(sp)}
}

// observeSuspensions sets the suspension gauges.
func (r *Reconciler) observeSuspensions(s status.Suspensions) {
	all := 0.0
	if _, ok := s.All(); ok {
		all = 1
	}
	tenants := len(s)
	if all == 1 {
		tenants--
	}
	r.m.Suspended.WithLabelValues("repository").Set(all)
	r.m.Suspended.WithLabelValues("tenant").Set(float64(tenants))
}
