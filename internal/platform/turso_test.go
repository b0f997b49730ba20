package platform_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// fastRetries keeps fault tests quick while still exercising backoff.
func newTurso(t *testing.T, f *fakeAPI, mod ...func(*platform.TursoConfig)) *platform.Turso {
	t.Helper()
	cfg := platform.TursoConfig{
		BaseURL: f.srv.URL, Organization: f.org, APIToken: f.apiToken,
		MaxRetries: 4, RetryWaitMin: 2 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := platform.NewTurso(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTursoNotFoundFromStatusAndBody(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)

	_, err := p.GetDatabase(ctx, "ghost")
	var api *platform.APIError
	if !errors.Is(err, platform.ErrNotFound) || !errors.As(err, &api) || api.Status != 404 || !strings.Contains(api.Message, "record not found") {
		t.Fatalf("get missing: %v", err)
	}
	if f.count("GET /databases/ghost") != 1 {
		t.Fatalf("404 was retried: %d calls", f.count("GET /databases/ghost"))
	}
	// "not found" in a 400 body is a not-found too.
	f.inject("GET /databases/ghost", status(400, `{"error":"database ghost not found"}`))
	if _, err := p.GetDatabase(ctx, "ghost"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("400 not found: %v", err)
	}
	// But never from a 401/403: a delete must not pass as done because of an auth problem.
	f.inject("DELETE /databases/ghost", status(401, `{"error":"token not found"}`))
	if err := p.DeleteDatabase(ctx, "ghost"); err == nil || errors.Is(err, platform.ErrNotFound) || !errors.As(err, &api) || api.Status != 401 {
		t.Fatalf("delete with 401: %v", err)
	}
	if err := p.DeleteDatabase(ctx, "ghost"); err != nil {
		t.Fatalf("delete missing (404): %v", err)
	}
}

func TestTursoAlreadyExistsFromBodyText(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
	}{
		{"400-same-name", `{"error":"database with same name already exists"}`, 400},
		{"409", `{"error":"database with name dup already exists"}`, 409},
		{"409-no-text", `{"error":"conflict"}`, 409},
		{"422", `{"error":"database dup already exists","code":"name_not_available"}`, 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeAPI(t)
			p := newTurso(t, f)
			ctx := testCtx(t)
			orig, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "dup"})
			if err != nil {
				t.Fatal(err)
			}
			f.inject("POST /databases", status(c.status, c.body))
			db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "dup"})
			if !errors.Is(err, platform.ErrAlreadyExists) {
				t.Fatalf("err = %v, want ErrAlreadyExists", err)
			}
			if db == nil || db.DbID != orig.DbID {
				t.Fatalf("db = %+v, want the existing %+v", db, orig)
			}
			if n := f.count("POST /databases"); n != 2 {
				t.Fatalf("%d POSTs, want 2 (no retry of a definite answer)", n)
			}
		})
	}
	t.Run("400-other", func(t *testing.T) {
		f := newFakeAPI(t)
		p := newTurso(t, f)
		f.inject("POST /databases", status(400, `{"error":"group not found"}`))
		db, err := p.CreateDatabase(testCtx(t), platform.CreateOptions{Name: "x", Group: "nope"})
		var api *platform.APIError
		if db != nil || errors.Is(err, platform.ErrAlreadyExists) || !errors.As(err, &api) || api.Status != 400 || api.Message != "group not found" {
			t.Fatalf("create in missing group: %+v, %v", db, err)
		}
		if f.count("POST /databases") != 1 || f.count("GET /databases/x") != 0 {
			t.Fatal("a definite 400 was retried")
		}
	})
}

func TestTursoUnauthorizedNotRetried(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f, func(c *platform.TursoConfig) { c.APIToken = "sk-wrong-token-0000000000" })
	_, err := p.ListDatabases(testCtx(t), "")
	var api *platform.APIError
	if !errors.As(err, &api) || api.Status != 401 {
		t.Fatalf("err = %v", err)
	}
	if f.count("GET /databases") != 1 {
		t.Fatalf("401 retried: %d", f.count("GET /databases"))
	}
	if strings.Contains(err.Error(), "sk-wrong-token") {
		t.Fatal("API token in error")
	}
	assertNoSecrets(t, "sk-wrong-token-0000000000", err)
}

