package devserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The registry of databases, groups and the token-signing key lives in DataDir/devserver.db;
// each database is DataDir/databases/<name>.db. This package owns those tables.

const registrySchema = `
CREATE TABLE IF NOT EXISTS devserver_databases (
	name              TEXT PRIMARY KEY,
	org               TEXT NOT NULL,
	db_id             TEXT NOT NULL,
	group_name        TEXT NOT NULL,
	created_at        TEXT NOT NULL,
	size_limit        INTEGER NOT NULL DEFAULT 0,
	block_reads       INTEGER NOT NULL DEFAULT 0,
	block_writes      INTEGER NOT NULL DEFAULT 0,
	delete_protection INTEGER NOT NULL DEFAULT 0,
	token_gen         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS devserver_groups (
	org        TEXT NOT NULL,
	name       TEXT NOT NULL,
	uuid       TEXT NOT NULL,
	location   TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (org, name)
);
CREATE TABLE IF NOT EXISTS devserver_secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);`

// dbConfig is the Turso database configuration the server enforces.
type dbConfig struct {
	SizeLimit        int64
	BlockReads       bool
	BlockWrites      bool
	DeleteProtection bool
}

// dbEntry is one database the server holds. Registry fields are guarded by Server.mu.
type dbEntry struct {
	name, org, dbID, group string
	createdAt              time.Time
	path                   string
	cfg                    dbConfig
	gen                    int64

	// use is read-locked by every Hrana request and write-locked by delete, so a database
	// is never removed under a running statement.
	use     sync.RWMutex
	deleted bool // written holding use (write lock) and poolMu; read under either

	poolMu sync.Mutex
	idle   []idleConn // a stack: most recently returned last
	open   int        // open streams, guarded by Server.streamsMu

	rowsRead, rowsWritten atomic.Int64
	// lastWrite is when a pipeline that may write last finished (unix ns; 0: not since the server
	// started): the start of the span a destructive-change snapshot stands for (seed.go).
	lastWrite atomic.Int64
}

type idleConn struct {
	conn  *sqliteConn
	since time.Time
}

type groupEntry struct {
	org, name, uuid, location string
	createdAt                 time.Time
}

type registry struct {
	db *sql.DB
}

func openRegistry(ctx context.Context, dir string) (*registry, error) {
	// devserver.db holds the Ed25519 seed every database token is signed with, and databases/
	// the data: owner-only, tightened too when an older version left them readable by all.
	for _, d := range []string{dir, filepath.Join(dir, "databases")} {
		if err := database.PrivateDir(d); err != nil {
			return nil, fmt.Errorf("dev server data directory: %w", err)
		}
	}
	path := filepath.Join(dir, "devserver.db")
	if err := database.PrivateFile(path); err != nil {
		return nil, fmt.Errorf("dev server registry: %w", err)
	}
	u, err := database.FileURL(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", u)
	if err != nil {
		return nil, fmt.Errorf("open dev server registry: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, registrySchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create dev server registry tables: %w", err)
	}
	return &registry{db: db}, nil
}

func (r *registry) close() error { return r.db.Close() }

// secret returns the named secret, creating it with n random bytes on first use.
func (r *registry) secret(ctx context.Context, name string, n int) ([]byte, error) {
	var v []byte
	err := r.db.QueryRowContext(ctx, `SELECT value FROM devserver_secrets WHERE name = ?`, name).Scan(&v)
	if err == nil && len(v) == n {
		return v, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read dev server secret %s: %w", name, err)
	}
	v = make([]byte, n)
	if _, err := rand.Read(v); err != nil {
		return nil, err
	}
	if _, err := r.db.ExecContext(ctx, `INSERT OR REPLACE INTO devserver_secrets(name, value) VALUES (?, ?)`, name, v); err != nil {
		return nil, fmt.Errorf("store dev server secret %s: %w", name, err)
	}
	return v, nil
}

func (r *registry) loadDatabases(ctx context.Context, dataDir string) (map[string]*dbEntry, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT name, org, db_id, group_name, created_at, size_limit, block_reads, block_writes, delete_protection, token_gen FROM devserver_databases`)
	if err != nil {
		return nil, fmt.Errorf("load dev server databases: %w", err)
	}
	defer rows.Close()
	out := map[string]*dbEntry{}
	for rows.Next() {
		e := &dbEntry{}
		var created string
		if err := rows.Scan(&e.name, &e.org, &e.dbID, &e.group, &created, &e.cfg.SizeLimit, &e.cfg.BlockReads, &e.cfg.BlockWrites, &e.cfg.DeleteProtection, &e.gen); err != nil {
			return nil, fmt.Errorf("load dev server databases: %w", err)
		}
		e.createdAt, _ = time.Parse(time.RFC3339Nano, created)
		e.path = databasePath(dataDir, e.name)
		out[e.name] = e
	}
	return out, rows.Err()
}

func (r *registry) loadGroups(ctx context.Context) (map[string]*groupEntry, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT org, name, uuid, location, created_at FROM devserver_groups`)
	if err != nil {
		return nil, fmt.Errorf("load dev server groups: %w", err)
	}
	defer rows.Close()
	out := map[string]*groupEntry{}
	for rows.Next() {
		g := &groupEntry{}
		var created string
		if err := rows.Scan(&g.org, &g.name, &g.uuid, &g.location, &created); err != nil {
			return nil, fmt.Errorf("load dev server groups: %w", err)
		}
		g.createdAt, _ = time.Parse(time.RFC3339Nano, created)
		out[groupKey(g.org, g.name)] = g
	}
	return out, rows.Err()
}

func groupKey(org, name string) string { return org + "/" + name }

func (r *registry) insertDatabase(ctx context.Context, e *dbEntry) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO devserver_databases(name, org, db_id, group_name, created_at, size_limit, token_gen) VALUES (?, ?, ?, ?, ?, ?, 0)`,
		e.name, e.org, e.dbID, e.group, e.createdAt.UTC().Format(time.RFC3339Nano), e.cfg.SizeLimit)
	if err != nil {
		return fmt.Errorf("register database %s: %w", e.name, err)
	}
	return nil
}

func (r *registry) updateDatabase(ctx context.Context, name string, cfg dbConfig, gen int64) error {
	_, err := r.db.ExecContext(ctx, `UPDATE devserver_databases SET size_limit = ?, block_reads = ?, block_writes = ?, delete_protection = ?, token_gen = ? WHERE name = ?`,
		cfg.SizeLimit, cfg.BlockReads, cfg.BlockWrites, cfg.DeleteProtection, gen, name)
	if err != nil {
		return fmt.Errorf("update database %s: %w", name, err)
	}
	return nil
}

func (r *registry) deleteDatabase(ctx context.Context, name string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM devserver_databases WHERE name = ?`, name); err != nil {
		return fmt.Errorf("unregister database %s: %w", name, err)
	}
	return nil
}

func (r *registry) insertGroup(ctx context.Context, g *groupEntry) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO devserver_groups(org, name, uuid, location, created_at) VALUES (?, ?, ?, ?, ?)`,
		g.org, g.name, g.uuid, g.location, g.createdAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("register group %s: %w", g.name, err)
	}
	return nil
}

func (r *registry) deleteGroup(ctx context.Context, org, name string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM devserver_groups WHERE org = ? AND name = ?`, org, name); err != nil {
		return fmt.Errorf("unregister group %s: %w", name, err)
	}
	return nil
}

func databasePath(dataDir, name string) string {
	return filepath.Join(dataDir, "databases", name+".db")
}

// fileSize is the database's storage: the main file plus its WAL.
func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
