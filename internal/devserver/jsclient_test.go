package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Turso's own JavaScript client, @libsql/client, is installed with npm from the committed
// testdata/jsclient/package-lock.json into a temporary folder, once per test binary, and removed
// by TestMain. The tests that need it skip, saying why, when node or npm is missing or the
// registry cannot be reached; any other install failure fails them.

var jsClient struct {
	once sync.Once
	dir  string // the installed copy of testdata/jsclient
	skip string // why the JS client tests skip
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if jsClient.dir != "" {
		_ = os.RemoveAll(jsClient.dir)
	}
	os.Exit(code)
}

// npmNetworkFailure matches what npm prints when it cannot reach the registry.
var npmNetworkFailure = regexp.MustCompile(`(?i)ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|network|fetch failed|request to \S+ failed|E5\d\d|E429|self[- ]signed|certificate`)

// jsClientDir returns the folder where `node client.mjs` runs with @libsql/client installed.
func jsClientDir(t *testing.T) string {
	t.Helper()
	jsClient.once.Do(func() { jsClient.dir, jsClient.skip, jsClient.err = installJSClient() })
	if jsClient.skip != "" {
		t.Skip(jsClient.skip)
	}
	if jsClient.err != nil {
		t.Fatal(jsClient.err)
	}
	return jsClient.dir
}

func installJSClient() (dir, skip string, err error) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", "skipping the @libsql/client (Turso JS client) test: " + tool + " is not installed", nil
		}
	}
	dir, err = os.MkdirTemp("", "objectstack-jsclient-")
	if err != nil {
		return "", "", err
	}
	for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "jsclient", f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			return dir, "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefer-offline", "--fetch-retries=1", "--fetch-retry-maxtimeout=10000", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 1500 {
			tail = "…" + tail[len(tail)-1500:]
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || npmNetworkFailure.MatchString(tail) {
			return dir, "skipping the @libsql/client (Turso JS client) test: npm ci could not fetch it from the registry: " + strings.TrimSpace(tail), nil
		}
		return dir, "", errors.New("npm ci of testdata/jsclient failed: " + err.Error() + "\n" + tail)
	}
	return dir, "", nil
}

// jsResult is what testdata/jsclient/client.mjs prints.
type jsResult struct {
	Inserted *struct {
		RowsAffected    int    `json:"rowsAffected"`
		LastInsertRowid string `json:"lastInsertRowid"`
	} `json:"inserted"`
	Columns []string `json:"columns"`
	Rows    []struct {
		ID int    `json:"id"`
		V  string `json:"v"`
	} `json:"rows"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	BadToken struct {
		Refused bool   `json:"refused"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"badToken"`
}

// runJSClient runs client.mjs against url with token; the tokens go in the environment.
func runJSClient(t *testing.T, dir, url, token, badToken, value string) jsResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", url, value)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OBJECTSTACK_JS_TOKEN="+token, "OBJECTSTACK_JS_BAD_TOKEN="+badToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs %s: %v\nstdout: %s\nstderr: %s", url, err, stdout.String(), stderr.String())
	}
	var res jsResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("node client.mjs %s printed %q: %v (stderr: %s)", url, stdout.String(), err, stderr.String())
	}
	if res.Error != nil {
		t.Fatalf("@libsql/client against %s failed: %s %s", url, res.Error.Code, res.Error.Message)
	}
	return res
}

// TestJSClientWithHostname connects @libsql/client with nothing but the Hostname the Platform
// API returned and a database token, in both URL forms, and checks each token's writes land in
// its own database only and that a bad token is refused in a way the JS client reports.
func TestJSClientWithHostname(t *testing.T) {
	dir := jsClientDir(t)
	ts := startServer(t, Options{})
	ts.createDB("js-a")
	ts.createDB("js-b")
	host := ts.hostnameOf("js-a")
	tokA, tokB := ts.token("js-a", ""), ts.token("js-b", "")
	ctx := context.Background()
	// Both databases hold a table of the same name, so a write routed to the wrong one would show.
	for name, tok := range map[string]string{"js-a": tokA, "js-b": tokB} {
		if _, err := ts.client(name, tok).ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
			t.Fatal(err)
		}
	}

	var want []string
	for _, url := range []string{"http://" + host, "libsql://" + host + "?tls=0"} {
		res := runJSClient(t, dir, url, tokA, "not-a-jwt", url)
		want = append(want, url+"+tx", url+"/batch-1", url+"/batch-2")
		var got []string
		for _, r := range res.Rows {
			got = append(got, r.V)
		}
		if res.Inserted == nil || res.Inserted.RowsAffected != 1 || res.Inserted.LastInsertRowid == "" ||
			strings.Join(res.Columns, ",") != "id,v" || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("@libsql/client with %s: %+v; want rows %q", url, res, want)
		}
		// The JS client reads sqld's {"message","code"} body: it reports the Hrana error code.
		if !res.BadToken.Refused || res.BadToken.Code != "AUTH_JWT_INVALID" || !strings.Contains(res.BadToken.Message, "Unauthorized: the token is invalid") {
			t.Errorf("@libsql/client with %s and a bad token: %+v; want AUTH_JWT_INVALID Unauthorized", url, res.BadToken)
		}
	}

	// js-b was untouched by js-a's token; its own token on the same Hostname reaches js-b.
	var n int
	if err := ts.client("js-b", tokB).QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("js-b holds %d rows, %v; js-a's writes must not reach it", n, err)
	}
	res := runJSClient(t, dir, "http://"+host, tokB, tokA+"x", "b")
	if len(res.Rows) != 3 || res.Rows[0].V != "b+tx" || res.BadToken.Code != "AUTH_JWT_INVALID" {
		t.Errorf("@libsql/client with js-b's token: %+v; want js-b's 3 rows only", res)
	}
	if err := ts.client("js-a", tokA).QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != len(want) {
		t.Errorf("js-a holds %d rows, %v; want %d", n, err, len(want))
	}
}
