package devserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Raw Hrana JSON: the rules of research notes §2.4 checked on the wire.

func execReq(sql string) map[string]any {
	return map[string]any{"type": "execute", "stmt": map[string]any{"sql": sql}}
}

func pipelineBody(baton string, reqs ...map[string]any) string {
	body := map[string]any{"requests": reqs}
	if baton != "" {
		body["baton"] = baton
	}
	return mustJSON(body)
}

func TestProtocolBatons(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("batons")
	ts.createDB("elsewhere")
	tok := ts.token("batons", "")

	st, m := ts.pipeline("batons", tok, pipelineBody("", execReq("SELECT 1")))
	if st != 200 || m["base_url"] != nil {
		t.Fatalf("first request: %d %v", st, m)
	}
	b1 := batonOf(t, m)
	st, m = ts.pipeline("batons", tok, pipelineBody(b1, execReq("SELECT 2")))
	if st != 200 {
		t.Fatalf("second request: %d %v", st, m)
	}
	b2 := batonOf(t, m)
	if b2 == b1 {
		t.Fatal("baton did not change between requests")
	}

	// Reusing a baton is a protocol error; the stream itself stays usable with the newest one.
	st, m = ts.pipeline("batons", tok, pipelineBody(b1, execReq("SELECT 3")))
	if st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "already used") {
		t.Fatalf("reused baton: %d %v", st, m)
	}
	st, m = ts.pipeline("batons", tok, pipelineBody(b2, execReq("SELECT 4")))
	if st != 200 {
		t.Fatalf("current baton after a replay: %d %v", st, m)
	}
	b3 := batonOf(t, m)

	// Forged, unknown and cross-database batons.
	forged := b3[:len(b3)-2] + "AA"
	if forged == b3 {
		forged = b3[:len(b3)-2] + "BB"
	}
	unknown := ts.run.Server.encodeBaton(12345, 0)
	for name, bt := range map[string]string{"forged": forged, "garbage": "!!!", "unknown": unknown} {
		st, m = ts.pipeline("batons", tok, pipelineBody(bt, execReq("SELECT 1")))
		if st != 400 || m["error"] != "invalid baton" {
			t.Errorf("%s baton: %d %v", name, st, m)
		}
	}
	st, m = ts.pipeline("elsewhere", ts.token("elsewhere", ""), pipelineBody(b3, execReq("SELECT 1")))
	if st != 400 || m["error"] != "invalid baton" {
		t.Errorf("baton of another database: %d %v", st, m)
	}

	// close ends the stream (baton null); closing again, or an unknown stream, is tolerated.
	st, m = ts.pipeline("batons", tok, pipelineBody(b3, map[string]any{"type": "close"}))
	if st != 200 || m["baton"] != nil {
		t.Fatalf("close: %d %v", st, m)
	}
	for _, bt := range []string{b3, unknown} {
		st, m = ts.pipeline("batons", tok, pipelineBody(bt, map[string]any{"type": "close"}))
		if st != 200 || m["baton"] != nil || results(t, m)[0]["type"] != "ok" {
			t.Errorf("close of a gone stream: %d %v", st, m)
		}
	}
	st, m = ts.pipeline("batons", tok, pipelineBody(b3, execReq("SELECT 1")))
	if st != 400 {
		t.Errorf("execute on a closed stream: %d %v", st, m)
	}

	// Requests after a close in the same pipeline fail; the response has no baton.
	st, m = ts.pipeline("batons", tok, pipelineBody("", execReq("SELECT 1"), map[string]any{"type": "close"}, execReq("SELECT 2")))
	rs := results(t, m)
	if st != 200 || m["baton"] != nil || len(rs) != 3 || rs[0]["type"] != "ok" || rs[1]["type"] != "ok" || rs[2]["type"] != "error" {
		t.Errorf("close mid-pipeline: %d %v", st, m)
	}

	// Malformed body.
	st, m = ts.pipeline("batons", tok, `{"requests": [`)
	if st != 400 {
		t.Errorf("malformed body: %d %v", st, m)
	}
	// Unknown database.
	st, m = ts.pipeline("nope", tok, pipelineBody("", execReq("SELECT 1")))
	if st != 404 {
		t.Errorf("unknown database: %d %v", st, m)
	}
}

