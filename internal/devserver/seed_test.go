package devserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSnapshotsOnlyBeforeDestructivePipelines: writes, reads and additive DDL take no snapshot; a
// pipeline that drops a column or a table takes one before it runs; expired ones are pruned.
func TestSnapshotsOnlyBeforeDestructivePipelines(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Options{DataDir: dir, SnapshotRetention: time.Hour})
	ts.createDB("pitr")
	tok := ts.token("pitr", "")
	db := ts.client("pitr", tok)
	snaps := func() int {
		entries, _ := os.ReadDir(filepath.Join(dir, "snapshots", "pitr"))
		return len(entries)
	}
	for _, q := range []string{
		`CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)`,
		`INSERT INTO t (a, b) VALUES ('x', 'y')`,
		`ALTER TABLE t ADD COLUMN c TEXT`,
		`CREATE INDEX t_a ON t (a)`,
		`DROP INDEX t_a`,
		`UPDATE t SET c = 'drop table'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if got := snaps(); got != 0 {
		t.Fatalf("%d snapshots after non-destructive statements, want 0", got)
	}
	if _, err := db.Exec(`ALTER TABLE t DROP COLUMN b`); err != nil {
		t.Fatal(err)
	}
	if got := snaps(); got != 1 {
		t.Fatalf("%d snapshots after DROP COLUMN, want 1", got)
	}
	// A stale snapshot is pruned by the next one.
	old := filepath.Join(dir, "snapshots", "pitr", "1-1.db")
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE t`); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("expired snapshot kept: %v", err)
	}
	if got := snaps(); got != 2 {
		t.Fatalf("%d snapshots after DROP TABLE, want 2", got)
	}
}

// TestSeedTimestampErrors: Turso-shaped 400 bodies for a timestamp without history, a malformed
// one and a missing source; nothing is created.
func TestSeedTimestampErrors(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("src")
	cases := []struct {
		seed map[string]any
		want string
	}{
		{map[string]any{"type": "database", "name": "src", "timestamp": time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)}, "no point-in-time restore point"},
		{map[string]any{"type": "database", "name": "src", "timestamp": "yesterday"}, "invalid seed timestamp"},
		{map[string]any{"type": "database", "name": "nope", "timestamp": time.Now().UTC().Format(time.RFC3339)}, "could not find database with name nope"},
		{map[string]any{"type": "database_upload"}, "not supported"},
	}
	for _, c := range cases {
		st, m, raw := ts.apiCall("POST", "/databases", map[string]any{"name": "dst", "group": "default", "seed": c.seed})
		msg, _ := m["error"].(string)
		if st != 400 || !strings.Contains(msg, c.want) {
			t.Fatalf("seed %v: %d %s; want 400 with %q", c.seed, st, raw, c.want)
		}
		if st, _, _ := ts.apiCall("GET", "/databases/dst", nil); st != 404 {
			t.Fatalf("a refused seed created the database (GET %d)", st)
		}
	}
}

func TestPipelineEffects(t *testing.T) {
	s := func(q string) *string { return &q }
	cases := []struct {
		req                *pipelineRequest
		writes, destroying bool
	}{
		{&pipelineRequest{Requests: []streamRequest{{Type: "execute", Stmt: &stmt{SQL: s("SELECT 1")}}}}, false, false},
		{&pipelineRequest{Requests: []streamRequest{{Type: "execute", Stmt: &stmt{SQL: s("PRAGMA table_info(t)")}}}}, false, false},
		{&pipelineRequest{Requests: []streamRequest{{Type: "execute", Stmt: &stmt{SQL: s("insert into t values (1)")}}}}, true, false},
		{&pipelineRequest{Requests: []streamRequest{{Type: "batch", Batch: &batch{Steps: []batchStep{
			{Stmt: stmt{SQL: s("BEGIN")}}, {Stmt: stmt{SQL: s(`ALTER TABLE "a" DROP COLUMN "b"`)}}, {Stmt: stmt{SQL: s("COMMIT")}}}}}}}, true, true},
		{&pipelineRequest{Requests: []streamRequest{{Type: "sequence", SQL: s("CREATE TABLE x(a); DROP TABLE y;")}}}, true, true},
		{&pipelineRequest{Requests: []streamRequest{{Type: "execute", Stmt: &stmt{SQL: s("DROP INDEX i")}}}}, true, false},
		{&pipelineRequest{Requests: []streamRequest{{Type: "execute", Stmt: &stmt{SQL: s("UPDATE t SET c = 'it''s a drop table note'")}}}}, true, false},
	}
	for i, c := range cases {
		w, d := pipelineEffects(c.req)
		if w != c.writes || d != c.destroying {
			t.Errorf("case %d: writes %v destructive %v, want %v %v", i, w, d, c.writes, c.destroying)
		}
	}
}
