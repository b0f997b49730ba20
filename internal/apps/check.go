package apps

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// tenantState is what the compatibility check reads from a tenant database, in one pass.
type tenantState struct {
	installed  []InstalledApp
	byName     map[string]*InstalledApp
	registered []schema.RegisteredObject
}

// Check reports every compatibility problem of installing (or upgrading to) app in the tenant database:
// kernel version, objects owned by another bundle or app, missing or too-old dependencies (with their chains), and
// quotas. It writes nothing and reads the tenant in one round trip.
func Check(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (AppCompatibilityCheck, error) {
	t, err := ReadTenant(ctx, db, app, opts)
	if err != nil {
		return AppCompatibilityCheck{}, fmt.Errorf("check app %s: %w", app.Manifest.Name, err)
	}
	st, err := t.tenantState()
	if err != nil {
		return AppCompatibilityCheck{}, fmt.Errorf("check app %s: %w", app.Manifest.Name, err)
	}
	return t.check(app, opts, st)
}

func (t *Tenant) check(app *App, opts InstallOptions, st *tenantState) (AppCompatibilityCheck, error) {
	var issues []CompatibilityIssue
	add := func(cat, format string, a ...any) {
		issues = append(issues, CompatibilityIssue{Severity: "error", Category: cat, Message: fmt.Sprintf(format, a...)})
	}
	m := app.Manifest

	if m.MinKernelVersion != "" {
		if !ValidVersion(m.MinKernelVersion) {
			add(CategoryKernelVersion, "app %s: minKernelVersion %q is not a semantic version", m.Name, m.MinKernelVersion)
		} else if CompareVersions(KernelVersion, m.MinKernelVersion) < 0 {
			add(CategoryKernelVersion, "app %s %s needs kernel %s or newer; this kernel is %s", m.Name, m.Version, m.MinKernelVersion, KernelVersion)
		}
	}

	owner := app.Owner()
	mine := map[string]bool{}
	for _, o := range app.Objects {
		mine[o.Name] = true
	}
	tables := map[string]string{}
	for _, o := range app.Objects {
		if !o.Abstract {
			tables[o.Table()] = o.Name
		}
	}
	registered := map[string]bool{}
	for _, r := range st.registered {
		registered[r.Name] = true
		if r.Owner == owner {
			continue
		}
		if mine[r.Name] {
			add(CategoryObjectConflict, "object %s is already owned by %s; app %s cannot claim it", r.Name, r.Owner, m.Name)
		} else if other, ok := tables[r.Table]; ok && r.Table != "" {
			add(CategoryObjectConflict, "object %s of app %s uses table %s, which belongs to object %s of %s", other, m.Name, r.Table, r.Name, r.Owner)
		}
	}

	for _, msg := range dependencyProblems(app, st, opts.Catalog) {
		add(CategoryDependencyMissing, "%s", msg)
	}
	for _, msg := range brokenDependents(app, st, t.replacing) {
		add(CategoryDependencyMissing, "%s", msg)
	}
	for _, o := range app.Objects {
		for _, f := range o.Fields {
			if f.Reference == "" || mine[f.Reference] || registered[f.Reference] {
				continue
			}
			issues = append(issues, CompatibilityIssue{Severity: "warning", Category: CategoryDependencyMissing,
				Message: fmt.Sprintf("field %s.%s references object %s, which is neither part of app %s nor registered in this tenant; the column gets no foreign key",
					o.Name, f.Key, f.Reference, m.Name)})
		}
	}

	if lim := opts.Limits.MaxObjects; lim != nil {
		after, added := 0, 0
		for name := range registered {
			if !mine[name] {
				after++
			}
		}
		for name := range mine {
			if !registered[name] {
				added++
			}
		}
		after += len(mine)
		if int64(after) > *lim {
			add(CategoryQuotaExceeded, "app %s adds %d object(s): the tenant would have %d objects (now %d), over its maxObjects quota of %d",
				m.Name, added, after, len(registered), *lim)
		}
	}
	if lim := opts.Limits.MaxRecordsPerObject; lim != nil && !opts.SkipSeedData {
		projected, err := t.projectedRows(app, opts.Env)
		if err != nil {
			return AppCompatibilityCheck{}, fmt.Errorf("check app %s: %w", m.Name, err)
		}
		for _, p := range projected {
			if int64(p.total) > *lim {
				add(CategoryQuotaExceeded, "object %s would hold %d records (%d existing + %d new seed records), over the maxRecordsPerObject quota of %d",
					p.object, p.total, p.existing, p.total-p.existing, *lim)
			}
		}
	}

	res := AppCompatibilityCheck{Compatible: true, Issues: issues}
	if res.Issues == nil {
		res.Issues = []CompatibilityIssue{}
	}
	for _, is := range issues {
		if is.Severity == "error" {
			res.Compatible = false
		}
	}
	return res, nil
}

// dependencyProblems walks the app's dependencies. Installed dependencies are checked against the constraint and,
// through their recorded dependencies, transitively; a dependency that is not installed is looked up in the catalog
// (when one is given) so a missing link deeper in the chain is named with the whole chain.
func dependencyProblems(app *App, st *tenantState, cat *Catalog) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(chain []string, deps []Dependency)
	walk = func(chain []string, deps []Dependency) {
		for _, d := range deps {
			path := strings.Join(append(append([]string{}, chain...), d.Name), " → ")
			c, err := ParseConstraint(d.Version)
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", path, err))
				continue
			}
			key := strings.Join(chain, ">") + ">" + d.Name
			if seen[key] || contains(chain, d.Name) {
				continue
			}
			seen[key] = true
			requirer := chain[len(chain)-1]
			if inst, ok := st.byName[d.Name]; ok {
				if !c.Allows(inst.Version) {
					out = append(out, fmt.Sprintf("%s requires %s %s, but version %s is installed (chain %s)", requirer, d.Name, d.Version, inst.Version, path))
				}
				walk(append(append([]string{}, chain...), d.Name), inst.Dependencies)
				continue
			}
			msg := fmt.Sprintf("%s requires %s, which is not installed (chain %s)", requirer, d.Describe(), path)
			if cat != nil {
				if next, ok := cat.Get(d.Name, d.Version); ok {
					out = append(out, msg+fmt.Sprintf("; the catalog has %s %s", d.Name, next.Manifest.Version))
					walk(append(append([]string{}, chain...), d.Name), next.Manifest.Dependencies)
					continue
				}
				msg += "; the catalog has no matching version either"
			}
			out = append(out, msg)
		}
	}
	walk([]string{app.Manifest.Name}, app.Manifest.Dependencies)
	sort.Strings(out)
	return out
}

