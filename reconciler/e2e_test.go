package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

var prodTenants = []tenantSpec{
	{"t-canary", map[string]string{"env": "prod"}},
	{"t-a", map[string]string{"env": "prod"}},
	{"t-b", map[string]string{"env": "prod"}},
	{"t-c", map[string]string{"env": "prod"}},
	{"t-d", map[string]string{"env": "prod"}},
	{"t-e", map[string]string{"env": "prod"}},
	{"t-dev", map[string]string{"env": "dev"}}, // not targeted
}

var core = schema.BundleOwner("core")

// TestEndToEnd walks one repository through the life of a GitOps deployment: push, converge, no-op,
// broken push, fix, refused destructive change, allowed destructive change, canary failure halting the
// rest, recovery, drift report and drift heal.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, prodTenants)
	r := e.reconciler(Options{Concurrency: 4})
	targeted := []string{"t-canary", "t-a", "t-b", "t-c", "t-d", "t-e"}

	// 1. Push a bundle: every targeted tenant converges, the others are untouched.
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rev1 := sum.Revision
	if !sum.OK() || sum.Targeted != 6 || sum.Applied != 6 || !strings.HasPrefix(rev1, "main@sha1:") {
		t.Fatalf("first push: %+v", sum)
	}
	for _, id := range targeted {
		if n := e.deployments(id, core, rev1); n != 1 {
			t.Fatalf("%s: %d deployments of %s", id, n, rev1)
		}
		st := e.status(id)
		if st.Condition != status.Ready || st.LastAppliedRevision != rev1 || st.Checksum == "" || len(st.History) != 1 {
			t.Fatalf("%s status: %+v", id, st)
		}
	}
	if n := e.deployments("t-dev", core, ""); n != 0 {
		t.Fatalf("untargeted tenant got %d deployments", n)
	}

	// 2. Nothing moved: every tenant is skipped on the status checksum.
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != 6 || sum.Applied != 0 || len(sum.Results) != 0 {
		t.Fatalf("no-change reconcile: %+v %v", sum, err)
	}

	// 3. A broken bundle: nothing is applied anywhere, status names the file and the path.
	e.remote.Write(coreBundle("1.1.0", "priority: { type: numbr, label: Priority }"))
	e.remote.Commit("broken")
	mustContain(t, review(t, r), "bundles/core/objects/note.yaml")
	sum, err = r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Valid || sum.OK() || sum.Applied != 0 || len(sum.Issues) == 0 {
		t.Fatalf("broken push: %+v", sum)
	}
	found := false
	for _, is := range sum.Issues {
		if is.File == "bundles/core/objects/note.yaml" && strings.Contains(is.Path, "priority") {
			found = true
		}
	}
	if !found {
		t.Fatalf("issues do not name bundles/core/objects/note.yaml and the priority path: %+v", sum.Issues)
	}
	srcs, err := e.store.Sources(ctx)
	if err != nil || len(srcs) != 1 || srcs[0].Valid || srcs[0].Issues[0].File != "bundles/core/objects/note.yaml" {
		t.Fatalf("source status: %+v %v", srcs, err)
	}
	for _, id := range targeted {
		st := e.status(id)
		if st.Condition != status.Stalled || st.Reason != status.ReasonInvalidRevision || st.LastAppliedRevision != rev1 {
			t.Fatalf("%s after broken push: %+v", id, st)
		}
		mustContain(t, st.Message, "bundles/core/objects/note.yaml")
		if n := e.deployments(id, core, ""); n != 1 {
			t.Fatalf("%s: broken revision applied something (%d deployments)", id, n)
		}
	}

	// 4. The fix converges everyone.
	e.remote.Write(coreBundle("1.1.0", "priority: { type: number, label: Priority }"))
	e.remote.Commit("fix")
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("fix: %+v %v", sum, err)
	}
	rev2 := sum.Revision
	for _, id := range targeted {
		if e.deployments(id, core, rev2) != 1 || e.status(id).Condition != status.Ready {
			t.Fatalf("%s did not converge to %s", id, rev2)
		}
	}

	// 5. Dropping a column without allowance: refused and reported; the canary's refusal halts the rest.
	e.remote.Write(coreBundle("1.2.0", "-body", "priority: { type: number, label: Priority }"))
	e.remote.Commit("drop body")
	md := review(t, r)
	mustContain(t, md, "#### Refused destructive changes")
	mustContain(t, md, "drop_column note.body")
	sum, err = r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oc := outcomes(sum)
	if sum.OK() || sum.Refused != 1 || oc["t-canary"] != OutcomeRefused || sum.Halted != 5 {
		t.Fatalf("destructive push: %+v", sum)
	}
	st := e.status("t-canary")
	if st.Condition != status.Stalled || st.Reason != status.ReasonDestructiveRefused {
		t.Fatalf("canary status: %+v", st)
	}
	mustContain(t, st.Message, "drop_column")
	mustContain(t, st.Message, "note.body")
	if st := e.status("t-a"); st.Reason != status.ReasonHalted || st.LastAppliedRevision != rev2 {
		t.Fatalf("halted tenant status: %+v", st)
	}
	for _, id := range targeted {
		if n := e.deployments(id, core, ""); n != 2 {
			t.Fatalf("%s: refused revision applied something (%d deployments)", id, n)
		}
	}
	// Allowing drop_column for the target converges.
	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(strings.Replace(string(repoConfig("")), "    selector: {labels: {env: prod}}\n",
		"    selector: {labels: {env: prod}}\n    allowDestructive: [drop_column]\n", 1))})
	e.remote.Commit("allow drop_column")
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("allowed destructive: %+v %v", sum, err)
	}

	// 6. A canary failure halts the rest: another migrator holds the canary's lock.
	e.remote.Write(coreBundle("1.3.0", "-body", "priority: { type: number, label: Priority }", "due: { type: date, label: Due }"))
	e.remote.Commit("add due")
	if err := schema.AcquireLock(ctx, e.db("t-canary"), "terraform-run-42", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The review of the pending revision shows identical DDL once for all six tenants.
	rev, _, err := r.opts.Source.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := r.Review(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	md = rv.Markdown()
	t.Log(md)
	mustContain(t, md, "**6 tenant(s)** get")
	mustContain(t, md, "```sql")
	mustContain(t, md, `"due"`)
	before := map[string]int{}
	for _, id := range targeted {
		before[id] = e.deployments(id, core, "")
	}
	sum, err = r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oc = outcomes(sum)
	if oc["t-canary"] != OutcomeFailed || sum.Halted != 5 || sum.Applied != 0 || sum.RolloutState != status.RolloutHalted {
		t.Fatalf("canary failure: %+v", sum)
	}
	mustContain(t, e.status("t-canary").Error, "terraform-run-42")
	for _, id := range targeted {
		if e.deployments(id, core, "") != before[id] {
			t.Fatalf("%s changed although the canary failed", id)
		}
	}
	ro, err := e.store.LatestRollout(ctx)
	if err != nil || ro.State != status.RolloutHalted || ro.Tasks["t-a"] != status.TaskSkipped || ro.Tasks["t-canary"] != status.TaskFailed {
		t.Fatalf("rollout record: %+v %v", ro, err)
	}
	if err := schema.ReleaseLock(ctx, e.db("t-canary"), "terraform-run-42"); err != nil {
		t.Fatal(err)
	}
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("after the lock is released: %+v %v", sum, err)
	}
	rev4 := sum.Revision

	// 7. Drift: a column dropped by hand is reported, not healed, under driftPolicy report.
	if _, err := e.db("t-b").ExecContext(ctx, `ALTER TABLE note DROP COLUMN due`); err != nil {
		t.Fatal(err)
	}
	rep, err := r.CheckDrift(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 6 || rep.Drifted != 1 || rep.Healed != 0 {
		t.Fatalf("drift report: %+v", rep)
	}
	st = e.status("t-b")
	if !st.Drifted || st.Reason != status.ReasonDrifted || st.Condition != status.Stalled {
		t.Fatalf("drifted status: %+v", st)
	}
	if g := metricValue(r.Metrics().Drifted); g != 1 {
		t.Fatalf("drifted-tenants gauge = %v, want 1", g)
	}
	if got := e.deployments("t-b", core, rev4); got != 1 {
		t.Fatalf("report-only drift must not apply: %d", got)
	}
	// The regular reconcile keeps skipping it (the fast path does not open databases).
	sum, err = r.Once(ctx)
	if err != nil || sum.Skipped != 6 {
		t.Fatalf("reconcile with a drifted tenant: %+v %v", sum, err)
	}
	// driftPolicy heal re-applies it.
	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(strings.Replace(string(repoConfig("driftPolicy: heal\n")), "    selector: {labels: {env: prod}}\n",
		"    selector: {labels: {env: prod}}\n    allowDestructive: [drop_column]\n", 1))})
	e.remote.Commit("heal drift")
	if sum, err = r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("policy change: %+v %v", sum, err)
	}
	rep, err = r.CheckDrift(ctx)
	if err != nil || rep.Drifted != 1 || rep.Healed != 1 {
		t.Fatalf("heal: %+v %v", rep, err)
	}
	st = e.status("t-b")
	if st.Drifted || st.Condition != status.Ready || st.Reason != status.ReasonHealed {
		t.Fatalf("healed status: %+v", st)
	}
	rep, err = r.CheckDrift(ctx)
	if err != nil || rep.Drifted != 0 {
		t.Fatalf("after heal: %+v %v", rep, err)
	}
	if h := e.status("t-b").History; len(h) > status.HistoryLimit {
		t.Fatalf("history is unbounded: %d", len(h))
	}
}

