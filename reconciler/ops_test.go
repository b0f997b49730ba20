package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// fakeClock is a settable clock for sync windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var opsTenants = []tenantSpec{
	{"t-canary", map[string]string{"env": "prod"}},
	{"t-a", map[string]string{"env": "prod"}}, {"t-b", map[string]string{"env": "prod"}},
	{"t-c", map[string]string{"env": "prod"}}, {"t-d", map[string]string{"env": "prod"}},
}

// replica opens a second reconciler process's view of e's data folder: its own tenant service and
// control-plane handle on the same control plane (as a second `objectstack reconcile` would).
func (e *env) replica(t *testing.T, opts Options) *Reconciler {
	t.Helper()
	return e.replicaOn(t, "", "", opts)
}

// replicaOn is replica with the control plane at controlURL (empty: the data folder's control.db).
func (e *env) replicaOn(t *testing.T, controlURL, controlToken string, opts Options) *Reconciler {
	t.Helper()
	other := openEnvWith(t, e.dataDir, controlURL, controlToken)
	other.remote = e.remote
	return other.reconciler(opts)
}

func mustOnce(t *testing.T, what string, r *Reconciler) *Summary {
	t.Helper()
	sum, err := r.Once(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return sum
}

// TestSuspendResumeTwoReplicas (issue 13 item 2): a suspension lives in the control plane, so two replicas
// sharing it both honour it. A whole-repository suspension written while replica a's rollout is in its
// canary wave lets the canary finish and starts no tenant of the next wave; replica b then skips every
// tenant too. Suspended tenants are reported (Reconciling/Suspended, outcome suspended, /status, metrics),
// never failed; resuming lets either replica finish. A tenant suspension stops only that tenant.
//
// It runs with the control plane in a file and on `objectstack dev` behind a counting proxy, where a
// reconcile of a suspended repository is shown to cost what a no-change reconcile does: one read (the
// suspensions ride on the registry snapshot) and one write.
func TestSuspendResumeTwoReplicas(t *testing.T) {
	t.Run("file", func(t *testing.T) { testSuspendResume(t, nil) })
	t.Run("remote", func(t *testing.T) { testSuspendResume(t, startRemoteFleet(t)) })
}

func testSuspendResume(t *testing.T, f *remoteFleet) {
	ctx := context.Background()
	ctlURL, ctlTok := "", ""
	if f != nil {
		ctlURL, ctlTok = f.controlURL, f.controlTok
	}
	e := newEnvWith(t, opsTenants, ctlURL, ctlTok)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	var suspendOnce sync.Once
	a := e.reconciler(Options{Holder: "replica-a", OnTenant: func(res TenantResult) {
		if res.TenantID == "t-canary" {
			// `objectstack suspend --reason ...` from an operator's shell: its own handle on the control plane.
			suspendOnce.Do(func() {
				if err := openEnvWith(t, e.dataDir, ctlURL, ctlTok).store.Suspend(ctx, nil, "incident 42: error rate up", "ops@laptop"); err != nil {
					t.Error(err)
				}
			})
		}
	}})
	b := e.replicaOn(t, ctlURL, ctlTok, Options{Holder: "replica-b", FlushInterval: -1})

	sum := mustOnce(t, "replica a", a)
	oc := outcomes(sum)
	if oc["t-canary"] != OutcomeApplied || sum.Applied != 1 || sum.Suspended != 4 || sum.Failed+sum.Halted+sum.Refused != 0 || !sum.OK() {
		t.Fatalf("replica a: the canary should finish and no later tenant start: %+v", sum)
	}
	if sum.RolloutState != status.RolloutSuspended {
		t.Fatalf("rollout state %q, want suspended", sum.RolloutState)
	}
	for _, id := range []string{"t-a", "t-d"} {
		if n := e.deployments(id, core, ""); n != 0 {
			t.Fatalf("%s migrated while the repository was suspended", id)
		}
		st := e.status(id)
		if st.Condition != status.Reconciling || st.Reason != status.ReasonSuspended || !strings.Contains(st.Message, "incident 42") ||
			st.Suspension == nil || st.Suspension.Scope != status.SuspendAll || st.Suspension.By != "ops@laptop" {
			t.Fatalf("%s status: %+v", id, st)
		}
	}
	if got := metricValue(a.m.Suspended.WithLabelValues("repository")); got != 1 {
		t.Fatalf("suspended{scope=repository} = %v", got)
	}
	// Leases of tenants that never started are not left behind.
	if ls, err := e.store.Leases(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("leases after a suspended rollout: %+v %v", ls, err)
	}

	// Replica b reads the same suspension: nothing applied, nothing failed, everything reported.
	sum = mustOnce(t, "replica b while suspended", b)
	if sum.Applied != 0 || sum.Suspended != 4 || !sum.OK() || len(sum.Results) != 4 {
		t.Fatalf("replica b while suspended: %+v", sum)
	}
	if got := metricValue(b.m.Suspended.WithLabelValues("repository")); got != 1 {
		t.Fatalf("replica b: suspended{scope=repository} = %v", got)
	}
	if f != nil {
		// Polling a suspended repository: the statuses already say so, so one read and one write (the
		// source's fetch record), no tenant database — the no-change budget.
		f.counts.take()
		if sum := mustOnce(t, "replica b polling while suspended", b); sum.Suspended != 4 || sum.Applied != 0 {
			t.Fatalf("polling while suspended: %+v", sum)
		}
		c := f.counts.take()
		if c["control:read"] != 1 || c["control:write"] != 1 || c["control:other"] != 0 || c["tenant"] != 0 {
			t.Fatalf("a reconcile of a suspended repository: %v, want 1 control-plane read and 1 write", c)
		}
	}
	// /status shows the suspension and each suspended tenant.
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var doc StatusDocument
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(doc.Suspensions) != 1 || doc.Suspensions[0].Reason != "incident 42: error rate up" {
		t.Fatalf("/status suspensions: %+v", doc.Suspensions)
	}
	for _, tn := range doc.Tenants {
		if tn.Suspension == nil {
			t.Fatalf("/status: %s has no suspension", tn.TenantID)
		}
	}
	if doc.Last == nil || doc.Last.Suspended != 4 {
		t.Fatalf("/status lastReconcile: %+v", doc.Last)
	}

	// Resume the repository but suspend t-b alone: replica b applies everyone else, t-b stays reported.
	if n, err := e.store.Resume(ctx, nil); err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	if err := e.store.Suspend(ctx, []string{"t-b"}, "customer asked for a freeze", "ops"); err != nil {
		t.Fatal(err)
	}
	sum = mustOnce(t, "replica b after resume", b)
	oc = outcomes(sum)
	if sum.Applied != 3 || oc["t-b"] != OutcomeSuspended || !sum.OK() {
		t.Fatalf("replica b after resume: %+v", sum)
	}
	if got := metricValue(b.m.Suspended.WithLabelValues("tenant")); got != 1 {
		t.Fatalf("suspended{scope=tenant} = %v", got)
	}
	if st := e.status("t-b"); st.Reason != status.ReasonSuspended || !strings.Contains(st.Message, "customer asked") {
		t.Fatalf("t-b: %+v", st)
	}
	// The loop keeps polling while a tenant is suspended, so a resume needs no new commit.
	if !b.needRetry {
		t.Fatal("a reconcile that left a suspended tenant must be retried")
	}
	if _, err := e.store.Resume(ctx, []string{"t-b"}); err != nil {
		t.Fatal(err)
	}
	sum = mustOnce(t, "replica a after the tenant's resume", a)
	if outcomes(sum)["t-b"] != OutcomeApplied || !sum.OK() {
		t.Fatalf("after resuming t-b: %+v", sum)
	}
	for _, tn := range opsTenants {
		if n := e.deployments(tn.id, core, ""); n != 1 {
			t.Fatalf("%s has %d deployments, want exactly 1", tn.id, n)
		}
		if st := e.status(tn.id); st.Condition != status.Ready {
			t.Fatalf("%s: %+v", tn.id, st)
		}
	}
}

// TestSuspensionReachesARunningWave: a suspension written while a wave is in progress (after its tenants
// were leased) stops the tenants not started yet, through the lease heartbeat; the ones in flight finish.
func TestSuspensionReachesARunningWave(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, opsTenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\nrollout:\n  waves: [{name: all, maxParallel: 1}]\n")},
		coreBundle("1.0.0")))
	e.remote.Commit("core")
	ctl := openEnv(t, e.dataDir).store
	var first atomic.Bool
	var r *Reconciler
	r = e.reconciler(Options{Holder: "replica-a", LeaseTTL: 300 * time.Millisecond, OnTenant: func(res TenantResult) {
		if first.CompareAndSwap(false, true) {
			if err := ctl.Suspend(ctx, nil, "stop now", "ops"); err != nil {
				t.Error(err)
			}
			// Every tenant of the wave was leased before it started; the suspension comes in with the
			// next heartbeat (every TTL/3), which sets the gauge.
			waitFor(t, "a heartbeat to read the suspension", 30*time.Second, func() bool {
				return metricValue(r.m.Suspended.WithLabelValues("repository")) == 1
			})
		}
	}})
	sum := mustOnce(t, "rollout", r)
	if sum.Applied != 1 || sum.Suspended != 4 || !sum.OK() {
		t.Fatalf("one tenant in flight should finish and no other start: %+v", sum)
	}
	if ls, err := e.store.Leases(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("leases left: %+v %v", ls, err)
	}
}