func TestProtocolStreamExpiryAndCap(t *testing.T) {
	ts := startServer(t, Options{IdleTimeout: 100 * time.Millisecond, MaxStreamsPerDatabase: 2})
	ts.createDB("cap")
	tok := ts.token("cap", "")
	_, m := ts.pipeline("cap", tok, pipelineBody("", execReq("CREATE TABLE t(x)"), execReq("BEGIN"), execReq("INSERT INTO t VALUES (1)")))
	for _, r := range results(t, m) {
		if r["type"] != "ok" {
			t.Fatalf("setup: %v", m)
		}
	}
	b1 := batonOf(t, m)
	_, m = ts.pipeline("cap", tok, pipelineBody("", execReq("SELECT 1")))
	b2 := batonOf(t, m)
	st, m := ts.pipeline("cap", tok, pipelineBody("", execReq("SELECT 1")))
	if st != 503 || m["code"] != "TOO_MANY_STREAMS" {
		t.Fatalf("third stream over the cap: %d %v", st, m)
	}
	if st, _ := ts.pipeline("cap", tok, pipelineBody(b2, map[string]any{"type": "close"})); st != 200 {
		t.Fatal("close")
	}
	_, m = ts.pipeline("cap", tok, pipelineBody("", execReq("SELECT 1")))
	batonOf(t, m) // a slot was freed

	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(150 * time.Millisecond)
		st, m = ts.pipeline("cap", tok, pipelineBody(b1, execReq("COMMIT")))
		if st != 200 || time.Now().After(deadline) {
			break
		}
		b1 = batonOf(t, m) // still alive (slow machine): keep using it until the janitor runs
	}
	if st != 500 || m["code"] != "STREAM_EXPIRED" || m["error"] == nil {
		t.Fatalf("expired stream: %d %v", st, m)
	}
	// The expired stream's transaction was rolled back: the table is empty.
	_, m = ts.pipeline("cap", tok, pipelineBody("", execReq("SELECT count(*) AS n FROM t")))
	row := results(t, m)[0]["response"].(map[string]any)["result"].(map[string]any)["rows"].([]any)[0].([]any)
	if v := row[0].(map[string]any)["value"]; v != "0" {
		t.Fatalf("rows after expiry = %v", v)
	}
}

// stmtResultOf digs the StmtResult out of an execute result.
func stmtResultOf(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	if r["type"] != "ok" {
		t.Fatalf("result is not ok: %v", r)
	}
	return r["response"].(map[string]any)["result"].(map[string]any)
}

