package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant/router"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// The control-plane database's name on the dev server; its Hrana requests are /db/<name>/v2/pipeline.
const controlDBName = "control-plane"

// requestCounter counts the requests a reverse proxy forwards, by what they are for: the control plane
// (split into batch writes, batch reads and anything else — a request that is not one of the Batcher's
// would be a per-row path), tenant databases, and the Platform API.
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *requestCounter) classify(r *http.Request, body []byte) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/db/"+controlDBName+"/"):
		switch {
		case bytes.Contains(body, []byte(`"BEGIN IMMEDIATE"`)):
			return "control:write"
		case bytes.Contains(body, []byte(`"BEGIN DEFERRED"`)):
			return "control:read"
		}
		return "control:other"
	case strings.HasPrefix(r.URL.Path, "/db/"):
		return "tenant"
	}
	return "api"
}

func (c *requestCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// control is the number of control-plane requests in counts.
func control(counts map[string]int) int {
	return counts["control:write"] + counts["control:read"] + counts["control:other"]
}

// countingProxy starts a loopback reverse proxy in front of target that counts every request. The dev
// server derives the URLs it hands out from the Host it is asked on, and the proxy keeps that Host, so
// databases created through the proxy are reached through it too.
func countingProxy(t testing.TB, target string) (*httptest.Server, *requestCounter) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	c := &requestCounter{n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		kind := c.classify(r, body)
		c.mu.Lock()
		c.n[kind]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, c
}

// remoteFleet is the production topology on loopback: `objectstack dev` as Turso, reached through a
// counting proxy, holding the control plane and (optionally) the tenant databases.
type remoteFleet struct {
	plat        *platform.Turso
	counts      *requestCounter
	controlURL  string
	controlTok  string
	platformURL string
}

func startRemoteFleet(t testing.TB) *remoteFleet {
	t.Helper()
	ctx := context.Background()
	const apiToken = "dev-api-token"
	run, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	proxy, counts := countingProxy(t, run.URL)
	plat, err := platform.NewTurso(platform.TursoConfig{BaseURL: proxy.URL, Organization: "acme", APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := plat.CreateDatabase(ctx, platform.CreateOptions{Name: controlDBName})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ctl.URL, proxy.URL) {
		t.Fatalf("control plane URL %s does not go through the proxy %s", ctl.URL, proxy.URL)
	}
	tok, err := plat.CreateToken(ctx, ctl.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	return &remoteFleet{plat: plat, counts: counts, controlURL: ctl.URL, controlTok: tok.JWT, platformURL: proxy.URL}
}

// service opens a tenant service on the fleet (Turso tenants, remote control plane) with the reconciler's
// status tables on its control-plane handle, as cmd/objectstack does.
func (f *remoteFleet) service(t testing.TB) (*tenant.Service, *status.Store) {
	t.Helper()
	ctx := context.Background()
	svc, err := tenant.Open(ctx, tenant.Config{DataDir: t.TempDir(), Platform: f.plat, ControlURL: f.controlURL, ControlToken: f.controlTok,
		SecretKey: testKey, Router: router.Config{MaxCached: 256}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	store, err := status.Open(ctx, svc.ControlDB())
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// TestControlPlaneRequestCounts is issue 9's control-plane budget, counted at a proxy in front of
// `objectstack dev` holding the control plane and 100 Turso tenant databases:
//   - a no-change reconcile is 2 control-plane requests (one read, one write) and opens no tenant database;
//   - a rollout to 100 tenants at the Turso default concurrency (64) writes the control plane once to start
//     (rollout, all tasks, source), once per 64 tenants for their leases and once per 64 tenants for their
//     outcomes (status, history, task states, lease releases; the last with the rollout's final state):
//     5 writes for 100 tenants, where writing per tenant took hundreds.
//
// Counts are exact: time-based flushes are off (FlushInterval < 0), so no count depends on timing.
func TestControlPlaneRequestCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions 100 databases")
	}
	ctx := context.Background()
	f := startRemoteFleet(t)
	provisioner, _ := f.service(t)
	const n = 100
	for i := 0; i < n; i++ {
		if res, err := provisioner.Provision(ctx, tenant.Request{ID: fmt.Sprintf("w-%03d", i), OrgID: "acme"}); err != nil || res.Status != tenant.StatusActive {
			t.Fatalf("provision: %+v %v", res, err)
		}
	}
	remote := gittest.New(t)
	remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	remote.Commit("core 1.0.0")

	// A reconciler process of its own: its own tenant service (empty handle cache) and mirror.
	svc, store := f.service(t)
	src, err := source.New(source.Options{URL: remote.Bare, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Tenants: svc, Store: store, Source: src, DriftInterval: -1, FlushInterval: -1, Holder: "counted"})
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.Concurrency != 64 {
		t.Fatalf("default concurrency on Turso = %d, want 64", r.opts.Concurrency)
	}
	run := func(what string, wantApplied int) map[string]int {
		t.Helper()
		f.counts.take()
		sum, err := r.Once(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !sum.OK() || sum.Applied != wantApplied {
			t.Fatalf("%s: applied %d (want %d), failed %d, halted %d, leased %d", what, sum.Applied, wantApplied, sum.Failed, sum.Halted, sum.Leased)
		}
		c := f.counts.take()
		t.Logf("%s: control plane %d requests (%d writes, %d reads), tenant databases %d (%.1f per tenant), Platform API %d",
			what, control(c), c["control:write"], c["control:read"], c["tenant"], float64(c["tenant"])/n, c["api"])
		if c["control:other"] != 0 || c["api"] != 0 {
			t.Fatalf("%s: %d control-plane requests outside the batch API, %d Platform API requests", what, c["control:other"], c["api"])
		}
		return c
	}
	// First deploy from a fresh process: 1 read (registry + status), 2 reads opening the tenants (one per
	// 64 tenants) and 5 writes: start, leases ×2, outcomes ×2.
	c := run("first deploy", n)
	if c["control:write"] != 5 || c["control:read"] != 3 {
		t.Fatalf("first deploy: %d control-plane writes and %d reads, want 5 and 3", c["control:write"], c["control:read"])
	}
	for _, id := range []string{"w-000", "w-063", "w-064", "w-099"} {
		st, ok, err := store.Get(ctx, id)
		if err != nil || !ok || st.Condition != status.Ready || st.LastAppliedRevision == "" || len(st.History) != 1 {
			t.Fatalf("%s after the rollout: %+v %v %v", id, st, ok, err)
		}
	}
	if ro, err := store.LatestRollout(ctx); err != nil || ro.State != status.RolloutCompleted || len(ro.Tasks) != n {
		t.Fatalf("rollout: %+v %v", ro, err)
	}

	// No change: one read, one write (the source's fetch record), no tenant database opened.
	c = run("no change", 0)
	if control(c) != 2 || c["control:write"] != 1 || c["tenant"] != 0 {
		t.Fatalf("no-change reconcile: %v, want 2 control-plane requests and no tenant request", c)
	}

	// A one-column change: handles are cached now, so 1 read and the same 5 writes — O(tenants/64).
	remote.Write(coreBundle("1.1.0", "due: { type: date, label: Due }"))
	remote.Commit("core 1.1.0: one column")
	c = run("one-column change", n)
	if c["control:write"] != 5 || c["control:read"] != 1 {
		t.Fatalf("one-column change: %d control-plane writes and %d reads, want 5 and 1", c["control:write"], c["control:read"])
	}
}

// TestCanaryHaltOnRemoteControlPlane: with the control plane remote, a failing canary still halts the
// rest of the rollout (no other tenant touched, tasks skipped, the rollout halted) — in 4 writes: start,
// the canary's lease, the canary wave's outcome at wave end, and the halted tenants with the final state.
func TestCanaryHaltOnRemoteControlPlane(t *testing.T) {
	ctx := context.Background()
	f := startRemoteFleet(t)
	tenants := []tenantSpec{{"t-canary", map[string]string{"env": "prod"}}}
	for _, id := range []string{"t-a", "t-b", "t-c", "t-d", "t-e"} {
		tenants = append(tenants, tenantSpec{id, map[string]string{"env": "prod"}})
	}
	e := newEnvWith(t, tenants, f.controlURL, f.controlTok)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core")
	r := e.reconciler(Options{FlushInterval: -1, Holder: "canary-test"})
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != len(tenants) {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	// Another migrator holds the canary's engine lock: its apply fails.
	if err := schema.AcquireLock(ctx, e.db("t-canary"), "terraform-run-7", time.Hour); err != nil {
		t.Fatal(err)
	}
	e.remote.Write(coreBundle("1.1.0", "due: { type: date, label: Due }"))
	e.remote.Commit("core 1.1.0")
	f.counts.take()
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := f.counts.take()
	oc := outcomes(sum)
	if oc["t-canary"] != OutcomeFailed || sum.Halted != 5 || sum.Applied != 0 || sum.RolloutState != status.RolloutHalted {
		t.Fatalf("canary failure: %+v", sum)
	}
	ro, err := e.store.LatestRollout(ctx)
	if err != nil || ro.State != status.RolloutHalted || ro.Tasks["t-canary"] != status.TaskFailed || ro.Tasks["t-e"] != status.TaskSkipped {
		t.Fatalf("rollout: %+v %v", ro, err)
	}
	for _, id := range []string{"t-a", "t-e"} {
		if st := e.status(id); st.Reason != status.ReasonHalted {
			t.Fatalf("%s: %+v", id, st)
		}
		if n := e.deployments(id, core, sum.Revision); n != 0 {
			t.Fatalf("%s migrated although the canary failed", id)
		}
	}
	t.Logf("halted rollout: %d control-plane writes, %d reads", c["control:write"], c["control:read"])
	if c["control:write"] != 4 || c["control:other"] != 0 {
		t.Fatalf("halted rollout: %v, want 4 control-plane writes", c)
	}
	// The lease of every tenant is free again: a retry (lock released) converges everyone.
	if err := schema.ReleaseLock(ctx, e.db("t-canary"), "terraform-run-7"); err != nil {
		t.Fatal(err)
	}
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != len(tenants) {
		t.Fatalf("after the lock is released: %+v %v", sum, err)
	}
}