func TestTursoRetryAfterSeconds(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "ra"}); err != nil {
		t.Fatal(err)
	}
	f.inject("GET /databases/ra", status(429, `{"error":"rate limited"}`, "Retry-After", "1"))
	start := time.Now()
	if _, err := p.GetDatabase(ctx, "ra"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 950*time.Millisecond {
		t.Fatalf("retried after %s, server asked for 1s", waited)
	}
	if f.count("GET /databases/ra") != 2 {
		t.Fatalf("calls = %d, want 2", f.count("GET /databases/ra"))
	}
}

func TestTursoRetryAfterHTTPDate(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	// Whole seconds: a date 2s ahead is between 1s and 2s away once truncated.
	at := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
	f.inject("GET /databases", status(503, `{"error":"busy"}`, "Retry-After", at))
	start := time.Now()
	if _, err := p.ListDatabases(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %s, server asked to wait until %s", waited, at)
	}
}

func TestTursoRetryAfterIsCapped(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f, func(c *platform.TursoConfig) { c.MaxRetryAfter = 20 * time.Millisecond })
	f.inject("GET /databases", status(429, `{}`, "Retry-After", "3600"))
	// The test context (20s) would fail this call if the hour were honoured.
	if _, err := p.ListDatabases(testCtx(t), ""); err != nil {
		t.Fatal(err)
	}
}

func TestTursoServerErrorThenSuccess(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	f.inject("GET /databases", status(500, `{"error":"internal"}`), status(502, `bad gateway`))
	if _, err := p.ListDatabases(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if f.count("GET /databases") != 3 {
		t.Fatalf("calls = %d, want 3", f.count("GET /databases"))
	}
	// Persistent failure gives up after MaxRetries+1 attempts with the last answer.
	for range 10 {
		f.inject("DELETE /databases/x", status(500, `{"error":"still broken"}`))
	}
	err := p.DeleteDatabase(ctx, "x")
	var api *platform.APIError
	if !errors.As(err, &api) || api.Status != 500 || api.Message != "still broken" {
		t.Fatalf("err = %v", err)
	}
	assertNoSecrets(t, f.apiToken, err)
	if n := f.count("DELETE /databases/x"); n != 5 {
		t.Fatalf("attempts = %d, want 5", n)
	}
}

func TestTursoDroppedConnectionMidResponseIsRetried(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "drop"}); err != nil {
		t.Fatal(err)
	}
	f.inject("GET /databases/drop", dropMidResponse(), dropBeforeResponse())
	db, err := p.GetDatabase(ctx, "drop")
	if err != nil || db.Name != "drop" {
		t.Fatalf("get after drops: %+v, %v", db, err)
	}
	if n := f.count("GET /databases/drop"); n < 3 {
		t.Fatalf("calls = %d, want >= 3", n)
	}
}

func TestTursoCreateAdoptsWhenAnswerLost(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	// The POST lands, the answer is lost: look before posting again, and adopt.
	f.inject("POST /databases", applyThenDrop())
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "lost"})
	if err != nil || db.Name != "lost" || db.DbID == "" {
		t.Fatalf("create = %+v, %v; want adoption", db, err)
	}
	if n := f.count("POST /databases"); n != 1 {
		t.Fatalf("POSTs = %d, want 1 (no blind retry)", n)
	}
	// Same with a 500 after the write.
	f.inject("POST /databases", func(f *fakeAPI, w http.ResponseWriter, r *http.Request) bool {
		f.defaultHandler(httptest.NewRecorder(), r, "/databases")
		return status(500, `{"error":"oops"}`)(f, w, r)
	})
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "lost2"}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("POST /databases"); n != 2 {
		t.Fatalf("POSTs = %d, want 2", n)
	}
}

func TestTursoCreateRetriesWhenPostDidNotLand(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	f.inject("POST /databases", dropBeforeResponse(), status(429, `{"error":"slow down"}`, "Retry-After", "0"), status(503, `{}`))
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "later", SizeLimitBytes: 1 << 20})
	if err != nil || db.Name != "later" {
		t.Fatalf("create = %+v, %v", db, err)
	}
	f.mu.Lock()
	log := strings.Join(f.log, ",")
	body := f.bodies["POST /databases"][3]
	f.mu.Unlock()
	want := "POST /databases,GET /databases/later,POST /databases,GET /databases/later,POST /databases,GET /databases/later,POST /databases"
	if log != want {
		t.Fatalf("calls:\n%s\nwant\n%s", log, want)
	}
	if body != `{"group":"default","name":"later","size_limit":"1048576"}` {
		t.Fatalf("create body %s", body)
	}
	if db.URL != f.srv.URL+"/db/later" {
		t.Fatalf("URL %s on a loopback base, want the dev server route", db.URL)
	}
	// Bounded: a POST that never succeeds gives up after MaxRetries+1 attempts.
	for range 10 {
		f.inject("POST /databases", status(500, `{"error":"down"}`))
	}
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "never"}); err == nil {
		t.Fatal("create succeeded against a failing server")
	} else {
		assertNoSecrets(t, f.apiToken, err)
	}
	if n := f.count("POST /databases") - 4; n != 5 {
		t.Fatalf("POST attempts = %d, want 5", n)
	}
	if _, err := p.GetDatabase(ctx, "never"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("get never: %v", err)
	}
}

