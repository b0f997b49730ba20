package devserver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

const testOrg = "acme"

// testServer is a dev server on a real loopback listener.
type testServer struct {
	t   testing.TB
	run *Running
	url string
	api string // API token
}

func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.APIToken == "" {
		opts.APIToken = "test-api-token"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	r, err := Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(); cancel() })
	return &testServer{t: t, run: r, url: r.URL, api: opts.APIToken}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// do sends a request and decodes a JSON object response (nil for an empty body).
func (ts *testServer) do(method, path, token string, body any) (int, map[string]any, string) {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			buf, _ := json.Marshal(b)
			rd = bytes.NewReader(buf)
		}
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			ts.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, m, string(raw)
}

// apiCall calls the Platform API with the server's API token.
func (ts *testServer) apiCall(method, path string, body any) (int, map[string]any, string) {
	ts.t.Helper()
	return ts.do(method, "/v1/organizations/"+testOrg+path, ts.api, body)
}

func (ts *testServer) createDB(name string) {
	ts.t.Helper()
	st, _, raw := ts.apiCall("POST", "/databases", map[string]any{"name": name, "group": "default"})
	if st != 200 {
		ts.t.Fatalf("create %s: %d %s", name, st, raw)
	}
}

// token mints a database token; query is e.g. "authorization=read-only&expiration=1d".
func (ts *testServer) token(name, query string) string {
	ts.t.Helper()
	st, m, raw := ts.apiCall("POST", "/databases/"+name+"/auth/tokens?"+query, nil)
	if st != 200 {
		ts.t.Fatalf("token %s: %d %s", name, st, raw)
	}
	return m["jwt"].(string)
}

// client opens a database through libsql-client-go over real HTTP.
func (ts *testServer) client(name, token string) *sql.DB {
	ts.t.Helper()
	db, err := database.Open(DatabaseURL(ts.url, name), token)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { db.Close() })
	return db
}

// pipeline posts a raw Hrana pipeline and returns status and decoded body.
func (ts *testServer) pipeline(name, token string, body string) (int, map[string]any) {
	ts.t.Helper()
	st, m, raw := ts.do("POST", "/db/"+name+"/v2/pipeline", token, body)
	if m == nil {
		ts.t.Fatalf("pipeline: %d non-JSON body %q", st, raw)
	}
	return st, m
}

// results returns the results array of a pipeline response.
func results(t testing.TB, m map[string]any) []map[string]any {
	t.Helper()
	rs, ok := m["results"].([]any)
	if !ok {
		t.Fatalf("no results in %v", m)
	}
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = r.(map[string]any)
	}
	return out
}

func batonOf(t testing.TB, m map[string]any) string {
	t.Helper()
	b, ok := m["baton"].(string)
	if !ok || b == "" {
		t.Fatalf("no baton in %v", m)
	}
	return b
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