// TestNoChangeDoesNotOpenDatabases corrupts one tenant's database file after it converged: a reconcile of
// the same revision by a fresh process (new tenant service, empty handle cache) still succeeds, because up-to-date
// tenants are decided from the status store alone; the drift check, which does open databases, reports it.
func TestNoChangeDoesNotOpenDatabases(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, prodTenants[:3])
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core")
	if sum, err := e.reconciler(Options{}).Once(ctx); err != nil || !sum.OK() || sum.Applied != 3 {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	e.svc.Close()
	path := filepath.Join(e.dataDir, "databases", "t-a.db")
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := openEnv(t, e.dataDir)
	fresh.remote = e.remote
	r := fresh.reconciler(Options{})
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != 3 || len(sum.Results) != 0 {
		t.Fatalf("no-change reconcile touched a database: %+v %v", sum, err)
	}
	rep, err := r.CheckDrift(ctx)
	if err != nil || rep.Checked != 3 || rep.Failed != 1 || rep.Results == nil {
		t.Fatalf("drift check should open the corrupted database and fail on it: %+v %v", rep, err)
	}
}

// TestFailurePolicies: with continue a failed tenant does not stop the others; with stopAfter the rollout
// stops once that many tenants failed.
func TestFailurePolicies(t *testing.T) {
	ctx := context.Background()
	tenants := []tenantSpec{{"p-a", nil}, {"p-b", nil}, {"p-c", nil}, {"p-d", nil}, {"p-e", nil}}
	// Tenants are applied in id order, one at a time; p-a and p-c are locked by another migrator.
	cases := []struct {
		name, policy            string
		applied, failed, halted int
	}{
		{"continue", "failurePolicy: {mode: continue}\n", 3, 2, 0},
		{"stopAfter", "failurePolicy: {mode: stopAfter, maxFailures: 2}\n", 1, 2, 2}, // p-a fails, p-b applied, p-c fails: p-d, p-e halted
		{"halt", "failurePolicy: {mode: halt}\n", 0, 1, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tenants)
			e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\nrollout:\n  waves: [{name: all, maxParallel: 1}]\n" + tc.policy)},
				coreBundle("1.0.0")))
			e.remote.Commit("core")
			for _, id := range []string{"p-a", "p-c"} {
				if err := schema.AcquireLock(ctx, e.db(id), "someone-else", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := e.reconciler(Options{}).Once(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Applied != tc.applied || sum.Failed != tc.failed || sum.Halted != tc.halted {
				t.Fatalf("applied %d failed %d halted %d; want %d %d %d", sum.Applied, sum.Failed, sum.Halted, tc.applied, tc.failed, tc.halted)
			}
		})
	}
}

// review fetches the source and renders the review of its revision.
func review(t *testing.T, r *Reconciler) string {
	t.Helper()
	rev, _, err := r.opts.Source.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rv, err := r.Review(context.Background(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return rv.Markdown()
}