func TestTursoContextCancellationStopsRetries(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f, func(c *platform.TursoConfig) { c.MaxRetries = 100 })
	for range 100 {
		f.inject("GET /databases", status(503, `{}`, "Retry-After", "10"))
		f.inject("POST /databases", status(503, `{}`, "Retry-After", "10"))
		f.inject("GET /databases/c", status(503, `{}`, "Retry-After", "10"))
	}
	for _, call := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := p.ListDatabases(ctx, ""); return err },
		func(ctx context.Context) error {
			_, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "c"})
			return err
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err := call(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertNoSecrets(t, f.apiToken, err)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("returned %s after cancellation", d)
		}
	}
	if n := f.count("GET /databases"); n != 1 {
		t.Fatalf("list attempts = %d, want 1", n)
	}
}

func TestTursoTokenQueryParamsAndParse(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "tok"}); err != nil {
		t.Fatal(err)
	}
	var gotQuery, gotBody string
	f.inject("POST /databases/tok/auth/tokens", func(f *fakeAPI, w http.ResponseWriter, r *http.Request) bool {
		gotQuery = r.URL.RawQuery
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r.Body)
		gotBody = b.String()
		return false
	})
	tok, err := p.CreateToken(ctx, "tok", platform.TokenOptions{Scope: platform.ScopeReadOnly, Expiration: "2w1d30m"})
	if err != nil {
		t.Fatal(err)
	}
	if gotQuery != "authorization=read-only&expiration=2w1d30m" || gotBody != "" {
		t.Fatalf("query %q body %q", gotQuery, gotBody)
	}
	if tok.JWT == "" || tok.Expiration == nil {
		t.Fatalf("token %v exp %v", tok, tok.Expiration)
	}
	// A token POST is safe to retry (minting twice is harmless).
	f.inject("POST /databases/tok/auth/tokens", status(502, `{}`))
	if _, err := p.CreateToken(ctx, "tok", platform.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	// A response without a jwt is an error that does not echo the body.
	f.inject("POST /databases/tok/auth/tokens", status(200, `{"token":"eyJhbGciOiJ.eyJleHAi.c2ln"}`))
	if _, err := p.CreateToken(ctx, "tok", platform.TokenOptions{}); err == nil || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("err = %v", err)
	}
	// Rotate is retried too.
	f.inject("POST /databases/tok/auth/rotate", status(500, `{}`))
	if err := p.RotateTokens(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("POST /databases/tok/auth/rotate"); n != 2 {
		t.Fatalf("rotate attempts = %d", n)
	}
}

