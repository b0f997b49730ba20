package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// appDBTokenEnv names the environment variable holding the auth token of a remote --db; tokens never go on the
// command line, where process listings would show them.
const appDBTokenEnv = "OBJECTSTACK_DB_TOKEN"

type appFlags struct {
	db               string
	appDir           string
	name             string
	jsonOut          bool
	config           []string
	skipSeed         bool
	allowDestructive string
	allowDowngrade   bool
	purge            bool
	catalog          string
	env              string
	target           tenantTarget
}

func newAppCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Check, install, upgrade, uninstall and list marketplace apps in one tenant database",
		Long: `Marketplace apps are folders with app.yaml, objects/*.yaml and optional views/, flows/ and seed/.
--db is a SQLite file path, a file: URL, or a libsql:// / https:// URL (token in $` + appDBTokenEnv + `).
--tenant ID (with --data-dir, or --api-url and --org, as in ` + "`objectstack tenant`" + `) targets a tenant instead: its
database comes from the tenant registry and its quotas (maxObjects, maxRecordsPerObject, maxDeploymentsPerDay)
are checked, so every compatibility category — kernel_version, object_conflict, dependency_missing,
quota_exceeded — is reported.`,
	}
	cmd.AddCommand(newAppCheckCmd(), newAppInstallCmd(false), newAppInstallCmd(true), newAppUninstallCmd(), newAppListCmd())
	return cmd
}

func (f *appFlags) dbFlags(c *cobra.Command) {
	c.Flags().StringVar(&f.db, "db", "", "tenant database: file path, file: URL or libsql:// URL (this or --tenant)")
	c.Flags().BoolVar(&f.jsonOut, "json", false, "print the protocol's JSON shape")
	f.target.register(c)
}

// openDB opens the database --db or --tenant names, with the tenant's limits (none for --db: a bare database
// carries no quotas). existing refuses a local --db file that does not exist instead of creating it.
func (f *appFlags) openDB(cmd *cobra.Command, existing bool) (*sql.DB, apps.Limits, func(), error) {
	if f.target.set() {
		return f.target.open(cmd)
	}
	open := openAppDB
	if existing {
		open = openExistingAppDB
	}
	db, err := open(f.db)
	if err != nil {
		return nil, apps.Limits{}, nil, err
	}
	return db, apps.Limits{}, func() { db.Close() }, nil
}

// where names the target in messages.
func (f *appFlags) where() string {
	if f.target.set() {
		return "tenant " + f.target.id
	}
	return database.Redact(f.db)
}

func (f *appFlags) installFlags(c *cobra.Command) {
	c.Flags().StringVar(&f.appDir, "app", "", "app folder (with app.yaml) (required)")
	c.Flags().StringArrayVar(&f.config, "config", nil, "config override key=value (repeatable), typed by the app's config declarations")
	c.Flags().BoolVar(&f.skipSeed, "skip-seed", false, "do not write the app's seed data")
	c.Flags().StringVar(&f.catalog, "catalog", "", "catalog folder of app folders; missing dependencies are installed from it first, in order")
	c.Flags().StringVar(&f.env, "env", "prod", "environment that selects seed datasets (prod, dev, test)")
}

func newAppCheckCmd() *cobra.Command {
	f := &appFlags{}
	c := &cobra.Command{
		Use:   "check (--db URL|FILE | --tenant ID --data-dir DIR) --app DIR",
		Short: "Report every compatibility issue of installing an app (kernel version, object conflicts, dependencies, quotas)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, opts, db, done, err := f.openInstall(cmd)
			if err != nil {
				return err
			}
			defer done()
			p, err := apps.PlanInstall(cmd.Context(), db, app, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				if err := writeJSON(out, p.Check); err != nil {
					return err
				}
			} else {
				printAppCheck(out, app, p)
			}
			if !p.Check.Compatible {
				return silentError{exitFailed}
			}
			return nil
		},
	}
	f.dbFlags(c)
	f.installFlags(c)
	return c
}

