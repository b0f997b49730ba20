package tenant_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// faultProxy sits in front of the dev server on 127.0.0.1 and sabotages a share of Platform API
// calls (/v1/...): 429 with a small Retry-After, 500 before or after the server acted, and
// connections dropped (hijack + close) before or after the server acted. The "after" kinds are
// the dangerous ones: the database was created but the client never hears so. Hrana traffic to
// the databases passes untouched.
type faultProxy struct {
	rate   float64
	proxy  *httputil.ReverseProxy
	mu     sync.Mutex
	rng    *rand.Rand
	counts map[string]*atomic.Int64
	calls  atomic.Int64
}

var faultKinds = []string{"429", "500-before", "500-after", "drop-before", "drop-after"}

func newFaultProxy(t *testing.T, target string, rate float64, check *leakCheck) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{rate: rate, proxy: httputil.NewSingleHostReverseProxy(u), rng: rand.New(rand.NewPCG(7, 11)), counts: map[string]*atomic.Int64{}}
	fp.proxy.ErrorLog = log.New(io.Discard, "", 0)
	check.tap(fp.proxy)
	for _, k := range faultKinds {
		fp.counts[k] = &atomic.Int64{}
	}
	// The proxy must not add its own retries or keep the original Host: the dev server builds
	// database URLs from the Host the client used, so clients keep talking through the proxy.
	srv := httptest.NewServer(fp)
	t.Cleanup(func() {
		srv.Close()
		var parts []string
		for _, k := range faultKinds {
			parts = append(parts, fmt.Sprintf("%s=%d", k, fp.counts[k].Load()))
		}
		t.Logf("fault proxy: %d platform calls, injected %s", fp.calls.Load(), strings.Join(parts, " "))
	})
	t.Cleanup(func() {
		for _, k := range faultKinds {
			if fp.counts[k].Load() == 0 {
				t.Errorf("fault kind %s never injected: the test did not exercise it", k)
			}
		}
	})
	return srv
}

