package platform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform/platformtest"
)

const devAPIToken = "sk-dev-platform-token-9f8e7d6c5b4a"

// startDev runs objectstack dev on loopback; wrap, when set, sits in front of its handler.
func startDev(t testing.TB, logger *slog.Logger, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	s, err := devserver.New(devserver.Options{DataDir: t.TempDir(), APIToken: devAPIToken, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return srv.URL
}

func newDevTurso(t testing.TB, baseURL string, mod ...func(*platform.TursoConfig)) *platform.Turso {
	t.Helper()
	cfg := platform.TursoConfig{BaseURL: baseURL, Organization: "acme", APIToken: devAPIToken,
		RetryWaitMin: 2 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := platform.NewTurso(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTursoContractAgainstDevServer runs the same suite as TestLocalContract, through the
// Platform API client and libsql-client-go over real HTTP on loopback.
func TestTursoContractAgainstDevServer(t *testing.T) {
	platformtest.Run(t, func(t *testing.T) platform.Platform {
		return newDevTurso(t, startDev(t, nil, nil))
	}, platformtest.Options{TokensEnforced: true})
}

// flaky answers a share of Platform API calls with 429/500/503 or a dropped connection, some
// after the call took effect. Hrana traffic passes untouched.
type flaky struct {
	mu    sync.Mutex
	rng   *rand.Rand
	share float64
	inner http.Handler
	fired int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		f.inner.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	hit := f.rng.Float64() < f.share
	kind := f.rng.IntN(5)
	if hit {
		f.fired++
	}
	f.mu.Unlock()
	if !hit {
		f.inner.ServeHTTP(w, r)
		return
	}
	switch kind {
	case 0:
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":"rate limited"}`, http.StatusTooManyRequests)
	case 1:
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
	case 2: // took effect, answer lost
		f.inner.ServeHTTP(httptest.NewRecorder(), r)
		hijackClose(w)
	case 3: // took effect, then a 502 from a proxy
		f.inner.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, "bad gateway", http.StatusBadGateway)
	default: // never arrived
		hijackClose(w)
	}
}

func hijackClose(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

// TestTursoConvergesUnderFaultsAgainstDevServer creates databases while 40% of Platform API
// calls fail in every way we know; every create converges to exactly one database.
func TestTursoConvergesUnderFaultsAgainstDevServer(t *testing.T) {
	fl := &flaky{rng: rand.New(rand.NewPCG(1, 2)), share: 0.4}
	base := startDev(t, nil, func(h http.Handler) http.Handler { fl.inner = h; return fl })
	p := newDevTurso(t, base, func(c *platform.TursoConfig) { c.MaxRetries = 12 })
	clean := newDevTurso(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("tenant-%02d", i)
			_, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: name})
			if errors.Is(err, platform.ErrAlreadyExists) {
				err = nil // a lost answer to our own POST, then a 409 on the retry: adopt
			}
			if err == nil {
				var tok platform.Token
				tok, err = p.CreateToken(ctx, name, platform.TokenOptions{})
				if err == nil && tok.JWT == "" {
					err = errors.New("empty token")
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("tenant %d: %v", i, err)
		}
	}
	for _, err := range errs {
		assertNoSecrets(t, devAPIToken, err)
	}
	assertNoSecrets(t, devAPIToken, p, clean)
	fl.mu.Lock()
	fired := fl.fired
	fl.share = 0
	fl.mu.Unlock()
	if fired < n/2 {
		t.Fatalf("only %d faults fired", fired)
	}
	dbs, err := clean.ListDatabases(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range dbs {
		seen[d.Name]++
	}
	if len(dbs) != n || len(seen) != n {
		t.Fatalf("%d databases (%d names) after converging, want %d: %v", len(dbs), len(seen), n, seen)
	}
	t.Logf("%d faults injected", fired)
}

var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.`)

// TestTursoSecretsNeverLeakAgainstDevServer runs the lifecycle under faults with debug logging
// on both sides and checks no API token or JWT reaches our logs or errors.
func TestTursoSecretsNeverLeakAgainstDevServer(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fl := &flaky{rng: rand.New(rand.NewPCG(3, 4)), share: 0.3}
	// The dev server logs into the same buffer: the whole offline stack is held to the rule.
	base := startDev(t, logger, func(h http.Handler) http.Handler { fl.inner = h; return fl })
	p := newDevTurso(t, base, func(c *platform.TursoConfig) { c.Logger = logger; c.MaxRetries = 12 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var errs []error
	var jwts []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range 5 {
		name := fmt.Sprintf("leak-%d", i)
		db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: name})
		note(err)
		tok, err := p.CreateToken(ctx, name, platform.TokenOptions{Expiration: "1h"})
		note(err)
		if tok.JWT != "" {
			jwts = append(jwts, tok.JWT)
		}
		note(p.RotateTokens(ctx, name))
		if db != nil && tok.JWT != "" {
			h, err := platform.Open(p, db, tok)
			if err == nil {
				_, err = h.ExecContext(ctx, `SELECT 1`) // refused: rotated
				h.Close()
			}
			note(err)
		}
		_, err = p.CreateDatabase(ctx, platform.CreateOptions{Name: name})
		note(err)
		note(p.DeleteDatabase(ctx, name))
	}
	// Deliberately bad credentials.
	bad := newDevTurso(t, base, func(c *platform.TursoConfig) { c.APIToken = "sk-wrong-" + devAPIToken; c.Logger = logger })
	_, err := bad.ListDatabases(ctx, "")
	note(err)

	if len(jwts) == 0 {
		t.Fatal("no token minted: the sequence proved nothing")
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if !strings.Contains(out, "retrying") {
		t.Fatalf("no retries logged; faults did not fire:\n%s", out)
	}
	all := out
	for _, e := range errs {
		all += "\n" + e.Error() + fmt.Sprintf("%+v", e)
	}
	for _, s := range append([]string{devAPIToken}, jwts...) {
		if strings.Contains(all, s) {
			t.Errorf("secret %.12s… leaked", s)
		}
	}
	if loc := jwtShape.FindStringIndex(all); loc != nil {
		t.Errorf("JWT-shaped text leaked: %q", all[loc[0]:min(len(all), loc[1]+20)])
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

// TestTursoHostnameAgainstDevServer checks what the Turso client decodes from objectstack dev:
// the Hostname is the server's own address (what api.turso.tech's Hostname is to Turso's
// clients), URL keeps the dev server's path form, and both open the same database, the Hostname
// as "libsql://<Hostname>?tls=0" with nothing but the token.
func TestTursoHostnameAgainstDevServer(t *testing.T) {
	base := startDev(t, nil, nil)
	p := newDevTurso(t, base)
	ctx := context.Background()
	created, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "hn"})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(base, "http://")
	got, err := p.GetDatabase(ctx, "hn")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := p.ListDatabases(ctx, "")
	if err != nil || len(listed) != 1 {
		t.Fatalf("list: %+v, %v", listed, err)
	}
	for what, db := range map[string]*platform.Database{"create": created, "get": got, "list": &listed[0]} {
		if db.Hostname != addr || db.URL != base+"/db/hn" {
			t.Errorf("%s: Hostname %q, URL %q; want %q and %q", what, db.Hostname, db.URL, addr, base+"/db/hn")
		}
	}
	tok, err := p.CreateToken(ctx, "hn", platform.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byURL, err := platform.Open(p, got, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer byURL.Close()
	if _, err := byURL.ExecContext(ctx, `CREATE TABLE h(x INTEGER); INSERT INTO h VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	byHostname, err := database.Open("libsql://"+got.Hostname+"?tls=0", tok.JWT)
	if err != nil {
		t.Fatal(err)
	}
	defer byHostname.Close()
	var x int
	if err := byHostname.QueryRowContext(ctx, `SELECT x FROM h`).Scan(&x); err != nil || x != 42 {
		t.Fatalf("through libsql://<Hostname>?tls=0: %d, %v", x, err)
	}
}
