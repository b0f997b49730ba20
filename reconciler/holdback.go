package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// heldBack is what suspensions and sync windows take out of a reconcile before it starts.
type heldBack struct {
	updates    []status.Update        // suspended tenants' statuses (written with the first write)
	deferred   map[string]windowState // tenants only planned: outside their sync windows
	overridden map[string]bool        // tenants applied although outside their windows (--override-windows)
	nextWindow time.Time              // the earliest opening among deferred tenants
}

// holdBack takes suspended tenants and tenants outside their sync windows out of need, reports them in sum
// and returns what to record. A tenant that already says it is suspended at this revision is not written
// again: a suspended repository polled every minute costs no status writes.
func (r *Reconciler) holdBack(repo *Repository, rev source.Revision, desired []*Desired, need map[string]bool,
	statuses map[string]status.Tenant, sus status.Suspensions, sum *Summary) heldBack {
	hb := heldBack{deferred: map[string]windowState{}, overridden: map[string]bool{}}
	now := r.opts.Now()
	memo := map[string]windowState{}
	for _, d := range desired {
		id := d.Tenant.ID
		if !need[id] {
			continue
		}
		if sp, ok := sus.Of(id); ok {
			delete(need, id)
			sum.Suspended++
			sum.Results = append(sum.Results, TenantResult{TenantID: id, Outcome: OutcomeSuspended, Error: describeSuspension(sp)})
			u := suspendedUpdate(statuses[id], id, rev.String(), sp)
			if st := statuses[id]; st.Reason != u.Status.Reason || st.Message != u.Status.Message || st.LastAttemptedRevision != u.Status.LastAttemptedRevision {
				hb.updates = append(hb.updates, u)
				statuses[id] = u.Status
			}
			continue
		}
		// Tenants covered by the same windows share the answer: the search for the next opening runs
		// once per set of windows, not once per tenant.
		covering := windowsFor(repo.Config, d)
		key := windowKey(repo.Config.SyncWindows, covering)
		ws, ok := memo[key]
		if !ok {
			ws = windowStateAt(covering, now)
			memo[key] = ws
		}
		if ws.open {
			continue
		}
		if r.opts.OverrideWindows {
			hb.overridden[id] = true
			continue
		}
		delete(need, id)
		hb.deferred[id] = ws
		if !ws.next.IsZero() && (hb.nextWindow.IsZero() || ws.next.Before(hb.nextWindow)) {
			hb.nextWindow = ws.next
		}
	}
	if !hb.nextWindow.IsZero() {
		t := hb.nextWindow.UTC()
		sum.NextWindowAt = &t
	}
	r.m.Deferred.Set(float64(len(hb.deferred)))
	if len(hb.deferred) > 0 {
		next := "none scheduled"
		if !hb.nextWindow.IsZero() {
			next = hb.nextWindow.UTC().Format(time.RFC3339)
		}
		r.log.Info("tenants outside their sync windows: planned, not applied", "tenants", len(hb.deferred), "nextWindow", next)
	}
	return hb
}

// setWindowAt makes the loop poll again just after t (zero: no window to wait for).
func (r *Reconciler) setWindowAt(t time.Time) {
	r.mu.Lock()
	r.windowAt = t
	r.mu.Unlock()
}

// recordDeferred reports a tenant outside its sync windows: it was planned (what a refusal or a failed plan
// says is reported as always), not applied. Its status says when the next window opens; no history entry,
// since nothing was attempted — unless the plan itself failed or was refused, which is reported as usual.
func (ex *execution) recordDeferred(ctx context.Context, d *Desired, wave string, tp *tenantPlan) TenantResult {
	ws := ex.deferred[d.Tenant.ID]
	res := TenantResult{TenantID: d.Tenant.ID, Wave: wave, Outcome: OutcomeDeferred}
	if !ws.next.IsZero() {
		t := ws.next.UTC()
		res.NextWindowAt = &t
	}
	st := ex.statuses[d.Tenant.ID]
	st.TenantID = d.Tenant.ID
	st.UpdatedAt = time.Time{}
	msg := windowMessage(ex.rev.String(), ws)
	if tp != nil && tp.outcome != "" {
		// The plan is what the window does not stop: a refusal or a failed plan is reported now.
		res.Error, res.Refused = tp.err, tp.refused
		msg = fmt.Sprintf("%s; its plan: %s", msg, oneLineText(tp.err))
	} else if tp != nil {
		for _, up := range tp.units {
			res.Statements += up.statements()
		}
		msg = fmt.Sprintf("%s (%d statement(s) planned)", msg, res.Statements)
	}
	if st.Reason == status.ReasonOutsideWindow && st.Message == msg && st.LastAttemptedRevision == ex.rev.String() {
		return res // already says so: no write
	}
	st.LastAttemptedRevision = ex.rev.String()
	st.Condition, st.Reason, st.Message = status.Reconciling, status.ReasonOutsideWindow, msg
	if err := ex.rec.add(ctx, status.Update{Status: st}); err != nil {
		ex.r.log.Error("record status", "tenant", d.Tenant.ID, "error", err)
	}
	return res
}

// deferredMessage is the rollout's note about tenants waiting for their windows.
func deferredMessage(sum *Summary) string {
	if sum.NextWindowAt == nil {
		return fmt.Sprintf("%d tenant(s) outside their sync windows (none scheduled to open)", sum.Deferred)
	}
	return fmt.Sprintf("%d tenant(s) outside their sync windows until %s", sum.Deferred, sum.NextWindowAt.Format(time.RFC3339))
}

// overrideNote ends the status message and history entry of a tenant applied outside its sync windows.
const overrideNote = " (outside its sync windows: applied by reconcile --override-windows)"

// windowKey names a set of covering windows by their positions in objectstack.yaml.
func windowKey(all []config.SyncWindow, covering []*config.SyncWindow) string {
	var b strings.Builder
	for _, w := range covering {
		for i := range all {
			if &all[i] == w {
				fmt.Fprintf(&b, "%d,", i)
			}
		}
	}
	return b.String()
}
