package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// registryDDL creates the registry tables. It runs inside Apply's transaction too, so a first apply
// creates them atomically with the first schema.
var registryDDL = []string{
	`CREATE TABLE IF NOT EXISTS _objectstack_objects (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  table_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  checksum TEXT NOT NULL,
  updated_at TEXT NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS _objectstack_objects_owner ON _objectstack_objects (owner)`,
	`CREATE TABLE IF NOT EXISTS _objectstack_deployments (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  checksum TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  statements TEXT NOT NULL DEFAULT '[]',
  rollback TEXT NOT NULL DEFAULT '[]',
  previous TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  rolled_back_by TEXT,
  started_at TEXT NOT NULL,
  completed_at TEXT,
  restore_point TEXT
)`,
	`CREATE INDEX IF NOT EXISTS _objectstack_deployments_owner ON _objectstack_deployments (owner, seq)`,
	`CREATE TABLE IF NOT EXISTS _objectstack_lock (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  acquired_at TEXT NOT NULL
)`,
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func ensureRegistry(ctx context.Context, x execer) error {
	for _, s := range registryDDL {
		if _, err := x.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create registry tables: %w", err)
		}
	}
	return nil
}

// EnsureRegistry creates the _objectstack_* registry tables if they are missing.
func EnsureRegistry(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("create registry tables: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create registry tables: %w", err)
	}
	if err := ensureRegistry(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create registry tables: %w", err)
	}
	return nil
}

// registryRow is one _objectstack_objects row as a plan sees it; Definition is only read for the
// planning owner's own rows.
type registryRow struct {
	Owner, Name, Table, Checksum string
	Definition                   []byte
	chained                      bool // written by a plan chained with State.After, not read from the database
}

func readRegistry(ctx context.Context, q queryer, owner Owner) ([]registryRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT owner, name, table_name, checksum, CASE WHEN owner = ? THEN definition END
FROM _objectstack_objects ORDER BY name`, string(owner))
	if err != nil {
		return nil, fmt.Errorf("read object registry: %w", err)
	}
	defer rows.Close()
	var out []registryRow
	for rows.Next() {
		var r registryRow
		var def sql.NullString
		if err := rows.Scan(&r.Owner, &r.Name, &r.Table, &r.Checksum, &def); err != nil {
			return nil, fmt.Errorf("read object registry: %w", err)
		}
		if def.Valid {
			r.Definition = []byte(def.String)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read object registry: %w", err)
	}
	return out, nil
}

func registryExists(ctx context.Context, q queryer) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_objectstack_objects'`)
	if err != nil {
		return false, fmt.Errorf("read registry: %w", err)
	}
	defer rows.Close()
	ok := rows.Next()
	return ok, rows.Err()
}

// RegisteredObjects returns every registered object of every owner, in name order.
func RegisteredObjects(ctx context.Context, db *sql.DB) ([]RegisteredObject, error) {
	if ok, err := registryExists(ctx, db); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT owner, name, table_name, checksum, definition FROM _objectstack_objects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read object registry: %w", err)
	}
	defer rows.Close()
	var out []RegisteredObject
	for rows.Next() {
		var r RegisteredObject
		var owner, def string
		if err := rows.Scan(&owner, &r.Name, &r.Table, &r.Checksum, &def); err != nil {
			return nil, fmt.Errorf("read object registry: %w", err)
		}
		r.Owner = Owner(owner)
		if r.Definition, err = decodeObject([]byte(def)); err != nil {
			return nil, fmt.Errorf("registered object %s: %w", r.Name, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OwnerChecksum returns the checksum of the object set registered for owner ("" when it has none).
// It equals Plan.Checksum of a plan for the same objects, so comparing them detects a pending change
// without introspecting.
func OwnerChecksum(ctx context.Context, db *sql.DB, owner Owner) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT o.name, o.checksum FROM sqlite_schema AS s
JOIN _objectstack_objects AS o ON o.owner = ? WHERE s.type = 'table' AND s.name = '_objectstack_objects'`, string(owner))
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return "", nil
		}
		return "", fmt.Errorf("owner checksum %s: %w", owner, err)
	}
	defer rows.Close()
	pairs := map[string]string{}
	for rows.Next() {
		var n, c string
		if err := rows.Scan(&n, &c); err != nil {
			return "", fmt.Errorf("owner checksum %s: %w", owner, err)
		}
		pairs[n] = c
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("owner checksum %s: %w", owner, err)
	}
	return setChecksum(pairs), nil
}

const deploymentColumns = `id, owner, version, checksum, source, status, statements, COALESCE(error, ''), COALESCE(rolled_back_by, ''), started_at, COALESCE(completed_at, '')`

// scanDeployment reads one deploymentColumns row, from *sql.Rows or a batched read (database.Row).
func scanDeployment(rows interface{ Scan(dest ...any) error }) (Deployment, error) {
	var d Deployment
	var owner, stmts string
	if err := rows.Scan(&d.ID, &owner, &d.Version, &d.Checksum, &d.Source, &d.Status, &stmts, &d.Error, &d.RolledBackBy, &d.StartedAt, &d.CompletedAt); err != nil {
		return d, err
	}
	d.Owner = Owner(owner)
	if err := json.Unmarshal([]byte(stmts), &d.Statements); err != nil {
		return d, fmt.Errorf("deployment %s statements: %w", d.ID, err)
	}
	return d, nil
}

// Deployments returns the deployments of owner (all owners when owner is ""), oldest first.
func Deployments(ctx context.Context, db *sql.DB, owner Owner) ([]Deployment, error) {
	if ok, err := registryExists(ctx, db); err != nil || !ok {
		return nil, err
	}
	q := `SELECT ` + deploymentColumns + ` FROM _objectstack_deployments WHERE ? = '' OR owner = ? ORDER BY seq`
	rows, err := db.QueryContext(ctx, q, string(owner), string(owner))
	if err != nil {
		return nil, fmt.Errorf("read deployments: %w", err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("read deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
