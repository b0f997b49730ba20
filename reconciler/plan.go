package reconciler

import (
	"context"
	"database/sql"
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
	prune   []pruneStep   // one per orphan, after the units
	state   *schema.State // the one read every unit was planned from; the apply batch re-checks it
	// preflight holds what the data would break (set with OutcomeFailed by the pre-flight).
	preflight []schema.PreflightFinding
}

func installOptions(u Unit, tn tenant.Tenant, allow []schema.DestructiveKind, src string) apps.InstallOptions {
	// AllowDowngrade: the repository is the source of truth, and reverting a commit is how GitOps rolls an
	// app back; destructive schema changes of the downgrade are still gated by allowDestructive.
	return apps.InstallOptions{ConfigOverrides: u.AppRef.ConfigOverrides, SkipSeedData: u.AppRef.SkipSeedData, Allow: allow, AllowDowngrade: true,
		Limits: limits(tn), Source: src}
}

// limits are the tenant's quotas that a revision's schema, seed data and deployments must respect.
func limits(tn tenant.Tenant) apps.Limits { return tn.Quotas.Limits() }

// readTenant reads everything the units of d need from the tenant database in one round trip.
func readTenant(ctx context.Context, db *sql.DB, d *Desired) (*schema.State, *apps.Tenant, error) {
	ro := schema.ReadOptions{Owners: []schema.Owner{}}
	var list []*apps.App
	opts := map[*apps.App]apps.InstallOptions{}
	for _, u := range d.Units {
		ro.Owners = append(ro.Owners, u.Owner)
		if u.App != nil {
			list = append(list, u.App)
			opts[u.App] = installOptions(u, d.Tenant, u.Allow, "")
		}
	}
	if len(list) > 0 {
		ro = schema.MergeReads(ro, apps.Reads(list, func(a *apps.App) apps.InstallOptions { return opts[a] }))
	}
	// The quotas' usage (today's deployments) comes with the same read: no round trip of its own.
	ro = schema.MergeReads(ro, apps.QuotaReads(limits(d.Tenant)))
	st, err := schema.ReadState(ctx, db, ro)
	if err != nil {
		return nil, nil, err
	}
	if len(list) == 0 {
		return st, nil, nil
	}
	tn, err := apps.NewTenant(st)
	if err != nil {
		return nil, nil, err
	}
	// An upgrade that breaks an installed app's constraint is refused unless this revision installs that app
	// too (a push that moves both): then the dependent's new constraint is what counts.
	for _, a := range list {
		tn.Replacing(a.Manifest.Name)
	}
	return st, tn, nil
}

// planTenant is the dry run of one tenant: one read of its database, then every unit planned against it in
// order — each against the schema the earlier units leave (schema.State.After), so the whole revision can go in
// one batch —, destructive changes checked against the allowances, app compatibility and quotas checked with
// the earlier units counted.
func (r *Reconciler) planTenant(ctx context.Context, d *Desired) *tenantPlan {
	tp := &tenantPlan{d: d}
	id := d.Tenant.ID
	db, err := r.opts.Tenants.DB(ctx, id)
	if err != nil {
		tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("open tenant %s: %v", id, err)
		return tp
	}
	st, tn, err := readTenant(ctx, db, d)
	if err != nil {
		tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan: read tenant %s: %v", id, err)
		return tp
	}
	tp.state = st
	cur := st
	for _, u := range d.Units {
		up := unitPlan{unit: u}
		if u.Bundle != nil {
			p, err := cur.Plan(u.Owner, u.Bundle.Objects)
			if err != nil {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan %s: %v", u.Owner, err)
				return tp
			}
			up.plan = p
			cur = cur.After(p)
			if tn != nil {
				tn.Use(cur)
				tn.Planned(p)
			}
		} else {
			ip, err := tn.PlanInstall(u.App, installOptions(u, d.Tenant, u.Allow, ""))
			if err != nil {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan %s: %v", u.Owner, err)
				return tp
			}
			cur = tn.State()
			up.install = ip
			var problems []string
			for _, is := range ip.Check.Issues {
				if is.Severity == "error" {
					problems = append(problems, fmt.Sprintf("[%s] %s", is.Category, is.Message))
				}
			}
			if len(problems) > 0 {
				tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("%s is not compatible: %s", u.Owner, strings.Join(problems, "; "))
				return tp
			}
		}
		tp.units = append(tp.units, up)
	}
	// Pre-flight: the data the revision's migrations touch (duplicates for a new unique index, NULLs for a field
	// becoming required, values a type change alters, rows a new reference misses), in one more read — none when
	// no migration touches existing rows. A predicted failure fails the tenant here, before any wave starts.
	if err := schema.Preflight(ctx, db, tp.schemaPlans()...); err != nil {
		tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("plan tenant %s: %v", id, err)
		if pe, ok := schema.AsPreflightError(err); ok {
			tp.preflight = pe.Failures
		}
		return tp
	}
	// Destructive changes are judged after the pre-flight: a type change the data shows lossless is none.
	for _, up := range tp.units {
		p := up.plan
		if up.install != nil {
			p = up.install.Schema
		}
		if p == nil {
			continue
		}
		if err := p.CheckAllowed(up.unit.Allow); err != nil {
			tp.outcome, tp.err = OutcomeRefused, fmt.Sprintf("%s: %v", up.unit.Owner, err)
			for _, dc := range p.Destructive {
				tp.refused = append(tp.refused, fmt.Sprintf("%s %s: %s", dc.Kind, destructiveTarget(dc), dc.Message))
			}
		}
	}
	// Quotas of the whole revision: every object it leaves and every deployment it records. An app's own check
	// above already refused one that breaks them on its own; this catches bundles, alone or with apps.
	if tp.outcome == "" {
		if err := apps.CheckQuotas(st, cur, tp.schemaPlans(), limits(d.Tenant)); err != nil {
			tp.outcome, tp.err = OutcomeFailed, fmt.Sprintf("tenant %s: %v", id, err)
			return tp
		}
	}
	// The plans wait for their wave: keep only what the batch needs of the read.
	tp.state = st.Compact()
	for _, up := range tp.units {
		if up.plan != nil {
			up.plan.Compact()
		} else if up.install != nil && up.install.Schema != nil {
			up.install.Schema.Compact()
		}
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

// schemaPlans are the schema plans of the units, in order (an app's may be nil).
func (tp *tenantPlan) schemaPlans() []*schema.Plan {
	var plans []*schema.Plan
	for _, up := range tp.units {
		switch {
		case up.plan != nil:
			plans = append(plans, up.plan)
		case up.install != nil:
			plans = append(plans, up.install.Schema)
		}
	}
	return plans
}

func destructiveTarget(dc schema.DestructiveChange) string {
	if dc.Field != "" {
		return dc.Object + "." + dc.Field
	}
	return dc.Object
}
