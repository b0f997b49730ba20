package apps

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// PlanInstall computes what Install would do — the compatibility check, the engine's DDL plan for the app's objects,
// the seed record counts and the configuration to store — without writing anything, from one read of the tenant.
// Compatibility problems are reported in the plan's Check, not as an error, so a caller can show them next to the
// DDL; invalid configOverrides are an error.
func PlanInstall(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*InstallPlan, error) {
	t, err := ReadTenant(ctx, db, app, opts)
	if err != nil {
		return nil, fmt.Errorf("plan app %s: %w", app.Manifest.Name, err)
	}
	p, err := t.PlanInstall(app, opts)
	if err != nil {
		return nil, err
	}
	// The data the schema migration touches (one more read, only when it touches existing rows): a predicted
	// failure refuses the install; a type change the data shows lossless needs no lossy_type_change.
	if p.Schema != nil {
		if err := schema.Preflight(ctx, db, p.Schema); err != nil {
			return nil, fmt.Errorf("plan app %s: %w", app.Manifest.Name, err)
		}
	}
	return p, nil
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
// version: one read, then compatibility check → schema through the engine as owner app:<name> → seed data → the
// _objectstack_apps row, all in ONE transaction sent as one batch, so a failure or a crash at any point leaves the
// app fully installed or not at all, and an install that raced another (the app registry or schema moved since
// the read) rolls back as stale. The result is filled even when an error is returned (Success=false, Error set).
func Install(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*AppInstallResult, error) {
	start := time.Now()
	p, err := PlanInstall(ctx, db, app, opts)
	if err != nil {
		return failedInstall(app, nil, err, start)
	}
	res, err := InstallPlanned(ctx, db, app, p, opts)
	res.DurationMs = time.Since(start).Milliseconds()
	return res, err
}

// failedInstall is the result of an install that failed before its batch was sent (p nil: before planning).
func failedInstall(app *App, p *InstallPlan, err error, start time.Time) (*AppInstallResult, error) {
	m := app.Manifest
	res := &AppInstallResult{AppID: m.Name, Version: m.Version, InstalledObjects: app.ObjectNames(), CreatedTables: []string{},
		Error: err.Error(), DurationMs: time.Since(start).Milliseconds()}
	if p != nil {
		res.Action, res.PreviousVersion = p.Action, p.InstalledVersion
	}
	return res, err
}

// InstallPlanned is Install of a plan made moments ago (PlanInstall, or a Tenant's): one request. A database
// that moved since the plan's read makes it fail with schema.ErrStalePlan and nothing applied.
func InstallPlanned(ctx context.Context, db *sql.DB, app *App, p *InstallPlan, opts InstallOptions) (*AppInstallResult, error) {
	start := time.Now()
	holder := opts.Holder
	if holder == "" {
		holder = "apps-" + newID()
	}
	var b *schema.Batch
	if p.Schema != nil {
		b = schema.NewBatch(p.Schema.State(), holder)
		b.RecordFailures()
	}
	staged, err := p.Stage(b, app, opts)
	if err != nil {
		return failedInstall(app, p, err, start)
	}
	if seedHook != nil {
		staged.observe(b)
	}
	out, err := b.Commit(ctx, db)
	res, err := staged.Result(out, err)
	res.DurationMs = time.Since(start).Milliseconds()
	return res, err
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