func TestProtocolExecuteShapes(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("shapes")
	tok := ts.token("shapes", "")
	_, m := ts.pipeline("shapes", tok, pipelineBody("",
		execReq("CREATE TABLE s(id INTEGER PRIMARY KEY, i integer, f Real, t TEXT, b BLOB, ts timestamp)"),
		map[string]any{"type": "execute", "stmt": map[string]any{
			"sql": "INSERT INTO s(i, f, t, b, ts) VALUES (?, ?, ?, ?, ?)", "want_rows": false,
			"args": []any{
				map[string]any{"type": "integer", "value": "9223372036854775807"},
				map[string]any{"type": "float", "value": 2.5},
				map[string]any{"type": "text"}, // libsql-client-go omits an empty value
				map[string]any{"type": "blob", "base64": "AQID/w=="},
				map[string]any{"type": "null"},
			}}},
		map[string]any{"type": "execute", "stmt": map[string]any{
			"sql":        "INSERT INTO s(i, t) VALUES (:i, $t)",
			"named_args": []any{map[string]any{"name": ":i", "value": map[string]any{"type": "integer", "value": "5"}}, map[string]any{"name": "t", "value": map[string]any{"type": "text", "value": "named"}}}}},
		execReq("SELECT i, f, t, b, ts, i + 0.5 AS expr FROM s ORDER BY id"),
		map[string]any{"type": "execute", "stmt": map[string]any{"sql": "SELECT ?", "args": []any{map[string]any{"type": "integer", "value": "1"}},
			"named_args": []any{map[string]any{"name": "x", "value": map[string]any{"type": "null"}}}}},
		execReq("SELECT 1; SELECT 2"),
		execReq("  -- nothing here\n"),
		execReq("SELEC 1"),
		map[string]any{"type": "execute", "stmt": map[string]any{"sql": "SELECT ?", "args": []any{map[string]any{"type": "integer", "value": "x"}}}},
	))
	rs := results(t, m)
	if len(rs) != 9 {
		t.Fatalf("want 9 results, got %d: %v", len(rs), m)
	}
	if r := stmtResultOf(t, rs[1]); r["affected_row_count"] != float64(1) || r["last_insert_rowid"] != "1" || len(r["rows"].([]any)) != 0 {
		t.Errorf("insert result: %v", r)
	}
	sel := stmtResultOf(t, rs[3])
	// SQLite itself canonicalises the standard type names (integer → INTEGER) and keeps others
	// as declared (timestamp), which is what sqlite3_column_decltype reports to sqld too.
	if got := mustJSON(sel["cols"]); got != `[{"decltype":"INTEGER","name":"i"},{"decltype":"REAL","name":"f"},{"decltype":"TEXT","name":"t"},{"decltype":"BLOB","name":"b"},{"decltype":"timestamp","name":"ts"},{"decltype":null,"name":"expr"}]` {
		t.Errorf("cols = %s", got)
	}
	if got := mustJSON(sel["rows"]); got != `[[{"type":"integer","value":"9223372036854775807"},{"type":"float","value":2.5},{"type":"text","value":""},{"base64":"AQID/w","type":"blob"},{"type":"null"},{"type":"float","value":9223372036854776000}],[{"type":"integer","value":"5"},{"type":"null"},{"type":"text","value":"named"},{"type":"null"},{"type":"null"},{"type":"float","value":5.5}]]` {
		t.Errorf("rows = %s", got)
	}
	if sel["affected_row_count"] != float64(0) || sel["last_insert_rowid"] != nil {
		t.Errorf("a SELECT after an INSERT must not report its changes: %v", sel)
	}
	for i, code := range map[int]string{4: "ARGS_BOTH_POSITIONAL_AND_NAMED", 5: "SQL_MANY_STATEMENTS", 6: "SQL_NO_STATEMENT", 7: "SQL_PARSE_ERROR", 8: "ARGS_INVALID"} {
		e, _ := rs[i]["error"].(map[string]any)
		if rs[i]["type"] != "error" || e["code"] != code || e["message"] == "" {
			t.Errorf("result %d: want error %s, got %v", i, code, rs[i])
		}
	}
}

func TestProtocolBatchConditions(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("batch")
	tok := ts.token("batch", "")
	step := func(sql string, cond any) map[string]any {
		s := map[string]any{"stmt": map[string]any{"sql": sql}}
		if cond != nil {
			s["condition"] = cond
		}
		return s
	}
	ok := func(i int) map[string]any { return map[string]any{"type": "ok", "step": i} }
	errc := func(i int) map[string]any { return map[string]any{"type": "error", "step": i} }
	not := func(c any) map[string]any { return map[string]any{"type": "not", "cond": c} }
	and := func(cs ...any) map[string]any { return map[string]any{"type": "and", "conds": cs} }
	or := func(cs ...any) map[string]any { return map[string]any{"type": "or", "conds": cs} }
	batchReq := func(steps ...map[string]any) map[string]any {
		return map[string]any{"type": "batch", "batch": map[string]any{"steps": steps}}
	}
	_, m := ts.pipeline("batch", tok, pipelineBody("",
		batchReq(
			step("SELECT 0", nil),                   // 0 runs, ok
			step("SELECT nope", ok(0)),              // 1 runs, fails
			step("SELECT 2", ok(1)),                 // 2 skipped
			step("SELECT 3", errc(1)),               // 3 runs
			step("SELECT 4", not(ok(1))),            // 4 runs
			step("SELECT 5", and(ok(0), ok(3))),     // 5 runs
			step("SELECT 6", and(ok(0), ok(2))),     // 6 skipped (2 was skipped)
			step("SELECT 7", or(ok(2), errc(1))),    // 7 runs
			step("SELECT 8", or(ok(2), not(ok(0)))), // 8 skipped
			step("SELECT 9", not(errc(2))),          // 9 runs: a skipped step is not an error
		),
		batchReq(step("SELECT 1", ok(0))), // condition on itself: invalid
		batchReq(step("SELECT 1", nil), step("SELECT 2", ok(5))),
		batchReq(),
	))
	rs := results(t, m)
	res := rs[0]["response"].(map[string]any)["result"].(map[string]any)
	sr, se := res["step_results"].([]any), res["step_errors"].([]any)
	if len(sr) != 10 || len(se) != 10 {
		t.Fatalf("step_results/step_errors must have one entry per step: %v", res)
	}
	ran := ""
	for i := range sr {
		switch {
		case sr[i] != nil && se[i] == nil:
			ran += "r"
		case sr[i] == nil && se[i] != nil:
			ran += "e"
		case sr[i] == nil && se[i] == nil:
			ran += "-"
		default:
			t.Fatalf("step %d has both a result and an error", i)
		}
	}
	if ran != "re-rrr-r-r" {
		t.Errorf("steps ran %q, want %q", ran, "re-rrr-r-r")
	}
	for _, i := range []int{1, 2} {
		if rs[i]["type"] != "error" {
			t.Errorf("batch with an invalid condition step: %v", rs[i])
		}
	}
	if res := rs[3]["response"].(map[string]any)["result"].(map[string]any); mustJSON(res["step_results"]) != "[]" || mustJSON(res["step_errors"]) != "[]" {
		t.Errorf("empty batch: %v", res)
	}
}

