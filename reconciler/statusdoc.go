package reconciler

import (
	"context"
	"fmt"
	"sort"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// ReadStatus assembles the status document from the control plane (used by /status and `objectstack status`).
func ReadStatus(ctx context.Context, st *status.Store) (*StatusDocument, error) {
	doc := &StatusDocument{Tenants: []status.Tenant{}, Sources: []status.Source{}, Leases: []status.Lease{}, Suspensions: []status.Suspension{}}
	o, err := st.Overview(ctx) // one request: sources, latest rollout and every tenant from one snapshot
	if err != nil {
		return nil, err
	}
	if o.Sources != nil {
		doc.Sources = o.Sources
	}
	doc.Rollout = o.Rollout
	doc.Leases = o.Leases
	doc.Suspensions = o.Suspensions
	if len(o.Tenants) > 0 {
		doc.Tenants = o.Tenants
	}
	// While a rollout runs, its pending tenants are Reconciling. This is derived rather than written so a
	// rollout does not pay a control-plane write per tenant before it starts.
	if ro := doc.Rollout; ro != nil && ro.State == status.RolloutRunning {
		seen := map[string]bool{}
		for i := range doc.Tenants {
			t := &doc.Tenants[i]
			seen[t.TenantID] = true
			if ro.Tasks[t.TenantID] == status.TaskPending {
				t.Condition, t.Reason = status.Reconciling, status.ReasonProgressing
				t.Message = fmt.Sprintf("rollout of %s in progress (wave %s)", ro.Revision, ro.Wave)
			}
		}
		for id, state := range ro.Tasks {
			if state == status.TaskPending && !seen[id] {
				doc.Tenants = append(doc.Tenants, status.Tenant{TenantID: id, Condition: status.Reconciling, Reason: status.ReasonProgressing,
					LastAttemptedRevision: ro.Revision, Message: fmt.Sprintf("rollout of %s in progress (wave %s)", ro.Revision, ro.Wave)})
			}
		}
		sort.Slice(doc.Tenants, func(i, j int) bool { return doc.Tenants[i].TenantID < doc.Tenants[j].TenantID })
	}
	return doc, nil
}
