package apps

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// PlanInstall computes what Install would do — the compatibility check, the engine's DDL plan for the app's objects,
// the seed record counts and the configuration to store — without writing anything. Compatibility problems are
// reported in the plan's Check, not as an error, so a caller can show them next to the DDL; invalid
// configOverrides are an error.
func PlanInstall(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*InstallPlan, error) {
	p, _, err := planInstall(ctx, db, app, opts)
	return p, err
}

func planInstall(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*InstallPlan, *tenantState, error) {
	m := app.Manifest
	if app.invalid != nil {
		return nil, nil, app.invalid
	}
	cfg, err := m.ResolveConfig(opts.ConfigOverrides)
	if err != nil {
		return nil, nil, fmt.Errorf("app %s: %w", m.Name, err)
	}
	st, err := readState(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("plan app %s: %w", m.Name, err)
	}
	chk, err := check(ctx, db, app, opts, st)
	if err != nil {
		return nil, nil, err
	}
	sp, err := schema.PlanOwner(ctx, db, app.Owner(), app.Objects, schema.PlanOptions{})
	var conflict *schema.ConflictError
	switch {
	case errors.As(err, &conflict) && !chk.Compatible:
		// The check already names every conflict; the plan has no schema until they are resolved.
		sp = nil
	case err != nil:
		return nil, nil, fmt.Errorf("plan app %s: %w", m.Name, err)
	}
	p := &InstallPlan{App: m.Name, Version: m.Version, Check: chk, Schema: sp, Config: cfg, Seed: []SeedCount{}}
	p.Action = ActionInstall
	if inst, ok := st.byName[m.Name]; ok {
		p.InstalledVersion = inst.Version
		switch c := CompareVersions(m.Version, inst.Version); {
		case c > 0:
			p.Action = ActionUpgrade
		case c < 0:
			p.Action = ActionDowngrade
		case inst.Checksum == app.Checksum && sameConfig(inst.Config, cfg) && sp != nil && sp.UpToDate:
			p.Action = ActionNone
		default:
			p.Action = ActionReinstall
		}
	}
	if !opts.SkipSeedData && p.Action != ActionNone {
		targets, err := prepareSeeds(app.Objects, app.Datasets, opts.Env)
		if err != nil {
			return nil, nil, fmt.Errorf("plan app %s: %w", m.Name, err)
		}
		p.seeds = targets
		for _, t := range targets {
			p.Seed = append(p.Seed, SeedCount{Object: t.obj.Name, Mode: t.mode, Records: len(t.rows)})
			p.SeedRecords += len(t.rows)
		}
	}
	return p, st, nil
}

func sameConfig(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	na, nb := map[string]any{}, map[string]any{}
	for k, v := range a {
		na[k] = normalizeNumber(v)
	}
	for k, v := range b {
		nb[k] = normalizeNumber(v)
	}
	return reflect.DeepEqual(na, nb)
}

// Install installs app in the tenant database, or upgrades (or, with AllowDowngrade, downgrades) an installed
// version: compatibility check → schema through the engine as owner app:<name> → seed data → the _objectstack_apps
// row, all in ONE transaction, so a failure or a crash at any point leaves the app fully installed or not at all.
// The result is filled even when an error is returned (Success=false, Error set).
func Install(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*AppInstallResult, error) {
	start := time.Now()
	m := app.Manifest
	res := &AppInstallResult{AppID: m.Name, Version: m.Version, InstalledObjects: app.ObjectNames(), CreatedTables: []string{}}
	fail := func(err error) (*AppInstallResult, error) {
		res.Success = false
		res.Error = err.Error()
		res.DurationMs = time.Since(start).Milliseconds()
		return res, err
	}
	p, st, err := planInstall(ctx, db, app, opts)
	if err != nil {
		return fail(err)
	}
	res.Action = p.Action
	res.PreviousVersion = p.InstalledVersion
	if !p.Check.Compatible {
		return fail(fmt.Errorf("%w: app %s %s: %s", ErrIncompatible, m.Name, m.Version, issueList(p.Check)))
	}
	switch p.Action {
	case ActionNone:
		res.Success = true
		res.DurationMs = time.Since(start).Milliseconds()
		return res, nil
	case ActionDowngrade:
		if !opts.AllowDowngrade {
			return fail(fmt.Errorf("%w: app %s %s is installed; installing %s would downgrade it (allow it explicitly)", ErrDowngrade, m.Name, p.InstalledVersion, m.Version))
		}
	}
	if err := p.Schema.CheckAllowed(opts.Allow); err != nil {
		return fail(fmt.Errorf("app %s %s: %w", m.Name, m.Version, err))
	}
	targets := p.seeds
	seeded := 0
	inTx := func(ctx context.Context, tx *sql.Tx) error {
		// The check ran before the transaction; re-read what it relied on now that the migration lock is held.
		if err := recheckInTx(ctx, tx, app, st, p.InstalledVersion); err != nil {
			return err
		}
		n, err := writeSeeds(ctx, tx, targets)
		if err != nil {
			return err
		}
		seeded = n
		return registerApp(ctx, tx, app, p.Config)
	}
	source := opts.Source
	if source == "" {
		source = "apps"
	}
	exec, err := schema.Apply(ctx, db, p.Schema, schema.ApplyOptions{Allow: opts.Allow, Version: m.Version, Source: source, Holder: opts.Holder, InTx: inTx})
	if exec != nil {
		res.DeploymentID = exec.DeploymentID
		res.StatementsExecuted = exec.StatementsExecuted
	}
	if err != nil {
		return fail(fmt.Errorf("install app %s %s: %w", m.Name, m.Version, err))
	}
	res.CreatedTables = createdTables(app, p.Schema)
	res.SeededRecords = seeded
	res.Success = true
	res.DurationMs = time.Since(start).Milliseconds()
	return res, nil
}

