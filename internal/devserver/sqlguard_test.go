package devserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// errorText returns the message of an error result, failing the test when r is not an error.
func errorText(t *testing.T, what string, r map[string]any) string {
	t.Helper()
	if r["type"] != "error" {
		t.Fatalf("%s was accepted: %.300v", what, r)
	}
	e, _ := r["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// firstValue is the first column of the first row of an ok execute result.
func firstValue(t *testing.T, r map[string]any) any {
	t.Helper()
	rows := stmtResultOf(t, r)["rows"].([]any)
	if len(rows) == 0 {
		return nil
	}
	return rows[0].([]any)[0].(map[string]any)["value"]
}

// TestSQLCannotTouchFilesOutsideTheDatabase: a full-access token runs SQL on the developer's
// machine; nothing it sends may create, write or read a file other than its database's own.
// VACUUM INTO wrote anywhere before the authorizer; the rest are belts for the same hole.
func TestSQLCannotTouchFilesOutsideTheDatabase(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("files")
	tok := ts.token("files", "")
	outside := t.TempDir()
	target := func(name string) string { return filepath.Join(outside, name) }
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

	// A database that exists outside, holding a "secret": ATTACH must not read it.
	secretDB := target("secret.db")
	{
		c, err := openSQLite(secretDB, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.execScript(t.Context(), "CREATE TABLE s(v); INSERT INTO s VALUES ('top-secret')"); err != nil {
			t.Fatal(err)
		}
		c.close()
	}
	_, m := ts.pipeline("files", tok, pipelineBody("", execReq("CREATE TABLE t(x)"), execReq("INSERT INTO t VALUES (1)")))
	for _, r := range results(t, m) {
		stmtResultOf(t, r)
	}

	for _, tc := range []struct{ name, sql string }{
		{"VACUUM INTO", "VACUUM INTO " + q(target("copy1.db"))},
		{"VACUUM INTO behind a comment", "/* maintenance */ vacuum main into " + q(target("copy2.db"))},
		{"VACUUM INTO a URI", "VACUUM INTO " + q("file:"+target("copy3.db"))},
		{"ATTACH a new file", "ATTACH DATABASE " + q(target("new.db")) + " AS n"},
		{"ATTACH an existing file", "ATTACH " + q(secretDB) + " AS s"},
		{"ATTACH by expression", "ATTACH " + q(target("")) + " || 'expr.db' AS e"},
		{"load_extension", "SELECT load_extension(" + q(target("evil.so")) + ")"},
		{"temp_store_directory", "PRAGMA temp_store_directory = " + q(outside)},
		{"hard_heap_limit", "PRAGMA hard_heap_limit = 1"},
		{"max_page_count", "PRAGMA max_page_count(1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := ts.pipeline("files", tok, pipelineBody("", execReq(tc.sql)))
			msg := errorText(t, tc.sql, results(t, m)[0])
			if !strings.Contains(msg, "not authorized") && !strings.Contains(msg, "managed by the server") {
				t.Errorf("%s: error %q does not say it was refused", tc.sql, msg)
			}
		})
	}
	// The same statements inside a sequence and a batch step take the same path.
	_, m = ts.pipeline("files", tok, pipelineBody("",
		map[string]any{"type": "sequence", "sql": "SELECT 1; VACUUM INTO " + q(target("seq.db")) + "; SELECT 2"},
		map[string]any{"type": "batch", "batch": map[string]any{"steps": []any{
			map[string]any{"stmt": map[string]any{"sql": "VACUUM INTO " + q(target("batch.db"))}},
		}}},
		map[string]any{"type": "store_sql", "sql_id": 1, "sql": "VACUUM INTO " + q(target("stored.db"))},
		map[string]any{"type": "execute", "stmt": map[string]any{"sql_id": 1}},
	))
	rs := results(t, m)
	errorText(t, "VACUUM INTO in a sequence", rs[0])
	if errs := rs[1]["response"].(map[string]any)["result"].(map[string]any)["step_errors"].([]any); errs[0] == nil {
		t.Error("VACUUM INTO in a batch step was accepted")
	}
	errorText(t, "VACUUM INTO by sql_id", rs[3])

	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "secret.db" {
			t.Errorf("a statement created %s outside the database", e.Name())
		}
	}
	// Plain VACUUM only rewrites the database in place (through SQLite's own temporary copy) and
	// keeps working; so do ordinary reads, and the connection is not left able to attach.
	_, m = ts.pipeline("files", tok, pipelineBody("", execReq("VACUUM"), execReq("SELECT x FROM t"),
		execReq("ATTACH "+q(target("after.db"))+" AS a")))
	rs = results(t, m)
	stmtResultOf(t, rs[0])
	if v := firstValue(t, rs[1]); v != "1" {
		t.Fatalf("after VACUUM: %v", v)
	}
	errorText(t, "ATTACH after a VACUUM", rs[2])
	if _, err := os.Stat(target("after.db")); err == nil {
		t.Error("ATTACH after VACUUM created a file")
	}
}

// TestReadOnlyTokenCannotLockOrWrite: a read-only token could hold an exclusive lock (every
// writer then failed with SQLITE_BUSY until the stream expired) and could write sqlite_stat1
// through PRAGMA optimize. Its connections now run with query_only and may not change settings.
func TestReadOnlyTokenCannotLockOrWrite(t *testing.T) {
	ts := startServer(t, Options{BusyTimeout: 300 * time.Millisecond, MaxIdleConnsPerDatabase: 1})
	ts.createDB("ro")
	rw := ts.token("ro", "")
	ro := ts.token("ro", "authorization=read-only")
	_, m := ts.pipeline("ro", rw, pipelineBody("", execReq("CREATE TABLE t(x INTEGER)"), execReq("CREATE INDEX t_x ON t(x)"),
		execReq("INSERT INTO t VALUES (1), (2), (3)")))
	for _, r := range results(t, m) {
		stmtResultOf(t, r)
	}

	// The lock attempt, then a read that would take the lock, on a stream kept open.
	_, m = ts.pipeline("ro", ro, pipelineBody("", execReq("PRAGMA locking_mode = EXCLUSIVE"), execReq("SELECT count(*) FROM t")))
	rs := results(t, m)
	errorText(t, "PRAGMA locking_mode = EXCLUSIVE with a read-only token", rs[0])
	if v := firstValue(t, rs[1]); v != "3" {
		t.Fatalf("read with a read-only token: %v", v)
	}
	held := batonOf(t, m)
	_, m = ts.pipeline("ro", ro, pipelineBody(held, execReq("BEGIN EXCLUSIVE")))
	errorText(t, "BEGIN EXCLUSIVE with a read-only token", results(t, m)[0])
	held = batonOf(t, m)
	_, m = ts.pipeline("ro", ro, pipelineBody(held, execReq("BEGIN IMMEDIATE")))
	errorText(t, "BEGIN IMMEDIATE with a read-only token", results(t, m)[0])
	held = batonOf(t, m)

	// While that stream stays open, a writer on another stream gets through at once.
	start := time.Now()
	_, m = ts.pipeline("ro", rw, pipelineBody("", execReq("INSERT INTO t VALUES (4)")))
	stmtResultOf(t, results(t, m)[0])
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the write took %v", d)
	}

	for _, sql := range []string{
		"PRAGMA optimize = 0x10002", // ANALYZE: creates sqlite_stat1
		"PRAGMA optimize",
		"ANALYZE",
		"PRAGMA query_only = 0",
		"PRAGMA query_only(0)",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA main.locking_mode = EXCLUSIVE",
		"PRAGMA locking_mode(exclusive)",
		"PRAGMA wal_checkpoint(TRUNCATE)",
		"PRAGMA user_version = 7",
		"PRAGMA schema_version = 99",
		"INSERT INTO t VALUES (5)",
		"REINDEX",
		"VACUUM",
	} {
		_, m := ts.pipeline("ro", ro, pipelineBody(held, execReq(sql), execReq("INSERT INTO t VALUES (6)")))
		rs := results(t, m)
		errorText(t, sql+" with a read-only token", rs[0])
		errorText(t, "a write after "+sql+" with a read-only token", rs[1])
		held = batonOf(t, m)
	}
	// Reads and schema queries keep working.
	_, m = ts.pipeline("ro", ro, pipelineBody(held, execReq("PRAGMA table_info(t)"), execReq("PRAGMA user_version"),
		execReq("PRAGMA page_count"), map[string]any{"type": "close"}))
	for _, r := range results(t, m)[:3] {
		stmtResultOf(t, r)
	}

	_, m = ts.pipeline("ro", rw, pipelineBody("",
		execReq("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'"),
		execReq("PRAGMA journal_mode"), execReq("PRAGMA user_version"), execReq("SELECT count(*) FROM t"),
		// The pooled connection last served the read-only stream: writes work again here.
		execReq("INSERT INTO t VALUES (7)")))
	rs = results(t, m)
	if v := firstValue(t, rs[0]); v != "0" {
		t.Errorf("a read-only token created %v sqlite_stat tables", v)
	}
	if v := firstValue(t, rs[1]); v != "wal" {
		t.Errorf("journal_mode is %v after read-only attempts, want wal", v)
	}
	if v := firstValue(t, rs[2]); v != "0" {
		t.Errorf("user_version is %v, want 0", v)
	}
	if v := firstValue(t, rs[3]); v != "4" {
		t.Errorf("%v rows, want 4 (a read-only write got through)", v)
	}
	stmtResultOf(t, rs[4])

	// The same through libsql-client-go, as a program holding only a read-only token would.
	db := ts.client("ro", ro)
	if _, err := db.ExecContext(t.Context(), "PRAGMA locking_mode = EXCLUSIVE"); err == nil {
		t.Error("libsql-client-go: locking_mode with a read-only token succeeded")
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 5 {
		t.Errorf("libsql-client-go read: %d, %v", n, err)
	}
}
