package reconciler

import (
	"context"
	"fmt"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// unitPlan is the dry-run result of one unit in one tenant.
type unitPlan struct {
	unit    Unit
	plan    *schema.Plan      // bundles
	install *apps.InstallPlan // apps
}

func (u unitPlan) statements() int {
	switch {
	case u.plan != nil:
		return len(u.plan.Migration.Statements)
	case u.install != nil && u.install.Schema != nil:
		return len(u.install.Schema.Migration.Statements)
	}
	return 0
}

func (u unitPlan) noop() bool {
	if u.plan != nil {
		return u.plan.UpToDate
	}
	return u.install != nil && u.install.Action == apps.ActionNone
}

// tenantPlan is the dry run of one tenant.
type tenantPlan struct {
	d       *Desired
	units   []unitPlan
	outcome string // "" when the plan is good, else OutcomeFailed / OutcomeRefused
	err     string
	refused []string
	prune   []pruneStep // one per orphan, after the units
}

func installOptions(u Unit, tn tenant.Tenant, allow []schema.DestructiveKind, src string) apps.InstallOptions {
	// AllowDowngrade: the repository is the source of truth, and reverting a commit is how GitOps rolls an
	// app back; destructive schema changes of the downgrade are still gated by allowDestructive.
	return apps.InstallOptions{ConfigOverrides: u.AppRef.ConfigOverrides, SkipSeedData: u.AppRef.SkipSeedData, Allow: allow, AllowDowngrade: true,
		Limits: apps.Limits{MaxObjects: tn.Quotas.MaxObjects, MaxRecordsPerObject: tn.Quotas.MaxRecordsPerObject}, Source: src}
}

// planTenant is the dry run of one tenant: every unit planned against the live database, destructive
// changes checked against the allowances, app compatibility checked.
func (r *Reconciler) planTenant(ctx context.Context, d *Desired) *tenantPlan {
	tp := &tenantPlan{d: d}
	id := d.Tenant.ID
	db, err := r.opts.Tenants.DB(ctx, id)
	if err != nil {
		tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("open tenant %s: %v", id, err)
		return tp
	}
	earlier := map[string]bool{}
	for _, u := range d.Units {
		up := unitPlan{unit: u}
		if u.Bundle != nil {
			p, err := schema.PlanOwner(ctx, db, u.Owner, u.Bundle.Objects, schema.PlanOptions{})
			if err != nil {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan %s: %v", u.Owner, err)
				return tp
			}
			up.plan = p
			if err := p.CheckAllowed(u.Allow); err != nil {
				tp.outcome, tp.err = OutcomeRefused, fmt.Sprintf("%s: %v", u.Owner, err)
				for _, dc := range p.Destructive {
					tp.refused = append(tp.refused, fmt.Sprintf("%s %s: %s", dc.Kind, destructiveTarget(dc), dc.Message))
				}
			}
		} else {
			ip, err := apps.PlanInstall(ctx, db, u.App, installOptions(u, d.Tenant, u.Allow, ""))
			if err != nil {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan %s: %v", u.Owner, err)
				return tp
			}
			up.install = ip
			var problems []string
			for _, is := range ip.Check.Issues {
				if is.Severity != "error" {
					continue
				}
				if is.Category == apps.CategoryDependencyMissing && depsEarlier(u.App, earlier) {
					continue // installed by an earlier unit of this same tenant before this one runs
				}
				problems = append(problems, is.Message)
			}
			if len(problems) > 0 {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("%s is not compatible: %s", u.Owner, strings.Join(problems, "; "))
				return tp
			}
			if ip.Schema != nil {
				if err := ip.Schema.CheckAllowed(u.Allow); err != nil {
					tp.outcome, tp.err = OutcomeRefused, fmt.Sprintf("%s: %v", u.Owner, err)
					for _, dc := range ip.Schema.Destructive {
						tp.refused = append(tp.refused, fmt.Sprintf("%s %s: %s", dc.Kind, destructiveTarget(dc), dc.Message))
					}
				}
			}
			earlier[u.Name] = true
		}
		tp.units = append(tp.units, up)
	}
	if len(d.Orphans) > 0 {
		steps, refused, err := planPrune(ctx, db, d)
		if err != nil {
			tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan prune: %v", err)
			return tp
		}
		tp.prune = steps
		if len(refused) > 0 {
			tp.outcome, tp.refused = OutcomeRefused, append(tp.refused, refused...)
			if tp.err == "" {
				tp.err = strings.Join(refused, "; ")
			}
		}
	}
	return tp
}

func depsEarlier(a *apps.App, earlier map[string]bool) bool {
	for _, d := range a.Manifest.Dependencies {
		if !earlier[d.Name] {
			return false
		}
	}
	return true
}

func destructiveTarget(dc schema.DestructiveChange) string {
	if dc.Field != "" {
		return dc.Object + "." + dc.Field
	}
	return dc.Object
}