func TestProtocolSequenceDescribeStoredSQL(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("misc")
	tok := ts.token("misc", "")
	id := 7
	_, m := ts.pipeline("misc", tok, pipelineBody("",
		map[string]any{"type": "sequence", "sql": "CREATE TABLE q(a INTEGER, b TEXT); INSERT INTO q VALUES (1, 'x'); INSERT INTO q VALUES (2, 'y');"},
		map[string]any{"type": "store_sql", "sql_id": id, "sql": "SELECT a, b FROM q WHERE a > :min ORDER BY a"},
		map[string]any{"type": "execute", "stmt": map[string]any{"sql_id": id, "named_args": []any{map[string]any{"name": "min", "value": map[string]any{"type": "integer", "value": "1"}}}}},
		map[string]any{"type": "describe", "sql_id": id},
		map[string]any{"type": "describe", "sql": "DELETE FROM q"},
		map[string]any{"type": "close_sql", "sql_id": id},
		map[string]any{"type": "execute", "stmt": map[string]any{"sql_id": id}},
		map[string]any{"type": "sequence", "sql": "INSERT INTO q VALUES (3, 'z'); INSERT INTO missing VALUES (1); INSERT INTO q VALUES (4, 'w')"},
		execReq("SELECT count(*) FROM q"),
		map[string]any{"type": "get_autocommit"},
		map[string]any{"type": "nonsense"},
	))
	rs := results(t, m)
	if rs[0]["type"] != "ok" || rs[1]["type"] != "ok" {
		t.Fatalf("sequence/store_sql: %v", rs[:2])
	}
	if rows := stmtResultOf(t, rs[2])["rows"].([]any); len(rows) != 1 {
		t.Errorf("stored SQL with named arg: %v", rows)
	}
	d := rs[3]["response"].(map[string]any)["result"].(map[string]any)
	if mustJSON(d["params"]) != `[{"name":":min"}]` || d["is_readonly"] != true || len(d["cols"].([]any)) != 2 {
		t.Errorf("describe select: %v", d)
	}
	if d := rs[4]["response"].(map[string]any)["result"].(map[string]any); d["is_readonly"] != false {
		t.Errorf("describe delete: %v", d)
	}
	if rs[5]["type"] != "ok" || rs[6]["type"] != "error" {
		t.Errorf("close_sql then use: %v %v", rs[5], rs[6])
	}
	if rs[7]["type"] != "error" {
		t.Errorf("failing sequence: %v", rs[7])
	}
	// The sequence stops at its first error: row 3 went in (autocommit), row 4 did not.
	if v := stmtResultOf(t, rs[8])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "3" {
		t.Errorf("count after partial sequence = %v", v)
	}
	if r := rs[9]["response"].(map[string]any); r["is_autocommit"] != true {
		t.Errorf("get_autocommit: %v", r)
	}
	if rs[10]["type"] != "error" {
		t.Errorf("unknown request type: %v", rs[10])
	}
}