// opsWindowConfig allows changes from 22:00 UTC for two hours, and denies t-b from 22:00 for one hour.
const opsWindowConfig = `syncWindows:
  - kind: allow
    schedule: "0 22 * * *"
    duration: 2h
  - kind: deny
    schedule: "0 22 * * *"
    duration: 1h
    timeZone: UTC
    tenants: [t-b]
`

// TestSyncWindowsTwoReplicas (issue 13 item 3) with a fake clock: outside the allow window nothing is
// applied by either replica, but every tenant is planned and its status says when the window opens; inside
// it the replicas apply — except a tenant a deny window still covers, which waits for that window's end.
// `--override-windows` applies outside the windows and says so in history.
func TestSyncWindowsTwoReplicas(t *testing.T) {
	e := newEnv(t, opsTenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig(opsWindowConfig)}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: day.Add(12 * time.Hour)}
	a := e.reconciler(Options{Holder: "replica-a", Now: clock.Now, Interval: time.Hour})
	b := e.replica(t, Options{Holder: "replica-b", Now: clock.Now, Interval: 24 * time.Hour})

	for _, r := range []*Reconciler{a, b} {
		sum := mustOnce(t, "noon", r)
		if sum.Applied != 0 || sum.Deferred != 5 || !sum.OK() || sum.RolloutID != 0 {
			t.Fatalf("%s at noon: %+v", r.Holder(), sum)
		}
		if sum.NextWindowAt == nil || !sum.NextWindowAt.Equal(day.Add(22*time.Hour)) {
			t.Fatalf("%s: next window %v, want 22:00", r.Holder(), sum.NextWindowAt)
		}
		for _, res := range sum.Results {
			if res.Outcome != OutcomeDeferred || res.Statements == 0 {
				t.Fatalf("%s: deferred tenants are still planned: %+v", r.Holder(), res)
			}
		}
	}
	if got := metricValue(b.m.Deferred); got != 5 {
		t.Fatalf("deferred gauge %v", got)
	}
	for _, tn := range opsTenants {
		if n := e.deployments(tn.id, core, ""); n != 0 {
			t.Fatalf("%s migrated outside its window", tn.id)
		}
	}
	st := e.status("t-a")
	if st.Condition != status.Reconciling || st.Reason != status.ReasonOutsideWindow || !strings.Contains(st.Message, "2026-12-02T22:00:00Z") {
		t.Fatalf("t-a status: %+v", st)
	}
	// The loop polls again just after the window opens (not at the 24 h interval, nor every few seconds).
	if d := b.nextPoll(nil); d > 10*time.Hour+2*time.Second || d < 10*time.Hour {
		t.Fatalf("next poll in %v, want just after 22:00 (10h)", d)
	}
	// /status names the windows and when they open.
	if ws := b.Windows(); len(ws) != 2 || ws[0].Open || !ws[0].NextOpen.Equal(day.Add(22*time.Hour)) {
		t.Fatalf("windows: %+v", ws)
	}

	// 22:30: the allow window is open; t-b's deny window too — t-b waits until 23:00.
	clock.Set(day.Add(22*time.Hour + 30*time.Minute))
	sum := mustOnce(t, "22:30", b)
	oc := outcomes(sum)
	if sum.Applied != 4 || oc["t-b"] != OutcomeDeferred || !sum.NextWindowAt.Equal(day.Add(23*time.Hour)) {
		t.Fatalf("22:30: %+v (next %v)", sum, sum.NextWindowAt)
	}
	if st := e.status("t-b"); !strings.Contains(st.Message, "2026-12-02T23:00:00Z") {
		t.Fatalf("t-b at 22:30: %+v", st)
	}
	clock.Set(day.Add(23*time.Hour + 10*time.Minute))
	sum = mustOnce(t, "23:10", a)
	if oc := outcomes(sum); oc["t-b"] != OutcomeApplied || sum.Deferred != 0 {
		t.Fatalf("23:10: %+v", sum)
	}

	// A new revision at noon the next day: an emergency run with --override-windows applies, on the record.
	clock.Set(day.Add(36 * time.Hour))
	e.remote.Write(coreBundle("1.1.0", "due: { type: date, label: Due }"))
	e.remote.Commit("core 1.1.0: hotfix")
	if sum := mustOnce(t, "next noon", a); sum.Applied != 0 || sum.Deferred != 5 {
		t.Fatalf("next noon: %+v", sum)
	}
	emergency := e.replica(t, Options{Holder: "on-call", Now: clock.Now, OverrideWindows: true})
	sum = mustOnce(t, "override", emergency)
	if sum.Applied != 5 || sum.Deferred != 0 || !sum.OK() {
		t.Fatalf("override: %+v", sum)
	}
	for _, res := range sum.Results {
		if !res.WindowOverridden {
			t.Fatalf("override not reported: %+v", res)
		}
	}
	h := e.status("t-a").History
	if len(h) == 0 || !strings.Contains(h[0].Message, "--override-windows") || h[0].Result != "applied" {
		t.Fatalf("history does not record the override: %+v", h)
	}
}