// brokenDependents names every installed app whose declared constraint on app would no longer hold once app's
// version replaces the installed one — the upgrade (or downgrade) side of the rule Uninstall enforces, as apt and
// Helm refuse an upgrade that breaks a reverse dependency instead of reporting it afterwards. It is a
// dependency_missing problem: after the change, the dependent's dependency in a fitting version is missing.
// Dependents in replacing are skipped: a later unit of the same revision reinstalls them, and their own check
// then judges their (new) constraint against this version. Only a version change is judged, so reinstalling the
// installed version never trips over a constraint that was already broken.
func brokenDependents(app *App, st *tenantState, replacing map[string]bool) []string {
	m := app.Manifest
	cur, ok := st.byName[m.Name]
	if !ok || CompareVersions(cur.Version, m.Version) == 0 {
		return nil
	}
	verb := "upgrading"
	if CompareVersions(m.Version, cur.Version) < 0 {
		verb = "downgrading"
	}
	var out []string
	for _, a := range st.installed {
		if a.Name == m.Name || replacing[a.Name] {
			continue
		}
		for _, d := range a.Dependencies {
			if d.Name != m.Name {
				continue
			}
			c, err := ParseConstraint(d.Version)
			if err != nil || c.Allows(m.Version) {
				continue // an unparsable recorded constraint is the dependent's own problem, reported on its install
			}
			out = append(out, fmt.Sprintf("installed app %s %s requires %s %s; %s %s from %s to %s would break it (upgrade or uninstall %s first)",
				a.Name, a.Version, m.Name, d.Version, verb, m.Name, cur.Version, m.Version, a.Name))
		}
	}
	sort.Strings(out)
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type projection struct {
	object   string
	existing int
	total    int
}

// projectedRows counts, per seeded object, the rows the table would hold after seeding (protocol §6 item 19: the
// usage is counted at check time).
func (tn *Tenant) projectedRows(app *App, env string) ([]projection, error) {
	targets, err := prepareSeeds(app.Objects, app.Datasets, env)
	if err != nil {
		return nil, err
	}
	byObj := map[string]*projection{}
	var order []string
	existingKeys := map[string]map[string]bool{}
	for _, t := range targets {
		p, ok := byObj[t.obj.Name]
		if !ok {
			p = &projection{object: t.obj.Name}
			byObj[t.obj.Name] = p
			order = append(order, t.obj.Name)
			keys := map[string]bool{}
			tbl := t.obj.Table()
			// Read in the same round trip as the schema (Reads); a table that did not exist then has no rows.
			if r, ok := tn.st.Extra(extraCountKey(tbl)); ok && r.Err == nil && len(r.Rows) == 1 {
				if err := database.Row(r.Rows[0]).Scan(&p.existing); err != nil {
					return nil, fmt.Errorf("count rows of %s: %w", tbl, err)
				}
			} else if ok && r.Err != nil && !strings.Contains(r.Err.Error(), "no such table") {
				return nil, fmt.Errorf("count rows of %s: %w", tbl, r.Err)
			} else if !ok && tn.st.ExistedAtRead(tbl) {
				return nil, fmt.Errorf("count rows of %s: the tenant state was read without it (apps.Reads)", tbl)
			}
			if t.extCol != "" {
				// The column may not exist yet (an upgrade adds it): then no existing row matches.
				if r, ok := tn.st.Extra(extraKeysKey(tbl, t.extCol)); ok && r.Err == nil {
					for _, row := range r.Rows {
						if row[0] != nil {
							keys[valueKey(row[0])] = true
						}
					}
				}
			}
			p.total = p.existing
			existingKeys[t.obj.Name] = keys
		}
		keys := existingKeys[t.obj.Name]
		if t.mode == ModeReplace {
			p.total = 0
			for k := range keys {
				delete(keys, k)
			}
		}
		for _, r := range t.rows {
			if t.mode == ModeUpdate {
				continue
			}
			if r.ext != nil {
				k := valueKey(r.ext)
				if keys[k] {
					continue
				}
				keys[k] = true
			}
			p.total++
		}
	}
	out := make([]projection, 0, len(order))
	for _, n := range order {
		out = append(out, *byObj[n])
	}
	return out, nil
}
