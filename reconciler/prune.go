package reconciler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// Prune actions: what happens to an orphan, an owner the reconciler applied to a tenant that the
// repository no longer targets there.
const (
	PruneDetach    = "detach"    // bundle: registry rows removed, tables and rows kept
	PruneDrop      = "drop"      // bundle: tables dropped (drop_table allowed)
	PruneUninstall = "uninstall" // app: uninstalled, tables and rows kept
	PrunePurge     = "purge"     // app: uninstalled and its tables dropped (drop_table allowed)
	PruneOrphaned  = "orphaned"  // prune is off: kept, reported, still recorded
	PruneForeign   = "foreign"   // last deployed by Terraform, the CLI, ...: never touched, no longer recorded
	PruneGone      = "gone"      // nothing of it is left in the database: no longer recorded
)

// pruneStep is the decision for one orphan of one tenant.
type pruneStep struct {
	owner  schema.Owner
	action string
	note   string // for foreign: who deployed it last
}

func (s pruneStep) removes() bool {
	switch s.action {
	case PruneDetach, PruneDrop, PruneUninstall, PrunePurge:
		return true
	}
	return false
}

func (s pruneStep) String() string {
	if s.note != "" {
		return fmt.Sprintf("%s (%s: %s)", s.owner, s.action, s.note)
	}
	return fmt.Sprintf("%s (%s)", s.owner, s.action)
}

// hasOrphans reports whether st records an owner d no longer wants, without allocating: the no-change
// fast path runs it for every tenant.
func hasOrphans(st status.Tenant, d *Desired) bool { return hasOrphansIn(st.Owners, d) }

func hasOrphansIn(owners map[string]string, d *Desired) bool {
	for o := range owners {
		if !d.wants(o) {
			return true
		}
	}
	return false
}

