package apps

import (
	"fmt"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// deploymentsTodaySQL counts the deployments that started this UTC day and did not fail (a failed attempt
// changed nothing, so it does not use up the day's deployments). "Today" is the database's clock, date('now'),
// so the read and the batch guard below agree without carrying an argument; started_at is RFC 3339 UTC.
const deploymentsTodaySQL = `SELECT count(*) FROM "_objectstack_deployments" WHERE substr("started_at", 1, 10) = date('now') AND "status" <> 'failed'`

const extraDeploymentsToday = "quota:deployments_today"

// QuotaReads is what QuotaIssues needs from the tenant database, to merge into the one read of it
// (schema.MergeReads): today's deployment count as an Extra statement, and the same count as a guard, so a
// deployment that lands between the read and the batch makes the batch stale instead of going over the quota.
// maxObjects needs nothing more than the registry every read has.
func QuotaReads(lim Limits) schema.ReadOptions {
	ro := schema.ReadOptions{Owners: []schema.Owner{}, Extra: map[string]database.Stmt{}}
	if lim.MaxDeploymentsPerDay != nil {
		ro.Extra[extraDeploymentsToday] = database.Stmt{SQL: deploymentsTodaySQL}
		ro.Guards = []string{deploymentsTodaySQL}
	}
	return ro
}

// QuotaError is a revision refused by a tenant quota; its message carries the protocol's category, as the
// compatibility check's issues do, so every output (CLI, Terraform, the reconciler's status) names it.
type QuotaError struct{ Issues []CompatibilityIssue }

func (e *QuotaError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = fmt.Sprintf("[%s] %s", is.Category, is.Message)
	}
	return strings.Join(parts, "; ")
}

// CheckQuotas reports the quotas a revision breaks (nil when none): read is the tenant as read (with QuotaReads
// merged in), after the State once every plan of the revision is applied (State.After chained), and plans the
// engine plans the revision sends — each one that is not up to date records one deployment. The rule is the
// protocol's: deny when current + requested > limit. A revision that adds no objects (or no deployments) is never
// refused by that quota, so lowering a quota below the usage does not freeze a tenant that only shrinks.
func CheckQuotas(read, after *schema.State, plans []*schema.Plan, lim Limits) error {
	var issues []CompatibilityIssue
	add := func(format string, a ...any) {
		issues = append(issues, CompatibilityIssue{Severity: "error", Category: CategoryQuotaExceeded, Message: fmt.Sprintf(format, a...)})
	}
	if lim.MaxObjects != nil {
		before, err := read.Registered()
		if err != nil {
			return err
		}
		now, err := after.Registered()
		if err != nil {
			return err
		}
		if len(now) > len(before) && int64(len(now)) > *lim.MaxObjects {
			add("the tenant would have %d objects (now %d), over its maxObjects quota of %d", len(now), len(before), *lim.MaxObjects)
		}
	}
	if lim.MaxDeploymentsPerDay != nil {
		requested := 0
		for _, p := range plans {
			if p != nil && !p.UpToDate {
				requested++
			}
		}
		if requested > 0 {
			today, err := deploymentsToday(read)
			if err != nil {
				return err
			}
			if today+int64(requested) > *lim.MaxDeploymentsPerDay {
				add("the tenant has had %d deployment(s) today (UTC) and this change makes %d more, over its maxDeploymentsPerDay quota of %d",
					today, requested, *lim.MaxDeploymentsPerDay)
			}
		}
	}
	if len(issues) == 0 {
		return nil
	}
	return &QuotaError{Issues: issues}
}

// deploymentsToday is the count QuotaReads read with st.
func deploymentsToday(st *schema.State) (int64, error) {
	r, ok := st.Extra(extraDeploymentsToday)
	if !ok {
		return 0, fmt.Errorf("the tenant state was read without its deployment count (apps.QuotaReads)")
	}
	switch {
	case r.Err != nil && strings.Contains(r.Err.Error(), "no such table"):
		return 0, nil // no deployment ever
	case r.Err != nil:
		return 0, fmt.Errorf("count today's deployments: %w", r.Err)
	case len(r.Rows) == 1:
		var n int64
		if err := database.Row(r.Rows[0]).Scan(&n); err != nil {
			return 0, fmt.Errorf("count today's deployments: %w", err)
		}
		return n, nil
	}
	return 0, nil
}

func plannedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and this revision makes %d before it", n)
}