// opsGateConfig puts a gate with an HTTP check after the canary wave.
func opsGateConfig(url, policy string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: objectstack.ai/v1
targets:
  - bundles: [core]
    selector: {labels: {env: prod}}
rollout:
  waves:
    - name: canary
      tenants: [t-canary]
      gate:
        soak: 50ms
        check: {url: %q, timeout: 2s}
    - name: main
%s`, url, policy))
}

// TestGateFailingCheckStopsMainWave (issue 13 item 4): the canary applies, the soak passes, the check (a
// real HTTP server on loopback) answers 503: the main wave never starts, the rollout is halted naming the
// gate. Once the check answers 200 the retry passes the gate again and the main wave runs.
func TestGateFailingCheckStopsMainWave(t *testing.T) {
	var healthy atomic.Bool
	var asked atomic.Int32
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if !healthy.Load() {
			http.Error(w, "error rate 7.5% over the last 5m", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer health.Close()
	e := newEnv(t, opsTenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": opsGateConfig(health.URL+"/health", "")}, coreBundle("1.0.0")))
	e.remote.Commit("core with a gate")
	r := e.reconciler(Options{})

	sum := mustOnce(t, "gate failing", r)
	if outcomes(sum)["t-canary"] != OutcomeApplied || sum.Applied != 1 || sum.Halted != 4 || sum.RolloutState != status.RolloutHalted {
		t.Fatalf("a failing gate should stop the main wave: %+v", sum)
	}
	if len(sum.Gates) != 1 || sum.Gates[0].Passed || sum.Gates[0].SoakedMs < 50 || !strings.Contains(sum.Gates[0].Message, "503") ||
		!strings.Contains(sum.Gates[0].Message, "error rate 7.5%") {
		t.Fatalf("gate result: %+v", sum.Gates)
	}
	if asked.Load() != 1 {
		t.Fatalf("check asked %d times, want 1", asked.Load())
	}
	for _, id := range []string{"t-a", "t-b", "t-c", "t-d"} {
		if n := e.deployments(id, core, ""); n != 0 {
			t.Fatalf("%s migrated although the canary's gate failed", id)
		}
		if st := e.status(id); st.Reason != status.ReasonHalted || !strings.Contains(st.Message, "gate after wave \"canary\" failed") {
			t.Fatalf("%s: %+v", id, st)
		}
	}
	ro, err := e.store.LatestRollout(context.Background())
	if err != nil || ro.State != status.RolloutHalted || !strings.Contains(ro.Message, "gate") {
		t.Fatalf("rollout: %+v %v", ro, err)
	}
	if got := metricValue(r.m.Gates.WithLabelValues("canary", "failed")); got != 1 {
		t.Fatalf("gate metric: %v", got)
	}

	// The application recovers: the retry skips the canary (already applied), asks the check again, and
	// the main wave runs.
	healthy.Store(true)
	sum = mustOnce(t, "gate passing", r)
	if sum.Applied != 4 || !sum.OK() || len(sum.Gates) != 1 || !sum.Gates[0].Passed || sum.Gates[0].SoakedMs != 0 {
		t.Fatalf("after recovery: %+v %+v", sum, sum.Gates)
	}
}

// TestGateFailingWithContinue: under failurePolicy continue a failing gate is reported and the rollout goes on.
func TestGateFailingWithContinue(t *testing.T) {
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer health.Close()
	e := newEnv(t, opsTenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": opsGateConfig(health.URL, "failurePolicy: {mode: continue}\n")}, coreBundle("1.0.0")))
	e.remote.Commit("core")
	sum := mustOnce(t, "continue", e.reconciler(Options{}))
	if sum.Applied != 5 || len(sum.Gates) != 1 || sum.Gates[0].Passed {
		t.Fatalf("continue: %+v %+v", sum, sum.Gates)
	}
}

// TestMaxFailuresPercentOfWave: maxFailures "40%" of a five-tenant wave stops after two failures (40 % of 5);
// "20%" after one.
func TestMaxFailuresPercentOfWave(t *testing.T) {
	ctx := context.Background()
	tenants := []tenantSpec{{"p-a", nil}, {"p-b", nil}, {"p-c", nil}, {"p-d", nil}, {"p-e", nil}}
	for _, tc := range []struct {
		pct                     string
		applied, failed, halted int
	}{{"40%", 1, 2, 2}, {"20%", 0, 1, 4}, {"100%", 3, 2, 0}} {
		t.Run(tc.pct, func(t *testing.T) {
			e := newEnv(t, tenants)
			e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\nrollout:\n  waves: [{name: all, maxParallel: 1}]\n" +
				"failurePolicy: {mode: stopAfter, maxFailures: \"" + tc.pct + "\"}\n")}, coreBundle("1.0.0")))
			e.remote.Commit("core")
			for _, id := range []string{"p-a", "p-c"} {
				if err := schema.AcquireLock(ctx, e.db(id), "someone-else", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			sum := mustOnce(t, tc.pct, e.reconciler(Options{}))
			if sum.Applied != tc.applied || sum.Failed != tc.failed || sum.Halted != tc.halted {
				t.Fatalf("applied %d failed %d halted %d; want %d %d %d", sum.Applied, sum.Failed, sum.Halted, tc.applied, tc.failed, tc.halted)
			}
		})
	}
	if waveFailureLimit(10, 5) != 1 || waveFailureLimit(10, 20) != 2 || waveFailureLimit(10, 21) != 3 {
		t.Fatal("waveFailureLimit rounds up, at least one")
	}
}