func TestTursoConfigurePatchesOnlySetFields(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "cfg"}); err != nil {
		t.Fatal(err)
	}
	yes := true
	limit := int64(256 << 20)
	f.inject("PATCH /databases/cfg/configuration", status(503, `{}`))
	if err := p.Configure(ctx, "cfg", platform.Configuration{BlockWrites: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(ctx, "cfg", platform.Configuration{SizeLimitBytes: &limit}); err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(ctx, "cfg", platform.Configuration{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	bodies := f.bodies["PATCH /databases/cfg/configuration"]
	f.mu.Unlock()
	want := []string{`{"block_writes":true}`, `{"block_writes":true}`, `{"size_limit":"268435456"}`}
	if strings.Join(bodies, "|") != strings.Join(want, "|") {
		t.Fatalf("PATCH bodies %q, want %q", bodies, want)
	}
	db, err := p.GetDatabase(ctx, "cfg")
	if err != nil || !db.BlockWrites || db.SizeLimit != "268435456" {
		t.Fatalf("get = %+v, %v", db, err)
	}
}

func TestTursoListFollowsPagination(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	f.pageSize = 2
	dbs, err := p.ListDatabases(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "a,b,c,d,e" || f.count("GET /databases") != 3 {
		t.Fatalf("names %v after %d pages", names, f.count("GET /databases"))
	}
	// A server that repeats a cursor is an error, not an endless loop.
	f.inject("GET /databases", status(200, `{"databases":[],"pagination":{"next":"x"}}`), status(200, `{"databases":[],"pagination":{"next":"x"}}`))
	if _, err := p.ListDatabases(ctx, ""); err == nil {
		t.Fatal("repeated cursor accepted")
	}
}

func TestTursoLenientDecodingAndURLs(t *testing.T) {
	f := newFakeAPI(t)
	ctx := testCtx(t)
	body := `{"database":{"name":"lc","db_id":"u-1","hostname":"lc-acme.turso.io","Group":"g","regions":["lhr"],"block_writes":true,"unknown":{"x":1}}}`
	f.inject("GET /databases/lc", status(200, body))
	p := newTurso(t, f)
	db, err := p.GetDatabase(ctx, "lc")
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != "lc" || db.DbID != "u-1" || db.Hostname != "lc-acme.turso.io" || db.Group != "g" || db.PrimaryRegion != "lhr" || !db.BlockWrites {
		t.Fatalf("decoded %+v", db)
	}
	// A URL stated by the server wins (objectstack dev's extension), relative or absolute.
	f.inject("GET /databases/st", status(200, `{"database":{"Name":"st","Url":"/custom/st"}}`))
	if db, err := p.GetDatabase(ctx, "st"); err != nil || db.URL != f.srv.URL+"/custom/st" {
		t.Fatalf("stated relative URL: %+v, %v", db, err)
	}

	// Against a non-loopback API host (real Turso), URL is libsql://<Hostname>. The TLS server
	// still runs on loopback: the client dials it whatever the name.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.serve(w, r)
	}))
	defer tlsSrv.Close()
	hc := tlsSrv.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, tlsSrv.Listener.Addr().String())
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: hc.Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
	remote, err := platform.NewTurso(platform.TursoConfig{BaseURL: "https://example.com", Organization: f.org, APIToken: f.apiToken, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	created, err := remote.CreateDatabase(ctx, platform.CreateOptions{Name: "prod"})
	if err != nil || created.URL != "libsql://prod-acme.aws-us-east-1.turso.io" || created.DbID == "" {
		t.Fatalf("remote create = %+v, %v", created, err)
	}
}

func TestTursoConfigValidation(t *testing.T) {
	ok := platform.TursoConfig{Organization: "o", APIToken: "sk-abcdefghijk"}
	for _, base := range []string{"", "https://api.turso.tech", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"} {
		c := ok
		c.BaseURL = base
		if _, err := platform.NewTurso(c); err != nil {
			t.Errorf("%q: %v", base, err)
		}
	}
	for _, base := range []string{"http://api.turso.tech", "http://10.0.0.1", "ftp://127.0.0.1", "not a url", "https://user:pw@api.turso.tech", "https://api.turso.tech?token=x"} {
		c := ok
		c.BaseURL = base
		if _, err := platform.NewTurso(c); err == nil {
			t.Errorf("%q accepted", base)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "token=x") {
			t.Errorf("%q: credentials in error %v", base, err)
		}
	}
	if _, err := platform.NewTurso(platform.TursoConfig{APIToken: "x"}); err == nil {
		t.Error("missing organization accepted")
	}
	if _, err := platform.NewTurso(platform.TursoConfig{Organization: "o"}); err == nil {
		t.Error("missing token accepted")
	}
	s := ok.String()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", ok)
	if strings.Contains(s, ok.APIToken) || strings.Contains(buf.String(), ok.APIToken) {
		t.Fatalf("config prints its token: %s / %s", s, buf.String())
	}
}

func TestTursoNeverFollowsRedirects(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		w.WriteHeader(200)
	}))
	defer other.Close()
	f := newFakeAPI(t)
	f.inject("GET /databases", status(307, `{}`, "Location", other.URL+"/v1/organizations/acme/databases"))
	p := newTurso(t, f)
	_, err := p.ListDatabases(testCtx(t), "")
	var api *platform.APIError
	if !errors.As(err, &api) || api.Status != 307 || leaked.Load() != 0 {
		t.Fatalf("err = %v, other host called %d times", err, leaked.Load())
	}
	assertNoSecrets(t, f.apiToken, err)
}