func (fp *faultProxy) pick() (string, int) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.rng.Float64() >= fp.rate {
		return "", 0
	}
	return faultKinds[fp.rng.IntN(len(faultKinds))], fp.rng.IntN(5)
}

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		fp.proxy.ServeHTTP(w, r)
		return
	}
	fp.calls.Add(1)
	kind, dice := fp.pick()
	if kind != "" {
		fp.counts[kind].Add(1)
	}
	switch kind {
	case "429":
		// Mostly "retry now", sometimes one second: bounded test time, but Retry-After is honoured.
		ra := "0"
		if dice == 0 {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"rate limit exceeded"}`)
	case "500-before":
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
	case "drop-before":
		drop(w)
	case "500-after", "drop-after":
		rec := &discardWriter{h: http.Header{}}
		fp.proxy.ServeHTTP(rec, r) // the dev server acts on the request ...
		if kind == "drop-after" {
			drop(w) // ... and the answer never arrives
			return
		}
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
	default:
		fp.proxy.ServeHTTP(w, r)
	}
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

type discardWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return d.buf.Write(p) }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// TestFaultyPlatformConverges provisions 50 tenants concurrently through a Platform API that fails
// a third of its calls, retrying whole Provision calls, and checks the end state: every tenant
// active, exactly 50 databases (no duplicates, none missing), exactly 50 registry rows, none orphaned.
//
// It runs twice: with the Turso client's own retries (the production setting) and with them
// disabled, so every fault reaches the pipeline and only its idempotence makes the runs converge.
func TestFaultyPlatformConverges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
	}{{"client-retries", 3}, {"no-client-retries", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			faultyProvisioning(t, tc.maxRetries)
		})
	}
}

func faultyProvisioning(t *testing.T, maxRetries int) {
	const tenants, concurrency, attempts = 50, 8, 40
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Everything the run logs (service, Turso client, dev server) is kept for the secret check.
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dev, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: testAPIToken, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Stop) // after the service (registered later) has closed its handles
	check := &leakCheck{}
	proxy := newFaultProxy(t, dev.URL, 0.35, check)

	e := &env{name: "dev", dataDir: t.TempDir(), logs: logs, logger: logger, clock: &fakeClock{}}
	e.plat = newTurso(t, proxy.URL, logger, maxRetries)
	s := e.service(t)

	var retries atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := 0; i < tenants; i++ {
		id := fmt.Sprintf("fault-%02d", i)
		g.Go(func() error {
			var last error
			for a := 0; a < attempts; a++ {
				res, err := s.Provision(gctx, withBundle(req(id), testBundle(2, true)))
				check.add(res, err)
				if err == nil && res.Status == tenant.StatusActive {
					return nil
				}
				last = err
				retries.Add(1)
				select {
				case <-gctx.Done():
					return gctx.Err()
				case <-time.After(time.Duration(5+a*5) * time.Millisecond):
				}
			}
			return fmt.Errorf("tenant %s did not converge after %d attempts: %w", id, attempts, last)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d whole-Provision retries", retries.Load())

	// The truth, read without faults: straight from the dev server.
	clean := newTurso(t, dev.URL, nil, 0)
	dbs := databaseNames(t, ctx, clean)
	sort.Strings(dbs)
	var want []string
	for i := 0; i < tenants; i++ {
		want = append(want, fmt.Sprintf("fault-%02d", i))
	}
	if !slices.Equal(dbs, want) {
		t.Fatalf("dev server holds %d databases %v; want exactly the %d tenant databases", len(dbs), dbs, tenants)
	}
	rows, err := s.List(ctx, tenant.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != tenants {
		t.Fatalf("registry has %d rows, want %d", len(rows), tenants)
	}
	for _, r := range rows {
		if r.Status != tenant.StatusActive || r.DatabaseURL == "" || !slices.Contains(dbs, r.DatabaseName) {
			t.Fatalf("row %s: status %s, database %s (%s): not a converged tenant", r.ID, r.Status, r.DatabaseName, r.DatabaseURL)
		}
		db, err := s.DB(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, ctx, db, "obj_00"); n != 2 {
			t.Fatalf("tenant %s: %d seed rows, want 2 (seeding duplicated or lost)", r.ID, n)
		}
	}
	check.assertClean(t, e, s)
}

// TestFailedRunIsRecordedAndResumed: a platform that refuses token minting makes the run fail;
// the failure is recorded (status failed, the failed step with its error, later steps skipped)
// and the next run, once the platform recovers, completes the same tenant.
func TestFailedRunIsRecordedAndResumed(t *testing.T) {
	ctx := testCtx(t)
	dev, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: testAPIToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Stop)
	target, _ := url.Parse(dev.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	check := &leakCheck{}
	check.tap(rp)
	var broken atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() && strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			http.Error(w, `{"error":"token service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{name: "dev", dataDir: t.TempDir(), logs: logs, logger: logger, clock: &fakeClock{}}
	e.plat = newTurso(t, proxy.URL, logger, -1)
	s := e.service(t)

	broken.Store(true)
	res, err := s.Provision(ctx, req("flaky"))
	check.add(res, err)
	if err == nil || res == nil || res.Status != tenant.StatusFailed || !strings.Contains(res.Error, "create_database") {
		t.Fatalf("failed run: %v, %+v", err, res)
	}
	if res.Steps[0].Status != tenant.StepFailed || res.Steps[0].Error == "" || res.Steps[1].Status != tenant.StepSkipped {
		t.Fatalf("steps of a failed run: %+v", res.Steps)
	}
	tn, err := s.Get(ctx, "flaky")
	if err != nil || tn.Status != tenant.StatusFailed || tn.Error == "" {
		t.Fatalf("registry after failure: %+v, %v", tn, err)
	}
	check.add(tn)
	_, err = s.DB(ctx, "flaky")
	if !errors.Is(err, tenant.ErrState) {
		t.Fatalf("DB of a failed tenant: %v", err)
	}
	check.add(err)

	broken.Store(false)
	check.add(mustProvision(t, ctx, s, req("flaky")))
	if dbs := databaseNames(t, ctx, e.plat); !slices.Equal(dbs, []string{"flaky"}) {
		t.Fatalf("databases %v", dbs)
	}
	check.assertClean(t, e, s)
}

// TestLostCreateAnswerDoesNotAdoptForeignDatabase: when the answer to POST /databases is lost, the
// Turso client looks the name up and adopts what it finds — which may be a database that existed
// before (our POST never landed). Provisioning must still refuse a database that is not ours.
func TestLostCreateAnswerDoesNotAdoptForeignDatabase(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, "dev")
	seed := func(name, stmts string) { foreignDatabase(t, ctx, e, name, stmts) }
	seed("foreign", `CREATE TABLE payroll (x); INSERT INTO payroll VALUES (1)`)
	seed("claimed", `CREATE TABLE _objectstack_tenant (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, claimed_at TEXT NOT NULL); INSERT INTO _objectstack_tenant VALUES (1, 'someone-else', '2026-01-01T00:00:00Z')`)

	u, err := url.Parse(e.devURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	check := &leakCheck{}
	check.tap(rp)
	var dropped atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every create is lost on the way: the server never sees it, the client never hears.
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/databases") {
			dropped.Add(1)
			drop(w)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	plat := newTurso(t, proxy.URL, e.logger, 1)
	s := e.service(t, func(c *tenant.Config) { c.Platform = plat })
	for _, id := range []string{"foreign", "claimed"} {
		res, err := s.Provision(ctx, req(id))
		if !errors.Is(err, tenant.ErrConflict) {
			t.Errorf("provision over %s database after a lost create answer: %v, want ErrConflict", id, err)
		}
		check.add(res, err)
	}
	if dropped.Load() == 0 {
		t.Fatal("no create was dropped: the test proved nothing")
	}
	// The foreign database was not marked as ours.
	d, err := e.plat.GetDatabase(ctx, "foreign")
	if err != nil {
		t.Fatal(err)
	}
	db := openDirect(t, ctx, e, d)
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name = '_objectstack_tenant'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the foreign database got our ownership marker")
	}
	check.assertClean(t, e, s)
}