func newAppInstallCmd(upgrade bool) *cobra.Command {
	f := &appFlags{}
	use, short := "install", "Install an app: check, schema, seed data and registration in one transaction"
	if upgrade {
		use, short = "upgrade", "Upgrade an installed app to the version in --app (a diff of the app's own objects)"
	}
	c := &cobra.Command{
		Use:   use + " (--db URL|FILE | --tenant ID --data-dir DIR) --app DIR",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, opts, db, done, err := f.openInstall(cmd)
			if err != nil {
				return err
			}
			defer done()
			return runAppInstall(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), db, app, opts, f, upgrade)
		},
	}
	f.dbFlags(c)
	f.installFlags(c)
	c.Flags().StringVar(&f.allowDestructive, "allow-destructive", "", "destructive change kinds an upgrade may make: drop_table,drop_column,lossy_type_change,drop_constraint or all")
	c.Flags().BoolVar(&f.allowDowngrade, "allow-downgrade", false, "allow installing an older version than the installed one")
	return c
}

func runAppInstall(ctx context.Context, stdout, stderr io.Writer, db *sql.DB, app *apps.App, opts apps.InstallOptions, f *appFlags, upgrade bool) error {
	name := app.Manifest.Name
	inst, installed, err := apps.IsInstalled(ctx, db, name)
	if err != nil {
		return err
	}
	if upgrade && !installed {
		return fmt.Errorf("app %s is not installed in %s; use `objectstack app install`", name, f.where())
	}
	if !upgrade && installed && apps.CompareVersions(inst.Version, app.Manifest.Version) != 0 {
		hint := "objectstack app upgrade"
		if apps.CompareVersions(app.Manifest.Version, inst.Version) < 0 {
			hint += " --allow-downgrade"
		}
		return fmt.Errorf("app %s %s is already installed; use `%s` to move to %s", name, inst.Version, hint, app.Manifest.Version)
	}
	if opts.Catalog != nil {
		deps, err := opts.Catalog.ResolveFor(app)
		if err != nil {
			return err
		}
		// Refuse up front when the app itself cannot be installed for a reason the dependencies will not fix,
		// so no dependency is installed for nothing.
		chk, err := apps.Check(ctx, db, app, opts)
		if err != nil {
			return err
		}
		var blocking []string
		for _, is := range chk.Issues {
			if is.Severity == "error" && is.Category != apps.CategoryDependencyMissing {
				blocking = append(blocking, fmt.Sprintf("[%s] %s", is.Category, is.Message))
			}
		}
		if len(blocking) > 0 {
			return fmt.Errorf("%w: app %s %s: %s", apps.ErrIncompatible, name, app.Manifest.Version, strings.Join(blocking, "; "))
		}
		for _, dep := range deps {
			if _, ok, err := apps.IsInstalled(ctx, db, dep.Manifest.Name); err != nil {
				return err
			} else if ok {
				continue // an installed version that does not fit is reported by the app's own check
			}
			depOpts := opts
			depOpts.ConfigOverrides = nil
			r, err := apps.Install(ctx, db, dep, depOpts)
			if err != nil {
				return fmt.Errorf("install dependency %s %s: %w", dep.Manifest.Name, dep.Manifest.Version, err)
			}
			fmt.Fprintf(stderr, "installed dependency %s %s (%d table(s) created, %d record(s) seeded)\n", r.AppID, r.Version, len(r.CreatedTables), r.SeededRecords)
		}
	}
	res, err := apps.Install(ctx, db, app, opts)
	if f.jsonOut {
		return writeJSONResult(stdout, io.Discard, res, err)
	}
	if err != nil {
		return err
	}
	switch res.Action {
	case apps.ActionNone:
		fmt.Fprintf(stdout, "app %s %s is already installed with the same contents and configuration; nothing to do\n", res.AppID, res.Version)
	default:
		verb := map[apps.Action]string{apps.ActionInstall: "installed", apps.ActionUpgrade: "upgraded", apps.ActionDowngrade: "downgraded", apps.ActionReinstall: "reinstalled"}[res.Action]
		from := ""
		if res.PreviousVersion != "" && res.PreviousVersion != res.Version {
			from = " from " + res.PreviousVersion
		}
		fmt.Fprintf(stdout, "%s app %s %s%s in %d ms: %d object(s), %d statement(s), %d seed record(s) written\n",
			verb, res.AppID, res.Version, from, res.DurationMs, len(res.InstalledObjects), res.StatementsExecuted, res.SeededRecords)
		if len(res.CreatedTables) > 0 {
			fmt.Fprintf(stdout, "created tables: %s\n", strings.Join(res.CreatedTables, ", "))
		}
	}
	return nil
}

