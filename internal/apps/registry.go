package apps

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// appsTableSQL creates the app registry. It is written only inside an install/uninstall transaction, next to the
// engine's registry rows, so the two never disagree after a crash.
const appsTableSQL = `CREATE TABLE IF NOT EXISTS "_objectstack_apps" (
	"name" TEXT PRIMARY KEY,
	"version" TEXT NOT NULL,
	"checksum" TEXT NOT NULL DEFAULT '',
	"config" TEXT NOT NULL DEFAULT '{}',
	"objects" TEXT NOT NULL DEFAULT '[]',
	"dependencies" TEXT NOT NULL DEFAULT '[]',
	"manifest" TEXT NOT NULL DEFAULT '{}',
	"installed_at" TEXT NOT NULL,
	"updated_at" TEXT NOT NULL
)`

// queryer is what the registry reads need: a *sql.DB outside a transaction or a *sql.Tx inside one.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func tableExists(ctx context.Context, q queryer, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return n > 0, nil
}

// Installed lists the apps installed in the tenant database, by name. A database that never had an app returns none.
func Installed(ctx context.Context, db *sql.DB) ([]InstalledApp, error) {
	return installedApps(ctx, db)
}

func installedApps(ctx context.Context, q queryer) ([]InstalledApp, error) {
	ok, err := tableExists(ctx, q, "_objectstack_apps")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, appsListSQL)
	if err != nil {
		return nil, fmt.Errorf("list installed apps: %w", err)
	}
	defer rows.Close()
	var out []InstalledApp
	for rows.Next() {
		a, err := scanInstalled(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// scanInstalled reads one appsListSQL row, from *sql.Rows or a batched read (database.Row).
func scanInstalled(sc interface{ Scan(dest ...any) error }) (InstalledApp, error) {
	var a InstalledApp
	var cfg, objs, deps string
	if err := sc.Scan(&a.Name, &a.Version, &a.Checksum, &cfg, &objs, &deps, &a.InstalledAt, &a.UpdatedAt); err != nil {
		return a, fmt.Errorf("list installed apps: %w", err)
	}
	if err := json.Unmarshal([]byte(cfg), &a.Config); err != nil {
		return a, fmt.Errorf("installed app %s: config: %w", a.Name, err)
	}
	if err := json.Unmarshal([]byte(objs), &a.Objects); err != nil {
		return a, fmt.Errorf("installed app %s: objects: %w", a.Name, err)
	}
	if err := json.Unmarshal([]byte(deps), &a.Dependencies); err != nil {
		return a, fmt.Errorf("installed app %s: dependencies: %w", a.Name, err)
	}
	if a.Config == nil {
		a.Config = map[string]any{}
	}
	return a, nil
}

func installedByName(apps []InstalledApp) map[string]*InstalledApp {
	m := make(map[string]*InstalledApp, len(apps))
	for i := range apps {
		m[apps[i].Name] = &apps[i]
	}
	return m
}

// registerStatements write (or replace) the app's row, keeping the first installed_at across upgrades.
func registerStatements(app *App, config map[string]any) []database.Stmt {
	if config == nil {
		config = map[string]any{}
	}
	cfg, _ := json.Marshal(config) // ResolveConfig produced it from JSON-compatible values
	names := app.ObjectNames()
	sort.Strings(names)
	objs, _ := json.Marshal(names)
	depList := app.Manifest.Dependencies
	if depList == nil {
		depList = []Dependency{}
	}
	deps, _ := json.Marshal(depList)
	man, _ := json.Marshal(app.Manifest)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	return []database.Stmt{{SQL: appsTableSQL}, {SQL: `INSERT INTO "_objectstack_apps"
		("name", "version", "checksum", "config", "objects", "dependencies", "manifest", "installed_at", "updated_at")
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT ("name") DO UPDATE SET "version" = excluded."version", "checksum" = excluded."checksum",
			"config" = excluded."config", "objects" = excluded."objects", "dependencies" = excluded."dependencies",
			"manifest" = excluded."manifest", "updated_at" = excluded."updated_at"`,
		Args: []any{app.Manifest.Name, app.Manifest.Version, app.Checksum, string(cfg), string(objs), string(deps), string(man), now, now}}}
}

func unregisterApp(ctx context.Context, tx *sql.Tx, name string) error {
	ok, err := tableExists(ctx, tx, "_objectstack_apps")
	if err != nil || !ok {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "_objectstack_apps" WHERE "name" = ?`, name); err != nil {
		return fmt.Errorf("unregister app %s: %w", name, err)
	}
	return nil
}

// dependents lists the installed apps (other than name) that declare a dependency on name.
func dependents(apps []InstalledApp, name string) []string {
	var out []string
	for _, a := range apps {
		if a.Name == name {
			continue
		}
		for _, d := range a.Dependencies {
			if d.Name == name {
				out = append(out, a.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }
