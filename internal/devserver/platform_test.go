package devserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestPlatformDatabaseLifecycle(t *testing.T) {
	ts := startServer(t, Options{})

	st, m, raw := ts.apiCall("POST", "/databases", map[string]any{"name": "shop-1", "group": "default"})
	if st != 200 {
		t.Fatalf("create: %d %s", st, raw)
	}
	d := m["database"].(map[string]any)
	if d["Name"] != "shop-1" || d["Hostname"] != ts.run.Addr || d["DbId"] == "" || d["Url"] != ts.url+"/db/shop-1" {
		t.Fatalf("create response: %s", raw)
	}
	dbID := d["DbId"]

	st, _, raw = ts.apiCall("POST", "/databases", map[string]any{"name": "shop-1", "group": "default"})
	if st != 409 || raw != `{"error":"database with name shop-1 already exists"}` {
		t.Fatalf("create twice: %d %s", st, raw)
	}
	st, _, raw = ts.apiCall("GET", "/databases/missing", nil)
	if st != 404 || raw != `{"error":"could not find database with name missing: record not found"}` {
		t.Fatalf("get missing: %d %s", st, raw)
	}
	for _, name := range []string{"Shop", "under_score", "", strings.Repeat("a", 65), "dot.name"} {
		st, m, raw = ts.apiCall("POST", "/databases", map[string]any{"name": name, "group": "default"})
		if st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "invalid database name") {
			t.Errorf("invalid name %q: %d %s", name, st, raw)
		}
	}
	st, _, raw = ts.apiCall("POST", "/databases", map[string]any{"name": "x", "group": "nogroup"})
	if st != 400 || raw != `{"error":"group not found"}` {
		t.Errorf("unknown group: %d %s", st, raw)
	}
	st, _, raw = ts.apiCall("POST", "/databases", `{"name":`)
	if st != 400 {
		t.Errorf("malformed body: %d %s", st, raw)
	}

	st, m, raw = ts.apiCall("GET", "/databases/shop-1", nil)
	d = m["database"].(map[string]any)
	if st != 200 || d["DbId"] != dbID || d["group"] != "default" || d["block_writes"] != false || d["primaryRegion"] != "aws-us-east-1" {
		t.Fatalf("get: %d %s", st, raw)
	}
	// Another organization does not see it.
	if st, _, _ := ts.do("GET", "/v1/organizations/other/databases/shop-1", ts.api, nil); st != 404 {
		t.Errorf("other org get: %d", st)
	}

	// Groups and the ?group= filter.
	st, _, raw = ts.apiCall("POST", "/groups", map[string]any{"name": "eu", "location": "aws-eu-west-1"})
	if st != 200 || !strings.Contains(raw, `"name":"eu"`) {
		t.Fatalf("create group: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("POST", "/groups", map[string]any{"name": "eu", "location": "aws-eu-west-1"}); st != 409 || raw != `{"error":"group already exists"}` {
		t.Errorf("create group twice: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("POST", "/groups", map[string]any{"name": "mars", "location": "mars-1"}); st != 400 || raw != `{"error":"invalid location: mars-1"}` {
		t.Errorf("bad location: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("GET", "/groups/none", nil); st != 404 || raw != `{"error":"group not found"}` {
		t.Errorf("get missing group: %d %s", st, raw)
	}
	ts.apiCall("POST", "/databases", map[string]any{"name": "shop-eu", "group": "eu"})
	_, m, _ = ts.apiCall("GET", "/databases?group=eu", nil)
	if list := m["databases"].([]any); len(list) != 1 || list[0].(map[string]any)["Name"] != "shop-eu" || list[0].(map[string]any)["primaryRegion"] != "aws-eu-west-1" {
		t.Errorf("list ?group=eu: %v", m)
	}
	_, m, _ = ts.apiCall("GET", "/databases", nil)
	if list := m["databases"].([]any); len(list) != 2 {
		t.Errorf("list: %v", m)
	}
	// Paging (?limit=&cursor=, undocumented in Turso's spec but served by the API).
	_, m, _ = ts.apiCall("GET", "/databases?limit=1", nil)
	next, _ := m["pagination"].(map[string]any)["next"].(string)
	if list := m["databases"].([]any); len(list) != 1 || next != "shop-1" {
		t.Errorf("first page: %v", m)
	}
	_, m, _ = ts.apiCall("GET", "/databases?limit=1&cursor="+next, nil)
	if list := m["databases"].([]any); len(list) != 1 || list[0].(map[string]any)["Name"] != "shop-eu" || m["pagination"].(map[string]any)["next"] != nil {
		t.Errorf("last page: %v", m)
	}
	if st, _, _ = ts.apiCall("GET", "/databases?limit=zero", nil); st != 400 {
		t.Errorf("bad limit: %d", st)
	}
	_, m, _ = ts.apiCall("GET", "/groups", nil)
	if list := m["groups"].([]any); len(list) != 2 || list[0].(map[string]any)["name"] != "default" {
		t.Errorf("groups: %v", m)
	}
	if st, _, raw = ts.apiCall("DELETE", "/groups/eu", nil); st != 400 {
		t.Errorf("delete non-empty group: %d %s", st, raw)
	}

	// Tokens: bad parameters.
	if st, _, raw = ts.apiCall("POST", "/databases/shop-1/auth/tokens?expiration=soon", nil); st != 400 || raw != `{"error":"Invalid expiration format"}` {
		t.Errorf("bad expiration: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("POST", "/databases/shop-1/auth/tokens?authorization=admin", nil); st != 400 {
		t.Errorf("bad authorization: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("POST", "/databases/missing/auth/tokens", nil); st != 404 {
		t.Errorf("token for missing db: %d %s", st, raw)
	}
	for _, exp := range []string{"never", "7d", "2w1d30m", "1h"} {
		if st, m, raw = ts.apiCall("POST", "/databases/shop-1/auth/tokens?expiration="+exp, nil); st != 200 || m["jwt"] == "" {
			t.Errorf("expiration %s: %d %s", exp, st, raw)
		}
	}
	if st, _, raw = ts.apiCall("POST", "/databases/missing/auth/rotate", nil); st != 404 {
		t.Errorf("rotate missing: %d %s", st, raw)
	}

	// Configuration.
	st, _, raw = ts.apiCall("GET", "/databases/shop-1/configuration", nil)
	if st != 200 || raw != `{"allow_attach":false,"block_reads":false,"block_writes":false,"delete_protection":false,"size_limit":""}` {
		t.Errorf("get configuration: %d %s", st, raw)
	}
	st, _, raw = ts.apiCall("PATCH", "/databases/shop-1/configuration", `{"size_limit":"1mb","delete_protection":true}`)
	if st != 200 || raw != `{"allow_attach":false,"block_reads":false,"block_writes":false,"delete_protection":true,"size_limit":"1000000"}` {
		t.Errorf("patch configuration: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("PATCH", "/databases/shop-1/configuration", `{"size_limit":"lots"}`); st != 400 {
		t.Errorf("bad size_limit: %d %s", st, raw)
	}
	if st, _, raw = ts.apiCall("DELETE", "/databases/shop-1", nil); st != 400 || !strings.Contains(raw, "delete protection") {
		t.Errorf("delete protected: %d %s", st, raw)
	}
	ts.apiCall("PATCH", "/databases/shop-1/configuration", `{"delete_protection":false}`)

	// Usage counts rows through Hrana.
	tok := ts.token("shop-1", "")
	ts.pipeline("shop-1", tok, pipelineBody("", execReq("CREATE TABLE u(x)"), execReq("INSERT INTO u VALUES (1), (2)"), execReq("SELECT * FROM u")))
	_, m, raw = ts.apiCall("GET", "/databases/shop-1/usage", nil)
	total := m["database"].(map[string]any)["total"].(map[string]any)
	if total["rows_written"] != float64(2) || total["rows_read"] != float64(2) || total["storage_bytes"].(float64) <= 0 {
		t.Errorf("usage: %s", raw)
	}
	if st, _, _ = ts.apiCall("GET", "/databases/shop-1/usage?from=yesterday", nil); st != 400 {
		t.Errorf("bad usage range: %d", st)
	}

	// Seeding from another database copies its data.
	if st, _, raw = ts.apiCall("POST", "/databases", map[string]any{"name": "shop-copy", "group": "default", "seed": map[string]any{"type": "database", "name": "shop-1"}}); st != 200 {
		t.Fatalf("seeded create: %d %s", st, raw)
	}
	_, m = ts.pipeline("shop-copy", ts.token("shop-copy", ""), pipelineBody("", execReq("SELECT count(*) FROM u")))
	if v := stmtResultOf(t, results(t, m)[0])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "2" {
		t.Errorf("seeded copy has %v rows", v)
	}

	// Delete: open streams end, the name becomes free, old tokens do not work on the new database.
	_, m = ts.pipeline("shop-1", tok, pipelineBody("", execReq("BEGIN"), execReq("INSERT INTO u VALUES (3)")))
	baton := batonOf(t, m)
	st, _, raw = ts.apiCall("DELETE", "/databases/shop-1", nil)
	if st != 200 || raw != `{"database":"shop-1"}` {
		t.Fatalf("delete: %d %s", st, raw)
	}
	if st, _, _ = ts.apiCall("DELETE", "/databases/shop-1", nil); st != 404 {
		t.Errorf("delete twice: %d", st)
	}
	if st, _ := ts.pipeline("shop-1", tok, pipelineBody(baton, execReq("COMMIT"))); st != 404 {
		t.Errorf("pipeline on a deleted database: %d", st)
	}
	ts.createDB("shop-1")
	if st, m := ts.pipeline("shop-1", tok, pipelineBody("", execReq("SELECT 1"))); st != 401 {
		t.Errorf("token of the deleted incarnation: %d %v", st, m)
	}
	_, m = ts.pipeline("shop-1", ts.token("shop-1", ""), pipelineBody("", execReq("SELECT count(*) FROM sqlite_schema")))
	if v := stmtResultOf(t, results(t, m)[0])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "0" {
		t.Errorf("recreated database is not empty: %v", v)
	}
}

func TestPlatformAuthAndMisc(t *testing.T) {
	ts := startServer(t, Options{APIToken: "right"})
	for name, tok := range map[string]string{"missing": "", "wrong": "wrong"} {
		st, m, _ := ts.do("GET", "/v1/organizations/acme/databases", tok, nil)
		if st != 401 || m["error"] == "" {
			t.Errorf("%s API token: %d %v", name, st, m)
		}
	}
	st, _, raw := ts.do("GET", "/v1/locations", "right", nil)
	if st != 200 || !strings.Contains(raw, `"aws-us-east-1":"AWS US East (Virginia)"`) {
		t.Errorf("locations: %d %s", st, raw)
	}
	if st, _, raw = ts.do("GET", "/v1/auth/validate", "right", nil); st != 200 || raw != `{"exp":-1}` {
		t.Errorf("validate: %d %s", st, raw)
	}
	if st, m, _ := ts.do("GET", "/v1/nothing", "right", nil); st != 404 || m["error"] == nil {
		t.Errorf("unknown route: %d %v", st, m)
	}

	// With no configured API token any non-empty bearer works (StartLocal configures none).
	base, stop, err := StartLocal(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	open := &testServer{t: t, url: base}
	if st, _, _ := open.do("GET", "/v1/locations", "anything", nil); st != 200 {
		t.Errorf("any token: %d", st)
	}
	if st, _, _ := open.do("GET", "/v1/locations", "", nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
}

func TestPlatformConcurrentCreates(t *testing.T) {
	ts := startServer(t, Options{})
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = ts.apiCall("POST", "/databases", map[string]any{"name": fmt.Sprintf("c-%d", i%4), "group": "default"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if ok != 4 {
		t.Errorf("%d creates succeeded, want exactly 4", ok)
	}
}

func TestRestartKeepsDatabasesAndTokens(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Options{DataDir: dir})
	ts.createDB("keep")
	tok := ts.token("keep", "")
	ts.pipeline("keep", tok, pipelineBody("", execReq("CREATE TABLE k(x)"), execReq("INSERT INTO k VALUES (42)")))
	ts.apiCall("PATCH", "/databases/keep/configuration", `{"block_writes":true}`)
	ts.run.Stop()

	ts2 := startServer(t, Options{DataDir: dir})
	_, m := ts2.pipeline("keep", tok, pipelineBody("", execReq("SELECT x FROM k"), execReq("INSERT INTO k VALUES (1)")))
	rs := results(t, m)
	if v := stmtResultOf(t, rs[0])["rows"].([]any)[0].([]any)[0].(map[string]any)["value"]; v != "42" {
		t.Errorf("data after restart: %v", v)
	}
	if e := rs[1]["error"].(map[string]any); e["code"] != "BLOCKED" {
		t.Errorf("configuration after restart: %v", rs[1])
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := startServer(t, Options{Logger: logger, APIToken: "super-secret-api-token"})
	ts.createDB("sec")
	tok := ts.token("sec", "")
	db := ts.client("sec", tok)
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE s(x)`); err != nil {
		t.Fatal(err)
	}
	ts.do("GET", "/v1/organizations/acme/databases", "wrong-token-value", nil)
	ts.pipeline("sec", "bad-db-token-value", pipelineBody("", execReq("SELECT 1")))
	ts.run.Stop()
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "/v2/pipeline") {
		t.Fatalf("debug log has no requests: %s", out)
	}
	for _, secret := range []string{"super-secret-api-token", tok, "wrong-token-value", "bad-db-token-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret appears in the log")
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