func newAppUninstallCmd() *cobra.Command {
	f := &appFlags{}
	c := &cobra.Command{
		Use:   "uninstall (--db URL|FILE | --tenant ID --data-dir DIR) (--app DIR | --name NAME)",
		Short: "Uninstall an app; its tables and data stay unless --purge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.require(false); err != nil {
				return err
			}
			name := f.name
			if f.appDir != "" {
				app, err := loadAppArg(f.appDir)
				if err != nil {
					return err
				}
				if name != "" && name != app.Manifest.Name {
					return usagef("--name %s and --app %s (app %s) disagree", name, f.appDir, app.Manifest.Name)
				}
				name = app.Manifest.Name
			}
			db, _, done, err := f.openDB(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			err = apps.Uninstall(cmd.Context(), db, name, apps.UninstallOptions{Purge: f.purge, Source: "cli"})
			out := cmd.OutOrStdout()
			if f.jsonOut {
				r := map[string]any{"success": err == nil, "appId": name, "purged": f.purge && err == nil}
				if err != nil {
					r["error"] = err.Error()
				}
				return writeJSONResult(out, io.Discard, r, err)
			}
			if err != nil {
				return err
			}
			if f.purge {
				fmt.Fprintf(out, "uninstalled app %s and dropped its tables\n", name)
			} else {
				fmt.Fprintf(out, "uninstalled app %s; its tables and data were kept (use --purge to drop them)\n", name)
			}
			return nil
		},
	}
	f.dbFlags(c)
	c.Flags().StringVar(&f.appDir, "app", "", "app folder (its app.yaml names the app)")
	c.Flags().StringVar(&f.name, "name", "", "app name (instead of --app)")
	c.Flags().BoolVar(&f.purge, "purge", false, "drop the app's tables and their data")
	return c
}

func newAppListCmd() *cobra.Command {
	f := &appFlags{}
	c := &cobra.Command{
		Use:   "list (--db URL|FILE | --tenant ID --data-dir DIR)",
		Short: "List the apps installed in a tenant database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.requireDB(); err != nil {
				return err
			}
			db, _, done, err := f.openDB(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			list, err := apps.Installed(cmd.Context(), db)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				if list == nil {
					list = []apps.InstalledApp{}
				}
				return writeJSON(out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(out, "no apps installed")
				return nil
			}
			for _, a := range list {
				deps := make([]string, len(a.Dependencies))
				for i, d := range a.Dependencies {
					deps[i] = d.String()
				}
				line := fmt.Sprintf("%s %s  objects: %s", a.Name, a.Version, strings.Join(a.Objects, ", "))
				if len(deps) > 0 {
					line += "  depends on: " + strings.Join(deps, ", ")
				}
				fmt.Fprintf(out, "%s  installed %s\n", line, a.InstalledAt)
			}
			return nil
		},
	}
	f.dbFlags(c)
	return c
}

// requireDB checks that exactly one of --db and --tenant names the database.
func (f *appFlags) requireDB() error {
	switch {
	case f.db == "" && !f.target.set():
		return usagef("--db or --tenant is required")
	case f.db != "" && f.target.set():
		return usagef("--db and --tenant exclude each other: name the database or the tenant")
	}
	return nil
}

func (f *appFlags) require(needApp bool) error {
	if err := f.requireDB(); err != nil {
		return err
	}
	if needApp && f.appDir == "" {
		return usagef("--app is required")
	}
	if !needApp && f.appDir == "" && f.name == "" {
		return usagef("--app or --name is required")
	}
	return nil
}