// recheckInTx guards against another installer having changed the app registry between the check and the lock.
func recheckInTx(ctx context.Context, tx *sql.Tx, app *App, st *tenantState, plannedVersion string) error {
	now, err := installedApps(ctx, tx)
	if err != nil {
		return err
	}
	byName := installedByName(now)
	cur := ""
	if a, ok := byName[app.Manifest.Name]; ok {
		cur = a.Version
	}
	if cur != plannedVersion {
		return fmt.Errorf("app %s changed while installing (installed version was %q, now %q); plan again", app.Manifest.Name, plannedVersion, cur)
	}
	fresh := &tenantState{installed: now, byName: byName, registered: st.registered}
	if probs := dependencyProblems(app, fresh, nil); len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrIncompatible, strings.Join(probs, "; "))
	}
	return nil
}

func createdTables(app *App, p *schema.Plan) []string {
	out := []string{}
	byName := map[string]string{}
	for _, o := range app.Objects {
		byName[o.Name] = o.Table()
	}
	for _, c := range p.Diff.Changes {
		if c.EntityType == schema.EntityObject && c.ChangeType == schema.ChangeAdded {
			if t, ok := byName[c.EntityName]; ok {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

func issueList(c AppCompatibilityCheck) string {
	var parts []string
	for _, is := range c.Issues {
		if is.Severity == "error" {
			parts = append(parts, fmt.Sprintf("[%s] %s", is.Category, is.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// Uninstall removes app name from the tenant database. It refuses while another installed app depends on it.
// By default the app's tables and their rows stay, detached from any owner (a later install of the app adopts them
// again); with Purge the tables are dropped through the engine. Either way the registry rows go in the same
// transaction as the schema change.
func Uninstall(ctx context.Context, db *sql.DB, name string, opts UninstallOptions) error {
	inst, err := installedApps(ctx, db)
	if err != nil {
		return fmt.Errorf("uninstall app %s: %w", name, err)
	}
	byName := installedByName(inst)
	cur, ok := byName[name]
	if !ok {
		return fmt.Errorf("uninstall app %s: %w", name, ErrNotInstalled)
	}
	if deps := dependents(inst, name); len(deps) > 0 {
		return fmt.Errorf("uninstall app %s: %w: %s (uninstall them first)", name, ErrHasDependents, strings.Join(deps, ", "))
	}
	owner := schema.AppOwner(name)
	guard := func(ctx context.Context, tx *sql.Tx) error {
		now, err := installedApps(ctx, tx)
		if err != nil {
			return err
		}
		if deps := dependents(now, name); len(deps) > 0 {
			return fmt.Errorf("%w: %s", ErrHasDependents, strings.Join(deps, ", "))
		}
		return unregisterApp(ctx, tx, name)
	}
	source := opts.Source
	if source == "" {
		source = "apps"
	}
	if opts.Purge {
		p, err := schema.PlanOwner(ctx, db, owner, nil, schema.PlanOptions{})
		if err != nil {
			return fmt.Errorf("uninstall app %s: %w", name, err)
		}
		allow := append([]schema.DestructiveKind(nil), schema.AllDestructiveKinds...)
		if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Allow: allow, Source: source + " (uninstall --purge)", Version: cur.Version, Holder: opts.Holder, InTx: guard}); err != nil {
			return fmt.Errorf("uninstall app %s (purge): %w", name, err)
		}
		return nil
	}
	if err := schema.Detach(ctx, db, owner, schema.ApplyOptions{Holder: opts.Holder, InTx: guard}); err != nil {
		return fmt.Errorf("uninstall app %s: %w", name, err)
	}
	return nil
}

// IsInstalled returns the installed record of app name, or ok=false.
func IsInstalled(ctx context.Context, db *sql.DB, name string) (InstalledApp, bool, error) {
	inst, err := installedApps(ctx, db)
	if err != nil {
		return InstalledApp{}, false, err
	}
	for _, a := range inst {
		if a.Name == name {
			return a, true, nil
		}
	}
	return InstalledApp{}, false, nil
}
