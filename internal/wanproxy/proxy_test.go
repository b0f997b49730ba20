package wanproxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
)

const apiToken = "sk-wanproxy-test-token"

// startDevBehindProxy runs the real dev server on loopback with the proxy in front of it.
func startDevBehindProxy(t *testing.T, delay time.Duration) (*devserver.Running, *wanproxy.Proxy) {
	t.Helper()
	run, err := devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	p, err := wanproxy.Start(run.URL, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return run, p
}

// TestCountsThroughDevServer provisions a database through the Platform API via the proxy and queries
// it with the URL the dev server returned: that URL must point back at the proxy (Host preserved), so
// the query is counted as Hrana for that database.
func TestCountsThroughDevServer(t *testing.T) {
	ctx := context.Background()
	_, p := startDevBehindProxy(t, 0)
	plat, err := platform.NewTurso(platform.TursoConfig{BaseURL: p.URL(), Organization: "acme", APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	db, err := plat.CreateDatabase(ctx, platform.CreateOptions{Name: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(db.URL, p.URL()+"/") {
		t.Fatalf("database URL %q does not lead back through the proxy %s: the Host header was not preserved", db.URL, p.URL())
	}
	tok, err := plat.CreateToken(ctx, "alpha", platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot()
	if s.Total != 2 || s.Platform != 2 || s.Hrana != 0 || s.PlatformByDatabase["alpha"] != 2 {
		t.Fatalf("after create + token: %+v, want 2 Platform API requests, both for alpha", s)
	}

	p.Reset()
	if s := p.Snapshot(); s.Total != 0 || len(s.PlatformByDatabase) != 0 {
		t.Fatalf("after Reset: %+v", s)
	}
	conn, err := database.Open(db.URL, tok.JWT)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The engine's batches are one HTTP request each, whatever they hold; libsql-client-go's own
	// per-statement traffic (a stream per query, closed lazily) is not what this test is about.
	read := func() {
		t.Helper()
		res, err := database.For(conn).Read(ctx, []database.Stmt{{SQL: "SELECT 1", Query: true}, {SQL: "SELECT 2", Query: true}})
		if err != nil || len(res) != 2 || res[1].Rows[0][0] != int64(2) {
			t.Fatalf("batch through the proxy: %+v, %v", res, err)
		}
	}
	for i := 0; i < 3; i++ {
		read()
	}
	s = p.Snapshot()
	if s.Total != 3 || s.Hrana != 3 || s.HranaByDatabase["alpha"] != 3 || s.Platform != 0 {
		t.Fatalf("after 3 batches: %+v, want 3 Hrana requests for alpha", s)
	}
	// The snapshot is a copy: later traffic does not change it.
	read()
	if s.HranaByDatabase["alpha"] != 3 || p.Snapshot().HranaByDatabase["alpha"] != 4 {
		t.Fatalf("snapshot aliases the live counts: old %d, new %d", s.HranaByDatabase["alpha"], p.Snapshot().HranaByDatabase["alpha"])
	}
}

// TestPerDatabaseAttribution sends Hrana requests in each addressing form a client may use and checks
// that each lands on the right database's count: by path, by a DNS Host's first label, and by the
// bearer token's id claim when the Host is an IP address.
func TestPerDatabaseAttribution(t *testing.T) {
	ctx := context.Background()
	_, p := startDevBehindProxy(t, 0)
	plat, err := platform.NewTurso(platform.TursoConfig{BaseURL: p.URL(), Organization: "acme", APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, name := range []string{"by-path", "by-dev", "by-host", "by-token"} {
		if _, err := plat.CreateDatabase(ctx, platform.CreateOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
		tok, err := plat.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok.JWT
	}
	p.Reset()
	pipeline := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},{"type":"close"}]}`
	send := func(path, host, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+path, strings.NewReader(pipeline))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host // dial the proxy, but name another host, as a client given a Hostname does
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("/db/by-path/v2/pipeline", "", tokens["by-path"]); code != http.StatusOK {
		t.Fatalf("path form: HTTP %d", code)
	}
	if code := send("/dev/by-dev/v2/pipeline", "", tokens["by-dev"]); code != http.StatusOK {
		t.Fatalf("turso dev form: HTTP %d", code)
	}
	// The dev server routes "<db>.<anything>" to <db>, as Turso routes its hostnames.
	if code := send("/v2/pipeline", "by-host.example.test", tokens["by-host"]); code != http.StatusOK {
		t.Fatalf("host form: HTTP %d", code)
	}
	// Whether today's dev server routes an IP Host by token does not matter here: the proxy counts the
	// request it forwarded.
	send("/v2/pipeline", "", tokens["by-token"])
	send("/v2/pipeline", "", tokens["by-token"])

	s := p.Snapshot()
	want := map[string]int64{"by-path": 1, "by-dev": 1, "by-host": 1, "by-token": 2}
	for name, n := range want {
		if s.HranaByDatabase[name] != n {
			t.Errorf("%s: %d Hrana requests counted, want %d (all: %v)", name, s.HranaByDatabase[name], n, s.HranaByDatabase)
		}
	}
	if s.Hrana != 5 || s.Total != 5 || len(s.HranaByDatabase) != len(want) {
		t.Fatalf("totals %+v, want 5 Hrana requests over %d databases", s, len(want))
	}
	if got := s.HranaCounts("by-token", "missing"); got[0] != 2 || got[1] != 0 {
		t.Fatalf("HranaCounts(by-token, missing) = %v, want [2 0]", got)
	}
	if m := s.HranaMedian(); m != 1 {
		t.Fatalf("median over seen databases = %v, want 1", m)
	}
}

func TestClassify(t *testing.T) {
	jwt := func(claims string) string {
		return "Bearer eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		method, path, host, auth, body string
		kind                           wanproxy.Kind
		db                             string
	}{
		{"POST", "/v1/organizations/acme/databases", "127.0.0.1:1", "", `{"name":"t-1","group":"default"}`, wanproxy.Platform, "t-1"},
		{"GET", "/v1/organizations/acme/databases", "127.0.0.1:1", "", "", wanproxy.Platform, ""},
		{"POST", "/v1/organizations/acme/databases/t-2/auth/tokens", "127.0.0.1:1", "", "", wanproxy.Platform, "t-2"},
		{"GET", "/v1/organizations/acme/databases/t-3", "127.0.0.1:1", "", "", wanproxy.Platform, "t-3"},
		{"GET", "/v1/locations", "127.0.0.1:1", "", "", wanproxy.Platform, ""},
		{"POST", "/db/t-4/v2/pipeline", "127.0.0.1:1", jwt(`{"id":"other"}`), "", wanproxy.Hrana, "t-4"},
		{"POST", "/dev/t-5/v2/pipeline", "127.0.0.1:1", "", "", wanproxy.Hrana, "t-5"},
		{"POST", "/v2/pipeline", "t-6-acme.turso.io", jwt(`{"id":"other"}`), "", wanproxy.Hrana, "t-6-acme"},
		{"POST", "/v2/pipeline", "127.0.0.1:1", jwt(`{"a":"rw","id":"t-7"}`), "", wanproxy.Hrana, "t-7"},
		{"POST", "/v3/pipeline", "localhost:8080", jwt(`{"id":"t-8"}`), "", wanproxy.Hrana, "t-8"},
		{"POST", "/v2/pipeline", "[::1]:8080", "Bearer not-a-jwt", "", wanproxy.Hrana, ""},
		{"POST", "/db/t-9/v3/cursor", "127.0.0.1:1", "", "", wanproxy.Hrana, "t-9"},
		{"GET", "/db/t-10/v2", "127.0.0.1:1", "", "", wanproxy.Other, ""},
		{"GET", "/v2", "127.0.0.1:1", "", "", wanproxy.Other, ""},
		{"GET", "/health", "127.0.0.1:1", "", "", wanproxy.Other, ""},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.host, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Host = tc.host
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			kind, db := wanproxy.Classify(r)
			if kind != tc.kind || db != tc.db {
				t.Fatalf("Classify = %s %q, want %s %q", kind, db, tc.kind, tc.db)
			}
			// Peeking at a create body must leave it intact for the target.
			if rest, _ := io.ReadAll(r.Body); string(rest) != tc.body {
				t.Fatalf("body after Classify = %q, want %q", rest, tc.body)
			}
		})
	}
}

// holdingTarget is a real loopback server that keeps every request open until release is closed and
// records how many it held at once and what Host and body it saw.
type holdingTarget struct {
	srv      *httptest.Server
	release  chan struct{}
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	hits     atomic.Int64
	once     sync.Once
	mu       sync.Mutex
	hosts    map[string]int
	bodies   []string
	// onFirst runs when the first request arrives.
	onFirst func()
}

func newHoldingTarget(t *testing.T) *holdingTarget {
	h := &holdingTarget{release: make(chan struct{}), hosts: map[string]int{}}
	var first sync.Once
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		h.hits.Add(1)
		for {
			old := h.maxSeen.Load()
			if n <= old || h.maxSeen.CompareAndSwap(old, n) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.hosts[r.Host]++
		h.bodies = append(h.bodies, string(body))
		h.mu.Unlock()
		first.Do(func() {
			if h.onFirst != nil {
				h.onFirst()
			}
		})
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(func() {
		h.open()
		h.srv.Close()
	})
	return h
}

// open releases every held request, and lets later ones through at once.
func (h *holdingTarget) open() { h.once.Do(func() { close(h.release) }) }

// TestDelayIsPerRequestNotSerialised sends 32 requests at once through a proxy with a 1 s delay to a
// target that holds every request it gets. Were the delay serialised, the target would see the requests
// one second apart (32 s for all); applied per request, all 32 are in the target at once after about
// one delay. The assertions are on counts and ordering: the target held 32 at once, and when the first
// request reached it the proxy had already taken in all 32 (every request waits its delay first).
func TestDelayIsPerRequestNotSerialised(t *testing.T) {
	const n = 32
	target := newHoldingTarget(t)
	p, err := wanproxy.Start(target.srv.URL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var proxyTotalAtFirstArrival atomic.Int64
	target.onFirst = func() { proxyTotalAtFirstArrival.Store(p.Snapshot().Total) }

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"i":%d}`, i)
			resp, err := client.Post(p.URL()+"/db/d/v2/pipeline", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(b) != "ok" {
				errs <- fmt.Errorf("HTTP %d %q", resp.StatusCode, b)
			}
		}()
	}
	// The bound only catches a serialised proxy (which needs 32 s); it is not a speed target.
	deadline := time.Now().Add(15 * time.Second)
	for target.inFlight.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	target.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := target.maxSeen.Load(); got != n {
		t.Fatalf("the target held at most %d requests at once, want %d: the proxy serialises its delay", got, n)
	}
	if got := proxyTotalAtFirstArrival.Load(); got != n {
		t.Fatalf("the first request reached the target when the proxy had taken in %d of %d: the delay is not applied before forwarding", got, n)
	}
	s := p.Snapshot()
	if s.Total != n || s.Hrana != n || s.HranaByDatabase["d"] != n || s.MaxInFlight != n {
		t.Fatalf("counts %+v, want %d Hrana requests for d, %d in flight at most", s, n, n)
	}
	// Every request reached the target with the client's Host (the proxy's own address) and its body.
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.hosts[p.Addr()] != n || len(target.hosts) != 1 {
		t.Fatalf("hosts seen by the target: %v, want all %d as %s", target.hosts, n, p.Addr())
	}
	seen := map[string]bool{}
	for _, b := range target.bodies {
		seen[b] = true
	}
	if len(seen) != n {
		t.Fatalf("the target saw %d distinct bodies, want %d", len(seen), n)
	}
}

// TestCancelledDuringDelayIsNotForwarded: a client that gives up during the simulated round trip is
// counted (it was sent) but never reaches the target.
func TestCancelledDuringDelayIsNotForwarded(t *testing.T) {
	target := newHoldingTarget(t)
	p, err := wanproxy.Start(target.srv.URL, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/v2/pipeline", bytes.NewReader(nil))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for p.Snapshot().Total == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled request succeeded")
	}
	p.SetDelay(0)
	if p.Delay() != 0 {
		t.Fatalf("Delay() = %v after SetDelay(0)", p.Delay())
	}
	target.open()
	resp, err := http.Get(p.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits := target.hits.Load(); hits != 1 {
		t.Fatalf("target hits = %d, want 1 (only the request sent after the cancelled one)", hits)
	}
	if s := p.Snapshot(); s.Total != 2 || s.Hrana != 1 || s.Other != 1 {
		t.Fatalf("counts %+v, want the cancelled Hrana request and the health check", s)
	}
}

func TestPercentile(t *testing.T) {
	xs := []int64{30, 1, 2, 2, 3}
	for _, tc := range []struct {
		p    float64
		want float64
	}{{0, 1}, {50, 2}, {75, 3}, {100, 30}} {
		if got := wanproxy.Percentile(xs, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", xs, tc.p, got, tc.want)
		}
	}
	if got := wanproxy.Percentile([]int64{1, 2, 3, 4}, 50); got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
	if xs[0] != 30 {
		t.Errorf("Percentile sorted its input in place: %v", xs)
	}
	if !math.IsNaN(wanproxy.Percentile(nil, 50)) {
		t.Error("Percentile of no counts is not NaN")
	}
}

func TestStartRejectsBadTarget(t *testing.T) {
	for _, target := range []string{"", "127.0.0.1:8080", "ftp://127.0.0.1/"} {
		if p, err := wanproxy.Start(target, 0); err == nil {
			p.Close()
			t.Errorf("Start(%q) accepted a target that is not an http(s) URL", target)
		} else if !strings.Contains(err.Error(), "wanproxy") {
			t.Errorf("Start(%q) error %q does not say where it came from", target, err)
		}
	}
}
