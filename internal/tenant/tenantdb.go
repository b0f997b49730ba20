package tenant

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// This file owns the SQL the tenant package runs inside tenant databases: the ownership marker
// table _objectstack_tenant, usage measurements and backups.

// markerTable records which tenant a database belongs to, so an "already exists" from the platform
// is adopted only when the database is ours.
const markerTable = "_objectstack_tenant"

// claimOwnership makes sure db belongs to tenant id. A database carrying another tenant's marker, or
// one without a marker that already holds tables (something else's data), is an ErrConflict; a new
// or empty database gets our marker. fresh means the platform reports the database as created for
// this call; an empty one is then claimed without the marker checks. Only "empty" is trusted, not
// "fresh": the Turso client also reports a database it found by name after a lost create answer
// as created, and that database may have existed (with someone's data) before our POST.
func claimOwnership(ctx context.Context, db *sql.DB, id string, fresh bool) error {
	if fresh {
		n, err := countTables(ctx, db)
		if err != nil {
			return err
		}
		if n == 0 {
			return writeMarker(ctx, db, id)
		}
	}
	owner, err := readMarker(ctx, db)
	if err != nil {
		return err
	}
	switch {
	case owner == id:
		return nil
	case owner != "":
		return fmt.Errorf("database belongs to tenant %q: %w", owner, ErrConflict)
	}
	n, err := countTables(ctx, db)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("database already holds %d tables and no ObjectStack tenant marker; refusing to adopt it: %w", n, ErrConflict)
	}
	if err := writeMarker(ctx, db, id); err != nil {
		return err
	}
	// INSERT OR IGNORE plus this re-read settles a race between two claimants on the first writer.
	owner, err = readMarker(ctx, db)
	if err != nil {
		return err
	}
	if owner != id {
		return fmt.Errorf("database belongs to tenant %q: %w", owner, ErrConflict)
	}
	return nil
}

// countTables counts the database's own tables (SQLite's internal ones aside).
func countTables(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("inspect database: %w", err)
	}
	return n, nil
}

// markerStatements create the one-row marker table and claim it for tenant id, for a batch.
func markerStatements(id string) []database.Stmt {
	return []database.Stmt{
		{SQL: `CREATE TABLE IF NOT EXISTS ` + markerTable + ` (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		tenant_id TEXT NOT NULL,
		claimed_at TEXT NOT NULL
	)`},
		{SQL: `INSERT OR IGNORE INTO ` + markerTable + ` (id, tenant_id, claimed_at) VALUES (1, ?, ?)`, Args: []any{id, formatTime(time.Now())}},
	}
}

// writeMarker creates the one-row marker table and claims it, in one transaction and one round trip.
func writeMarker(ctx context.Context, db *sql.DB, id string) error {
	if _, err := database.For(db).Write(ctx, markerStatements(id), database.WriteOptions{}); err != nil {
		return fmt.Errorf("write ownership marker: %w", err)
	}
	return nil
}

func readMarker(ctx context.Context, db *sql.DB) (string, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, markerTable).Scan(&n); err != nil {
		return "", fmt.Errorf("read ownership marker: %w", err)
	}
	if n == 0 {
		return "", nil
	}
	var owner string
	err := db.QueryRowContext(ctx, `SELECT tenant_id FROM `+markerTable+` WHERE id = 1`).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read ownership marker: %w", err)
	}
	return owner, nil
}

// storageBytes is the database size as SQLite sees it (page_count × page_size).
func storageBytes(ctx context.Context, db *sql.DB) (int64, error) {
	var pages, size int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, fmt.Errorf("measure storage: %w", err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, fmt.Errorf("measure storage: %w", err)
	}
	return pages * size, nil
}

// countRows counts the rows of table (an object's table, named by the engine's registry).
func countRows(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+schema.QuoteIdent(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}
	return n, nil
}

// vacuumInto writes a consistent copy of db to path (a local SQLite file).
func vacuumInto(ctx context.Context, db *sql.DB, path string) error {
	// VACUUM INTO creates its target with mode 0644; it accepts an existing empty file, which
	// is created first so the copy of the tenant's data is owner-only from its first byte.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("backup (VACUUM INTO): %w", err)
	}
	return nil
}

// dumpSQL writes db as a SQL script (schema, then every row as INSERT) to path, inside one read
// transaction so the dump is consistent. It is the remote backup: Turso offers no file download
// through the Platform API, so this is a best-effort logical dump that `sqlite3 new.db < dump.sql`
// restores (tables, indexes, triggers, views and data; not sqlite_sequence counters).
func dumpSQL(ctx context.Context, db *sql.DB, path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("backup: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	w := bufio.NewWriter(f)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	type obj struct{ typ, name, sql string }
	rows, err := conn.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid`)
	if err != nil {
		return fmt.Errorf("backup: read schema: %w", err)
	}
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			rows.Close()
			return fmt.Errorf("backup: read schema: %w", err)
		}
		objs = append(objs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backup: read schema: %w", err)
	}
	fmt.Fprintf(w, "-- objectstack tenant backup, %s\nPRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n", formatTime(time.Now()))
	for _, o := range objs {
		if o.typ != "table" {
			continue
		}
		fmt.Fprintf(w, "%s;\n", o.sql)
		if err := dumpTable(ctx, conn, w, o.name); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.typ != "table" {
			fmt.Fprintf(w, "%s;\n", o.sql)
		}
	}
	fmt.Fprintln(w, "COMMIT;")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return f.Sync()
}

func dumpTable(ctx context.Context, conn *sql.Conn, w *bufio.Writer, table string) error {
	rows, err := conn.QueryContext(ctx, `SELECT * FROM `+schema.QuoteIdent(table))
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", table, err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("backup: read %s: %w", table, err)
		}
		w.WriteString("INSERT INTO " + schema.QuoteIdent(table) + " VALUES(")
		for i, v := range vals {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(sqlLiteral(v))
		}
		w.WriteString(");\n")
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backup: read %s: %w", table, err)
	}
	return nil
}

func sqlLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "NULL"
		}
		s := strconv.FormatFloat(x, 'g', 17, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0" // keep REAL affinity on restore
		}
		return s
	case bool:
		if x {
			return "1"
		}
		return "0"
	case []byte:
		return "X'" + hex.EncodeToString(x) + "'"
	case string:
		return schema.QuoteLiteral(x)
	case time.Time:
		return schema.QuoteLiteral(x.UTC().Format(time.RFC3339Nano))
	}
	return schema.QuoteLiteral(fmt.Sprint(v))
}
