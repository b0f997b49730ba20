package devserver

import (
	"fmt"
	"testing"
)

// TestPooledConnectionSeesSchemaChanges: a connection that went back to the pool before another stream added a
// column must see that column when it serves the next stream. ALTER TABLE … DROP COLUMN resolves the column on
// the connection's cached schema at parse time and never retries, so a stale pooled connection answered
// "no such column" for a column every other client could see (a hand edit in a test failed one run in five).
func TestPooledConnectionSeesSchemaChanges(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("pool")
	tok := ts.token("pool", "")
	exec := func(baton, sql string, close bool) string {
		t.Helper()
		reqs := fmt.Sprintf(`{"type":"execute","stmt":{"sql":%q}}`, sql)
		if close {
			reqs += `,{"type":"close"}`
		}
		body := `{"requests":[` + reqs + `]}`
		if baton != "" {
			body = `{"baton":` + fmt.Sprintf("%q", baton) + `,"requests":[` + reqs + `]}`
		}
		st, m := ts.pipeline("pool", tok, body)
		rs := results(t, m)
		if st != 200 || rs[0]["type"] != "ok" {
			t.Fatalf("%s: %d %v", sql, st, m)
		}
		b, _ := m["baton"].(string)
		return b
	}
	exec("", "CREATE TABLE t (a TEXT)", true) // connection 1 loads the schema, then goes back to the pool
	held := exec("", "SELECT 1", false)       // a stream holds connection 1 open
	exec("", "ALTER TABLE t ADD COLUMN b TEXT", true)
	exec(held, "SELECT 1", true) // connection 1 goes back to the pool, last in: the next stream gets it
	exec("", "ALTER TABLE t DROP COLUMN b", true)
}
