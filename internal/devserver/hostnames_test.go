package devserver

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// These tests connect the way every Turso user does: with nothing but the Hostname the Platform
// API returned and a database token.

// hostnameOf returns the Hostname the Platform API reports for database name (from a get).
func (ts *testServer) hostnameOf(name string) string {
	ts.t.Helper()
	st, m, raw := ts.apiCall("GET", "/databases/"+name, nil)
	if st != 200 {
		ts.t.Fatalf("get %s: %d %s", name, st, raw)
	}
	h, _ := m["database"].(map[string]any)["Hostname"].(string)
	if h == "" {
		ts.t.Fatalf("get %s: no Hostname in %s", name, raw)
	}
	return h
}

func TestHostnameIsServerAddress(t *testing.T) {
	ts := startServer(t, Options{})
	st, m, raw := ts.apiCall("POST", "/databases", map[string]any{"name": "h1", "group": "default"})
	if st != 200 {
		t.Fatalf("create: %d %s", st, raw)
	}
	created := m["database"].(map[string]any)
	if created["Hostname"] != ts.run.Addr || created["Url"] != ts.url+"/db/h1" {
		t.Fatalf("create: Hostname and Url must be the server address and the path URL: %s", raw)
	}
	// Stable across calls: get and list report the same Hostname.
	if h := ts.hostnameOf("h1"); h != ts.run.Addr {
		t.Errorf("get Hostname = %q, want %q", h, ts.run.Addr)
	}
	_, m, raw = ts.apiCall("GET", "/databases", nil)
	if dbs := m["databases"].([]any); len(dbs) != 1 || dbs[0].(map[string]any)["Hostname"] != ts.run.Addr {
		t.Errorf("list: %s", raw)
	}

	// The caller gets back the address it used (here a Host without a port, i.e. port 80).
	req, _ := http.NewRequest("GET", ts.url+"/v1/organizations/"+testOrg+"/databases/h1", nil)
	req.Host = "DevBox.example"
	req.Header.Set("Authorization", "Bearer "+ts.api)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"Hostname":"devbox.example:80"`) || !strings.Contains(string(body), `"Url":"http://DevBox.example/db/h1"`) {
		t.Errorf("Host without a port: %s", body)
	}

	// AdvertiseAddr wins over the Host, for Hostname and Url alike.
	adv := startServer(t, Options{AdvertiseAddr: "Dev.Example:18080"})
	_, m, raw = adv.apiCall("POST", "/databases", map[string]any{"name": "h2", "group": "default"})
	if d := m["database"].(map[string]any); d["Hostname"] != "dev.example:18080" || d["Url"] != "http://dev.example:18080/db/h2" {
		t.Errorf("advertised create: %s", raw)
	}
	if h := adv.hostnameOf("h2"); h != "dev.example:18080" {
		t.Errorf("advertised get Hostname = %q", h)
	}

	for _, bad := range []string{"127.0.0.1", "http://127.0.0.1:8080", ":8080", "host:0", "host:http", "a/b:80", "[::1]"} {
		if _, err := New(Options{DataDir: t.TempDir(), AdvertiseAddr: bad}); err == nil || !strings.Contains(err.Error(), "must be host:port") {
			t.Errorf("AdvertiseAddr %q: %v, want a host:port error", bad, err)
		}
	}
	if got, err := CheckAdvertiseAddr("[::1]:8080"); err != nil || got != "[::1]:8080" {
		t.Errorf("IPv6 advertise address: %q, %v", got, err)
	}
}

// TestGoClientWithHostnameOnly opens two databases on the one shared Hostname with
// libsql-client-go in each URL form a Turso user writes, and checks each token reaches its own
// database only: both hold a table of the same name, so a misrouted write would show.
func TestGoClientWithHostnameOnly(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("alpha")
	ts.createDB("beta")
	host := ts.hostnameOf("alpha")
	if hb := ts.hostnameOf("beta"); hb != host {
		t.Fatalf("databases of one server must share the Hostname: %q vs %q", host, hb)
	}
	tokA, tokB := ts.token("alpha", ""), ts.token("beta", "")
	ctx := context.Background()
	for name, tok := range map[string]string{"alpha": tokA, "beta": tokB} {
		if _, err := ts.client(name, tok).ExecContext(ctx, `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
			t.Fatal(err)
		}
	}

	opens := map[string]func(tok string) (*sql.DB, error){
		// libsql-client-go's connector, given only http://<Hostname> and the token.
		"http": func(tok string) (*sql.DB, error) {
			c, err := libsql.NewConnector("http://"+host, libsql.WithAuthToken(tok))
			if err != nil {
				return nil, err
			}
			return sql.OpenDB(c), nil
		},
		// libsql-client-go's DSN form: everything in the one string, as in Turso's docs.
		"libsql-dsn": func(tok string) (*sql.DB, error) {
			return sql.Open("libsql", "libsql://"+host+"?tls=0&authToken="+tok)
		},
		// This project's opener, which the Turso backend and the CLI use.
		"libsql-database.Open": func(tok string) (*sql.DB, error) {
			return database.Open("libsql://"+host+"?tls=0", tok)
		},
	}
	row := 0
	for form, open := range opens {
		t.Run(form, func(t *testing.T) {
			a, err := open(tokA)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			row++
			if _, err := a.ExecContext(ctx, `INSERT INTO t(id, v) VALUES (?, ?)`, row, form); err != nil {
				t.Fatalf("insert through %s: %v", form, err)
			}
			// A transaction spans requests: its batons come back to the root too.
			tx, err := a.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE t SET v = v || '+tx' WHERE id = ?`, row); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit through %s: %v", form, err)
			}
			var v string
			if err := a.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, row).Scan(&v); err != nil || v != form+"+tx" {
				t.Fatalf("read back through %s: %q, %v", form, v, err)
			}

			// beta's token on the same Hostname sees beta, which none of these writes touched.
			b, err := open(tokB)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var n int
			if err := b.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("beta through %s: %d rows, %v; want 0 (alpha's writes must not reach beta)", form, n, err)
			}
		})
	}
	// Checked through the path URLs, independent of token routing.
	var n int
	if err := ts.client("alpha", tokA).QueryRowContext(ctx, `SELECT count(*) FROM t WHERE v LIKE '%+tx'`).Scan(&n); err != nil || n != len(opens) {
		t.Errorf("alpha holds %d rows, %v; want %d", n, err, len(opens))
	}
	if err := ts.client("beta", tokB).QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Errorf("beta holds %d rows, %v; want 0", n, err)
	}
}

// TestTokenRoutingRefusals sends tokens that must not route anywhere to the shared Hostname and
// checks each is refused with Hrana's HTTP error body, before any database is touched.
func TestTokenRoutingRefusals(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("vault")
	ctx := context.Background()
	good := ts.token("vault", "")
	if _, err := ts.client("vault", good).ExecContext(ctx, `CREATE TABLE secrets(x)`); err != nil {
		t.Fatal(err)
	}

	ts.run.Server.mu.RLock()
	e := ts.run.Server.dbs["vault"]
	past := time.Now().Add(-time.Minute)
	expired, err := ts.run.Server.tokens.mint(e, e.gen, false, &past)
	dbID := e.dbID
	ts.run.Server.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	// Another server's token for a database of the same name: a valid JWT, the wrong key.
	other := startServer(t, Options{})
	other.createDB("vault")
	foreign := other.token("vault", "")
	// An unsigned token claiming the database ("alg": "none"): routing must never believe it.
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(fmt.Sprintf(`{"a":"rw","id":"vault","did":%q,"gen":0}`, dbID))) + "."

	refusals := map[string]struct{ token, code, msg string }{
		"missing":        {"", "AUTH_HEADER_NOT_FOUND", "Bearer token is required"},
		"garbage":        {"not-a-jwt", "AUTH_JWT_INVALID", "invalid"},
		"unsigned":       {unsigned, "AUTH_JWT_INVALID", "invalid"},
		"other server's": {foreign, "AUTH_JWT_INVALID", "invalid"},
		"expired":        {expired, "AUTH_JWT_INVALID", "expired"},
	}
	check := func(name, token, code, msg string) {
		t.Helper()
		st, m, raw := ts.do("POST", "/v2/pipeline", token, pipelineBody("", execReq("SELECT count(*) FROM secrets")))
		if st != 401 || m["code"] != code || m["error"] != m["message"] ||
			!strings.HasPrefix(fmt.Sprint(m["error"]), "Unauthorized: ") || !strings.Contains(fmt.Sprint(m["error"]), msg) {
			t.Errorf("%s token on the shared Hostname: %d %s; want 401 {error,message,code:%s} mentioning %q", name, st, raw, code, msg)
		}
		// libsql-client-go given only the Hostname reports it as a 401 too.
		var opts []libsql.Option
		if token != "" {
			opts = append(opts, libsql.WithAuthToken(token))
		}
		c, err := libsql.NewConnector("http://"+ts.run.Addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(c)
		defer db.Close()
		if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(new(int)); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s token through libsql-client-go: %v", name, err)
		}
	}
	for name, r := range refusals {
		check(name, r.token, r.code, r.msg)
	}

	// Rotation revokes the token; a database recreated under the same name rejects the old
	// incarnation's tokens. Both are signed by this server, so they route, then are refused.
	rotated := good
	if st, _, raw := ts.apiCall("POST", "/databases/vault/auth/rotate", nil); st != 200 {
		t.Fatalf("rotate: %d %s", st, raw)
	}
	check("rotated", rotated, "AUTH_JWT_INVALID", "rotated")
	beforeRecreate := ts.token("vault", "")
	if st, _, raw := ts.apiCall("DELETE", "/databases/vault", nil); st != 200 {
		t.Fatalf("delete: %d %s", st, raw)
	}
	st, m, raw := ts.do("POST", "/v2/pipeline", beforeRecreate, pipelineBody("", execReq("SELECT 1")))
	if st != 404 || m["code"] != "NAMESPACE_DOESNT_EXIST" {
		t.Errorf("token of a deleted database: %d %s", st, raw)
	}
	ts.createDB("vault")
	check("recreated database's old", beforeRecreate, "AUTH_JWT_INVALID", "not valid for this database")
}