// openInstall prepares check, install and upgrade: it checks the flags, loads the app and builds the
// install options before it opens the database (which the caller closes), so bad usage or an invalid
// app never creates a database file.
func (f *appFlags) openInstall(cmd *cobra.Command) (*apps.App, apps.InstallOptions, *sql.DB, func(), error) {
	var none apps.InstallOptions
	if err := f.require(true); err != nil {
		return nil, none, nil, nil, err
	}
	app, err := loadAppArg(f.appDir)
	if err != nil {
		return nil, none, nil, nil, err
	}
	opts, err := f.options(app)
	if err != nil {
		return nil, none, nil, nil, err
	}
	db, lim, done, err := f.openDB(cmd, false)
	if err != nil {
		return nil, none, nil, nil, err
	}
	opts.Limits = lim
	return app, opts, db, done, nil
}

func (f *appFlags) options(app *apps.App) (apps.InstallOptions, error) {
	opts := apps.InstallOptions{SkipSeedData: f.skipSeed, AllowDowngrade: f.allowDowngrade, Source: "cli", Env: f.env}
	if f.allowDestructive != "" {
		kinds, err := schema.ParseDestructiveKinds(f.allowDestructive)
		if err != nil {
			return opts, usagef("--allow-destructive: %v", err)
		}
		opts.Allow = kinds
	}
	if len(f.config) > 0 {
		opts.ConfigOverrides = map[string]any{}
		for _, kv := range f.config {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return opts, usagef("--config %q: want key=value", kv)
			}
			val, err := app.Manifest.ParseConfigValue(k, v)
			if err != nil {
				return opts, usagef("--config: %v", err)
			}
			opts.ConfigOverrides[k] = val
		}
	}
	if f.catalog != "" {
		cat, err := apps.LoadCatalog(f.catalog)
		if err != nil {
			return opts, err
		}
		opts.Catalog = cat
	}
	return opts, nil
}

// loadAppArg loads and validates an app folder; an invalid app is refused with every issue listed.
func loadAppArg(dir string) (*apps.App, error) {
	app, res, err := apps.Load(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usagef("%v", err)
		}
		return nil, err
	}
	if !res.Valid {
		return nil, fmt.Errorf("%w: %s", apps.ErrInvalidApp, apps.FormatIssues(dir, res))
	}
	return app, nil
}

func openAppDB(dsn string) (*sql.DB, error) {
	return database.Open(dsn, os.Getenv(appDBTokenEnv))
}

// openExistingAppDB is openAppDB for commands that only make sense on an existing database (list, uninstall): a
// mistyped local path is an error instead of a new empty database file.
func openExistingAppDB(dsn string) (*sql.DB, error) {
	if !database.IsRemote(dsn) && !strings.HasPrefix(dsn, "file:") {
		if _, err := os.Stat(dsn); err != nil {
			return nil, usagef("--db %s: %v", dsn, err)
		}
	}
	return openAppDB(dsn)
}

func printAppCheck(w io.Writer, app *apps.App, p *apps.InstallPlan) {
	m := app.Manifest
	if p.Check.Compatible {
		fmt.Fprintf(w, "app %s %s is compatible (%s", m.Name, m.Version, p.Action)
		if p.InstalledVersion != "" && p.InstalledVersion != m.Version {
			fmt.Fprintf(w, " from %s", p.InstalledVersion)
		}
		fmt.Fprintln(w, ")")
	} else {
		fmt.Fprintf(w, "app %s %s is NOT compatible: %d issue(s)\n", m.Name, m.Version, len(p.Check.Issues))
	}
	for _, is := range p.Check.Issues {
		fmt.Fprintf(w, "  %s [%s] %s\n", is.Severity, is.Category, is.Message)
	}
	if p.Schema != nil {
		fmt.Fprintf(w, "schema: %d statement(s)", len(p.Schema.Migration.Statements))
		if len(p.Schema.Destructive) > 0 {
			kinds := map[string]bool{}
			for _, d := range p.Schema.Destructive {
				kinds[string(d.Kind)] = true
			}
			var ks []string
			for k := range kinds {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			fmt.Fprintf(w, ", destructive: %s (needs --allow-destructive)", strings.Join(ks, ","))
		}
		fmt.Fprintln(w)
		for _, s := range p.Schema.Migration.Statements {
			fmt.Fprintf(w, "  %s;\n", s.SQL)
		}
	}
	if p.SeedRecords > 0 {
		fmt.Fprintf(w, "seed data: %d record(s)\n", p.SeedRecords)
	}
}