func orphansOf(owners map[string]string, d *Desired) []schema.Owner {
	var out []schema.Owner
	for o := range owners {
		if !d.wants(o) {
			out = append(out, schema.Owner(o))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// upToDate is the fast path: the tenant is at the revision's checksum, so its database is not opened.
// With prune on, recorded orphans also need work: turning prune on (or a failed earlier prune) must
// reach a tenant whose units did not change.
func upToDate(st status.Tenant, ok bool, d *Desired, prune bool) bool {
	return ok && st.Checksum == d.Checksum && !(prune && hasOrphans(st, d))
}

// resolveRun resolves what a revision wants in every tenant, including tenants no target selects any more
// that the reconciler applied owners to, and attaches each tenant's orphans from the status store.
func (r *Repository) resolveRun(tenants []tenant.Tenant, statuses map[string]status.Tenant) ([]Wave, []*Desired) {
	waves, desired := r.resolve(tenants, func(id string) bool { return len(statuses[id].Owners) > 0 })
	for _, d := range desired {
		d.prune = r.Config.Prune
		if owners := statuses[d.Tenant.ID].Owners; len(owners) > 0 && hasOrphansIn(owners, d) {
			d.Orphans = orphansOf(owners, d)
			d.Allow = r.tenantAllow(&d.Tenant)
		}
	}
	return waves, desired
}

func allows(list []schema.DestructiveKind, k schema.DestructiveKind) bool {
	for _, a := range list {
		if a == k {
			return true
		}
	}
	return false
}

// inspectOrphan reads what is left of owner in db and who deployed it last. The status store says the
// reconciler applied it once; the engine's deployment log says whether that is still true: if Terraform or
// the CLI deployed the owner since, it is theirs now and pruning it would delete someone else's work.
func inspectOrphan(ctx context.Context, db *sql.DB, owner schema.Owner) (present bool, lastSource string, err error) {
	if name, ok := strings.CutPrefix(string(owner), "app:"); ok {
		_, present, err = apps.IsInstalled(ctx, db, name)
	} else {
		var sum string
		sum, err = schema.OwnerChecksum(ctx, db, owner)
		present = sum != ""
	}
	if err != nil || !present {
		return present, "", err
	}
	deps, err := schema.Deployments(ctx, db, owner)
	if err != nil {
		return false, "", err
	}
	if len(deps) > 0 {
		lastSource = deps[len(deps)-1].Source
	}
	return true, lastSource, nil
}

// planPrune decides what happens to each orphan of d (read-only). refused names app uninstalls other
// installed apps would block, so the tenant is refused before anything is applied.
func planPrune(ctx context.Context, db *sql.DB, d *Desired) (steps []pruneStep, refused []string, err error) {
	drop := allows(d.Allow, schema.DestructiveKind("drop_table"))
	removing := map[string]bool{}
	for _, o := range d.Orphans {
		step, err := decide(ctx, db, o, d.prune, drop)
		if err != nil {
			return nil, nil, err
		}
		if step.removes() {
			if name, ok := strings.CutPrefix(string(o), "app:"); ok {
				removing[name] = true
			}
		}
		steps = append(steps, step)
	}
	if len(removing) == 0 {
		return steps, nil, nil
	}
	inst, err := apps.Installed(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("read installed apps: %w", err)
	}
	for _, s := range steps {
		name, ok := strings.CutPrefix(string(s.owner), "app:")
		if !ok || !s.removes() {
			continue
		}
		var blockers []string
		for _, a := range inst {
			if removing[a.Name] {
				continue // pruned in the same pass, dependents first
			}
			for _, dep := range a.Dependencies {
				if dep.Name == name {
					blockers = append(blockers, a.Name)
				}
			}
		}
		if len(blockers) > 0 {
			refused = append(refused, fmt.Sprintf("prune %s: %v: %s", s.owner, apps.ErrHasDependents, strings.Join(blockers, ", ")))
		}
	}
	return steps, refused, nil
}

func decide(ctx context.Context, db *sql.DB, o schema.Owner, prune, drop bool) (pruneStep, error) {
	present, src, err := inspectOrphan(ctx, db, o)
	if err != nil {
		return pruneStep{}, fmt.Errorf("inspect %s: %w", o, err)
	}
	step := pruneStep{owner: o}
	isApp := strings.HasPrefix(string(o), "app:")
	switch {
	case !present:
		step.action = PruneGone
	case !strings.HasPrefix(src, "reconcile@"):
		step.action, step.note = PruneForeign, "last deployed by "+src
		if src == "" {
			step.note = "no deployment record"
		}
	case !prune:
		step.action = PruneOrphaned
	case isApp && drop:
		step.action = PrunePurge
	case isApp:
		step.action = PruneUninstall
	case drop:
		step.action = PruneDrop
	default:
		step.action = PruneDetach
	}
	return step, nil
}

// prune carries out the planned steps after the tenant's units were applied. Each owner goes in its own
// engine transaction; the guard is re-read just before, because the plan is a dry run and Terraform or the
// CLI may have deployed the owner since. Apps go first, dependents before what they depend on.
func (ex *execution) prune(ctx context.Context, db *sql.DB, tp *tenantPlan) (done []pruneStep, err error) {
	drop := allows(tp.d.Allow, schema.DestructiveKind("drop_table"))
	src := ex.sourceTag()
	holder := ex.r.opts.Holder
	var appSteps, bundleSteps []pruneStep
	for _, s := range tp.prune {
		if !s.removes() {
			done = append(done, s)
			continue
		}
		now, err := decide(ctx, db, s.owner, true, drop)
		if err != nil {
			return done, err
		}
		if !now.removes() {
			done = append(done, now)
			continue
		}
		if strings.HasPrefix(string(s.owner), "app:") {
			appSteps = append(appSteps, now)
		} else {
			bundleSteps = append(bundleSteps, now)
		}
	}
	// An orphan app may depend on another orphan app: retry the blocked ones after each pass that made progress.
	for len(appSteps) > 0 {
		var blocked []pruneStep
		var lastErr error
		for _, s := range appSteps {
			name := strings.TrimPrefix(string(s.owner), "app:")
			err := apps.Uninstall(ctx, db, name, apps.UninstallOptions{Purge: s.action == PrunePurge, Source: src + " (prune)", Holder: holder})
			switch {
			case errors.Is(err, apps.ErrHasDependents):
				blocked, lastErr = append(blocked, s), err
			case err != nil:
				return done, fmt.Errorf("prune %s: %w", s.owner, err)
			default:
				done = append(done, s)
				ex.r.m.Applies.WithLabelValues("prune").Inc()
			}
		}
		if len(blocked) == len(appSteps) {
			return done, fmt.Errorf("prune %s: %w", blocked[0].owner, lastErr)
		}
		appSteps = blocked
	}
	for _, s := range bundleSteps {
		if s.action == PruneDrop {
			// The same destructive rule as every other change: the plan of "no objects" is checked against
			// the tenant's allowances by Apply.
			p, err := schema.PlanOwner(ctx, db, s.owner, nil, schema.PlanOptions{})
			if err != nil {
				return done, fmt.Errorf("prune %s: plan: %w", s.owner, err)
			}
			if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Allow: tp.d.Allow, Source: src + " (prune)", Holder: holder}); err != nil {
				return done, fmt.Errorf("prune %s: %w", s.owner, err)
			}
		} else if err := schema.Detach(ctx, db, s.owner, schema.ApplyOptions{Source: src + " (prune detach)", Holder: holder}); err != nil {
			return done, fmt.Errorf("prune %s: %w", s.owner, err)
		}
		done = append(done, s)
		ex.r.m.Applies.WithLabelValues("prune").Inc()
	}
	return done, nil
}

// pruneSummary renders steps for status messages and results: removed owners, kept orphans, and the
// owners left alone because someone else deployed them last.
func pruneSummary(steps []pruneStep) (pruned, orphaned, foreign []string) {
	for _, s := range steps {
		switch {
		case s.removes():
			pruned = append(pruned, s.String())
		case s.action == PruneOrphaned:
			orphaned = append(orphaned, string(s.owner))
		case s.action == PruneForeign:
			foreign = append(foreign, s.String())
		}
	}
	return pruned, orphaned, foreign
}