func TestProtocolHTTPAuthErrors(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("errs")
	body := pipelineBody("", execReq("SELECT 1"))
	for name, tok := range map[string]string{"missing": "", "garbage": "x.y.z"} {
		st, m := ts.pipeline("errs", tok, body)
		if st != 401 || !strings.HasPrefix(fmt.Sprint(m["error"]), "Unauthorized: ") {
			t.Errorf("%s token: %d %v", name, st, m)
		}
	}
	// Other endpoints sqld answers.
	for _, p := range []string{"/db/errs/v2", "/v2", "/health", "/db/errs/health"} {
		if st, _, _ := ts.do("GET", p, "", nil); st != 200 {
			t.Errorf("GET %s: %d", p, st)
		}
	}
	// The root without a token cannot be routed, and says how it routes.
	st, m, _ := ts.do("POST", "/v2/pipeline", "", body)
	if st != 401 || m["code"] != "AUTH_HEADER_NOT_FOUND" || !strings.Contains(fmt.Sprint(m["error"]), "routed by the database token") {
		t.Errorf("POST /v2/pipeline without a token: %d %v", st, m)
	}
}

func TestProtocolSizeLimit(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("small")
	tok := ts.token("small", "")
	if st, _, raw := ts.apiCall("PATCH", "/databases/small/configuration", `{"size_limit":"64kb"}`); st != 200 || !strings.Contains(raw, `"size_limit":"64000"`) {
		t.Fatalf("patch size_limit: %d %s", st, raw)
	}
	insert := map[string]any{"type": "execute", "stmt": map[string]any{"sql": "INSERT INTO big VALUES (randomblob(8000))"}}
	_, m := ts.pipeline("small", tok, pipelineBody("", execReq("CREATE TABLE big(b BLOB)")))
	var full map[string]any
	for range 20 {
		_, m = ts.pipeline("small", tok, pipelineBody("", insert))
		if r := results(t, m)[0]; r["type"] == "error" {
			full = r["error"].(map[string]any)
			break
		}
	}
	if full == nil || full["code"] != "SQLITE_FULL" {
		t.Fatalf("writes past size_limit: %v", full)
	}
	// Reads still work; removing the limit allows writes again.
	_, m = ts.pipeline("small", tok, pipelineBody("", execReq("SELECT count(*) FROM big")))
	stmtResultOf(t, results(t, m)[0])
	if st, _, raw := ts.apiCall("PATCH", "/databases/small/configuration", `{"size_limit":""}`); st != 200 {
		t.Fatalf("clear size_limit: %d %s", st, raw)
	}
	_, m = ts.pipeline("small", tok, pipelineBody("", insert))
	stmtResultOf(t, results(t, m)[0])
}

func TestProtocolRefusesAttach(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("att")
	_, m := ts.pipeline("att", ts.token("att", ""), pipelineBody("", execReq("ATTACH DATABASE '/tmp/x.db' AS x")))
	if r := results(t, m)[0]; r["type"] != "error" {
		t.Fatalf("ATTACH: %v", r)
	}
}

// changeAndCloseStream runs stmts on a new stream and closes it, leaving whatever connection state they
// set behind for the pool to deal with.
func changeAndCloseStream(t *testing.T, ts *testServer, db, tok string, stmts ...string) {
	t.Helper()
	reqs := make([]map[string]any, 0, len(stmts)+1)
	for _, q := range stmts {
		reqs = append(reqs, execReq(q))
	}
	reqs = append(reqs, map[string]any{"type": "close"})
	_, m := ts.pipeline(db, tok, pipelineBody("", reqs...))
	for _, r := range results(t, m) {
		if r["type"] != "ok" {
			t.Fatalf("setup: %v", m)
		}
	}
}

func TestPooledConnectionsDoNotLeakSettings(t *testing.T) {
	ts := startServer(t, Options{MaxIdleConnsPerDatabase: 1})
	ts.createDB("iso")
	tok := ts.token("iso", "")
	changeAndCloseStream(t, ts, "iso", tok, "PRAGMA foreign_keys = ON", "CREATE TEMP TABLE scratch(x)")
	_, m := ts.pipeline("iso", tok, pipelineBody("", execReq("PRAGMA foreign_keys"), execReq("SELECT count(*) FROM temp.sqlite_schema")))
	rs := results(t, m)
	for i, r := range rs {
		if v := stmtResultOf(t, r)["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "0" {
			t.Errorf("query %d on a new stream sees %v: connection state leaked from another stream", i, v)
		}
	}
}

func TestProtocolClientDisconnectInterruptsStatement(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("slow")
	tok := ts.token("slow", "")
	body := pipelineBody("", execReq("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"))
	req, _ := http.NewRequest("POST", ts.url+"/db/slow/v2/pipeline", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	if _, err := (&http.Client{Timeout: 300 * time.Millisecond}).Do(req); err == nil {
		t.Fatal("an endless query answered")
	}
	// The handler notices the disconnect, interrupts SQLite and releases the stream.
	srv := ts.run.Server
	for {
		srv.streamsMu.Lock()
		busy := false
		for _, st := range srv.streams {
			if !st.mu.TryLock() {
				busy = true
				continue
			}
			st.mu.Unlock()
		}
		srv.streamsMu.Unlock()
		if !busy {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("statement still running 10s after the client went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, m := ts.pipeline("slow", tok, pipelineBody("", execReq("SELECT 1")))
	stmtResultOf(t, results(t, m)[0])
}

// TestPooledConnectionsDoNotLeakFunctionFormPragmas: PRAGMA name(value) sets a pragma just like
// name = value; a connection it changed must not be handed to the next stream.
func TestPooledConnectionsDoNotLeakFunctionFormPragmas(t *testing.T) {
	ts := startServer(t, Options{MaxIdleConnsPerDatabase: 1})
	ts.createDB("isofn")
	tok := ts.token("isofn", "")
	changeAndCloseStream(t, ts, "isofn", tok, "PRAGMA query_only(1)", "PRAGMA main.foreign_keys (ON)")
	_, m := ts.pipeline("isofn", tok, pipelineBody("", execReq("CREATE TABLE t(x)"), execReq("PRAGMA foreign_keys")))
	rs := results(t, m)
	if rs[0]["type"] != "ok" {
		t.Fatalf("a write on a new stream failed, query_only leaked from another stream: %v", rs[0])
	}
	if v := stmtResultOf(t, rs[1])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "0" {
		t.Errorf("foreign_keys on a new stream is %v: connection state leaked from another stream", v)
	}
	// Schema queries in function form stay cheap: their connection goes back to the pool.
	_, m = ts.pipeline("isofn", tok, pipelineBody("", execReq("PRAGMA table_info(t)"), map[string]any{"type": "close"}))
	if rs := results(t, m); rs[0]["type"] != "ok" {
		t.Fatalf("table_info: %v", rs[0])
	}
	srv := ts.run.Server
	srv.mu.RLock()
	e := srv.dbs["isofn"]
	srv.mu.RUnlock()
	e.poolMu.Lock()
	idle := len(e.idle)
	e.poolMu.Unlock()
	if idle != 1 {
		t.Errorf("%d pooled connections after a table_info stream closed, want 1", idle)
	}
}

// TestClientDisconnectReleasesTransaction: a client that goes away mid-pipeline never receives
// the next baton, so its stream is unreachable; its open transaction must not keep the write
// lock (and so fail every other writer with SQLITE_BUSY) until the stream idles out.
func TestClientDisconnectReleasesTransaction(t *testing.T) {
	ts := startServer(t, Options{IdleTimeout: time.Hour, BusyTimeout: 200 * time.Millisecond})
	ts.createDB("gone")
	tok := ts.token("gone", "")
	_, m := ts.pipeline("gone", tok, pipelineBody("", execReq("CREATE TABLE t(x)")))
	stmtResultOf(t, results(t, m)[0])
	_, m = ts.pipeline("gone", tok, pipelineBody("", execReq("BEGIN"), execReq("INSERT INTO t VALUES (1)")))
	for _, r := range results(t, m) {
		stmtResultOf(t, r)
	}
	body := pipelineBody(batonOf(t, m), execReq("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"))
	req, _ := http.NewRequest("POST", ts.url+"/db/gone/v2/pipeline", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := (&http.Client{Timeout: 300 * time.Millisecond}).Do(req); err == nil {
		t.Fatal("an endless query answered")
	}
	srv := ts.run.Server
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		srv.streamsMu.Lock()
		busy := false
		for _, st := range srv.streams {
			if !st.mu.TryLock() {
				busy = true
				continue
			}
			st.mu.Unlock()
		}
		srv.streamsMu.Unlock()
		if !busy {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("statement still running 10s after the client went away")
		}
	}
	_, m = ts.pipeline("gone", tok, pipelineBody("", execReq("INSERT INTO t VALUES (2)"), execReq("SELECT count(*) FROM t")))
	rs := results(t, m)
	if rs[0]["type"] != "ok" {
		t.Fatalf("another stream cannot write after the client holding a transaction went away: %v", rs[0])
	}
	if v := stmtResultOf(t, rs[1])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "1" {
		t.Errorf("%v rows: the abandoned transaction's insert was committed", v)
	}
}
