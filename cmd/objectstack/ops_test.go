package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// opsRepo commits a GitOps repository with a canary wave and the rest, plus extra objectstack.yaml lines.
func opsRepo(t *testing.T, extra string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "gitops")
	gitRun(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	writeFiles(t, repo, map[string]string{
		"objectstack.yaml": "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [core]\n    selector: {labels: {env: prod}}\n" +
			"rollout:\n  waves:\n    - name: canary\n      tenants: [t-00]\n    - name: rest\n" + extra,
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.0.0\nobjects: [note]\n",
		"bundles/core/objects/note.yaml": "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n",
	})
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "core")
	return repo
}

func opsTenants(t *testing.T, data string, n int) {
	t.Helper()
	for i := range n {
		labels := "env=prod"
		if i%2 == 1 {
			labels += ",tier=gold"
		}
		if _, stderr, code := runCLI(t, "tenant", "create", fmt.Sprintf("t-%02d", i), "--org-id", "o1", "--labels", labels, "--data-dir", data); code != 0 {
			t.Fatalf("tenant create: %d %s", code, stderr)
		}
	}
}

func mustJSON(t *testing.T, what, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
}

// TestSuspendResumeGetCLI (issue 13 items 2 and 5): `objectstack suspend` writes the suspension into the
// control plane; two replicas (`reconcile --once` processes with their own replica ids) sharing it both
// skip every tenant without failing; `status` and `get tenants --suspended` show it; `resume` lets the next
// replica converge. `get tenants|rollouts|history` filter by condition, label and wave, as tables or JSON.
func TestSuspendResumeGetCLI(t *testing.T) {
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	opsTenants(t, data, 4)
	repo := opsRepo(t, "")

	if _, stderr, code := runCLI(t, "suspend", "--data-dir", data); code != 2 || !strings.Contains(stderr, "--reason is required") {
		t.Fatalf("suspend without a reason: %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "suspend", "--data-dir", data, "--reason", "x", "--tenant", "t-99"); code != 1 || !strings.Contains(stderr, "no tenant t-99") {
		t.Fatalf("suspend of an unknown tenant: %d %s", code, stderr)
	}
	out, stderr, code := runCLI(t, "suspend", "--data-dir", data, "--reason", "incident 42")
	if code != 0 || !strings.Contains(out, "Suspended the whole repository") || !strings.Contains(out, "incident 42") {
		t.Fatalf("suspend: %d %s %s", code, out, stderr)
	}
	for _, replica := range []string{"replica-a", "replica-b"} {
		out, stderr, code := runCLIProcess(t, []string{"OBJECTSTACK_SECRET_KEY="}, "reconcile", "--repo", repo, "--data-dir", data, "--once", "--replica-id", replica, "--json")
		var sum struct{ Applied, Suspended, Failed int }
		if code != 0 {
			t.Fatalf("%s while suspended must not fail: %d %s %s", replica, code, out, stderr)
		}
		mustJSON(t, replica, out, &sum)
		if sum.Applied != 0 || sum.Suspended != 4 || sum.Failed != 0 {
			t.Fatalf("%s while suspended: %+v", replica, sum)
		}
	}
	for i := range 4 {
		if n := deploymentsOf(t, filepath.Join(data, "databases", fmt.Sprintf("t-%02d.db", i)), "bundle:core"); n != 0 {
			t.Fatalf("t-%02d migrated while suspended", i)
		}
	}
	if out, _, _ := runCLI(t, "status", "--data-dir", data); !strings.Contains(out, "the whole repository — incident 42") {
		t.Fatalf("status does not show the suspension:\n%s", out)
	}
	out, _, code = runCLI(t, "status", "--data-dir", data, "--json")
	var doc struct {
		Suspensions []struct{ Scope, Reason, By string }
	}
	mustJSON(t, "status", out, &doc)
	if code != 0 || len(doc.Suspensions) != 1 || doc.Suspensions[0].Scope != "*" || doc.Suspensions[0].By == "" {
		t.Fatalf("status --json suspensions: %+v", doc.Suspensions)
	}
	out, _, _ = runCLI(t, "get", "tenants", "--data-dir", data, "--suspended")
	for _, want := range []string{"TENANT", "SUSPENDED", "t-03", "Reconciling", "Suspended", "yes: incident 42"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get tenants --suspended: no %q in\n%s", want, out)
		}
	}

	// Resume, but keep t-03 suspended: the next replica applies the others.
	if out, stderr, code := runCLI(t, "suspend", "--data-dir", data, "--reason", "customer freeze", "--tenant", "t-03"); code != 0 {
		t.Fatalf("suspend t-03: %s %s", out, stderr)
	}
	out, _, code = runCLI(t, "resume", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "Lifted 1 suspension") || !strings.Contains(out, "tenant t-03 — customer freeze") {
		t.Fatalf("resume: %d %s", code, out)
	}
	if out, stderr, code := runCLIProcess(t, []string{"OBJECTSTACK_SECRET_KEY="}, "reconcile", "--repo", repo, "--data-dir", data, "--once", "--replica-id", "replica-b"); code != 0 ||
		!strings.Contains(out, "3 applied") {
		t.Fatalf("reconcile after resume: %d %s %s", code, out, stderr)
	}
	if n := deploymentsOf(t, filepath.Join(data, "databases", "t-03.db"), "bundle:core"); n != 0 {
		t.Fatal("t-03 migrated while suspended on its own")
	}

	// get tenants: filters by condition, label and wave; JSON carries wave, labels and suspension.
	out, _, _ = runCLI(t, "get", "tenants", "--data-dir", data, "--condition", "Ready", "--label", "tier=gold", "--json")
	var rows []struct {
		TenantID, Condition, Wave string
		Labels                    map[string]string
		Suspension                *struct{ Reason string }
	}
	mustJSON(t, "get tenants", out, &rows)
	if len(rows) != 1 || rows[0].TenantID != "t-01" || rows[0].Wave != "rest" || rows[0].Labels["tier"] != "gold" {
		t.Fatalf("get tenants --condition Ready --label tier=gold: %+v", rows)
	}
	out, _, _ = runCLI(t, "get", "tenants", "--data-dir", data, "--wave", "canary", "--json")
	mustJSON(t, "get tenants --wave", out, &rows)
	if len(rows) != 1 || rows[0].TenantID != "t-00" {
		t.Fatalf("get tenants --wave canary: %+v", rows)
	}
	out, _, _ = runCLI(t, "get", "tenants", "--data-dir", data, "--suspended", "--json")
	mustJSON(t, "get tenants --suspended", out, &rows)
	if len(rows) != 1 || rows[0].TenantID != "t-03" || rows[0].Suspension == nil || rows[0].Suspension.Reason != "customer freeze" {
		t.Fatalf("get tenants --suspended: %+v", rows)
	}
	// get rollouts: the rollout with its tasks by wave.
	out, _, _ = runCLI(t, "get", "rollouts", "--data-dir", data, "--json")
	var ros []struct {
		ID    int64
		State string
		Waves map[string]map[string]int
	}
	mustJSON(t, "get rollouts", out, &ros)
	if len(ros) != 1 || ros[0].State != "suspended" || ros[0].Waves["canary"]["applied"] != 1 || ros[0].Waves["rest"]["applied"] != 2 {
		t.Fatalf("get rollouts: %+v", ros)
	}
	out, _, _ = runCLI(t, "get", "rollouts", "--data-dir", data)
	for _, want := range []string{"ID", "STATE", "suspended", "canary: 1 applied"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get rollouts table: no %q in\n%s", want, out)
		}
	}
	// get history: per tenant, per wave, per result.
	out, _, _ = runCLI(t, "get", "history", "--data-dir", data, "--wave", "rest", "--result", "applied", "--json")
	var hist []struct{ TenantID, Wave, Result, Revision string }
	mustJSON(t, "get history", out, &hist)
	if len(hist) != 2 || hist[0].Wave != "rest" || hist[0].Result != "applied" {
		t.Fatalf("get history --wave rest: %+v", hist)
	}
	out, _, _ = runCLI(t, "get", "history", "--data-dir", data, "--tenant", "t-00")
	if !strings.Contains(out, "t-00") || !strings.Contains(out, "applied") || strings.Contains(out, "t-01") {
		t.Fatalf("get history --tenant t-00:\n%s", out)
	}
	// Bad usage names the rule.
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"get", "nodes"}, "want tenants, rollouts or history"},
		{[]string{"get", "tenants", "--state", "running"}, "--state does not apply to get tenants"},
		{[]string{"get", "tenants", "--condition", "Happy"}, "want Ready, Reconciling or Stalled"},
		{[]string{"get", "history", "--label", "tier"}, "want key=value"},
		{[]string{"resume", "--all", "--tenant", "t-03"}, "do not combine"},
	} {
		if _, stderr, code := runCLI(t, append(tc.args, "--data-dir", data)...); code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Fatalf("%v: %d %s", tc.args, code, stderr)
		}
	}
	if out, _, code := runCLI(t, "resume", "--all", "--data-dir", data); code != 0 || !strings.Contains(out, "Nothing is suspended") {
		t.Fatalf("resume --all: %s", out)
	}
}

// TestSyncWindowOverrideCLI (issue 13 item 3): with a deny window open around the clock nothing is applied
// and the status says so; `--override-windows` is refused without --once, and with it the emergency run
// applies and each tenant's history records the override.
func TestSyncWindowOverrideCLI(t *testing.T) {
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	opsTenants(t, data, 2)
	// A deny window that opened this minute (Tokyo time) for two hours.
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(tokyo)
	repo := opsRepo(t, fmt.Sprintf("syncWindows:\n  - {kind: deny, schedule: \"%d %d * * *\", duration: 2h, timeZone: Asia/Tokyo}\n", now.Minute(), now.Hour()))
	opens := now.Truncate(time.Minute).Add(2 * time.Hour).UTC().Format(time.RFC3339)
	out, stderr, code := runCLI(t, "reconcile", "--repo", repo, "--data-dir", data, "--once")
	if code != 0 || !strings.Contains(out, "deferred") || !strings.Contains(out, "2 tenant(s) outside their sync windows: planned, not applied; the next window opens at "+opens) {
		t.Fatalf("reconcile inside a deny window: %d %s %s", code, out, stderr)
	}
	out, _, _ = runCLI(t, "get", "tenants", "--data-dir", data, "--reason", "OutsideSyncWindow")
	if !strings.Contains(out, "t-00") || !strings.Contains(out, "t-01") || !strings.Contains(out, "outside its sync windows") {
		t.Fatalf("get tenants --reason OutsideSyncWindow:\n%s", out)
	}
	if _, stderr, code := runCLI(t, "reconcile", "--repo", repo, "--data-dir", data, "--override-windows"); code != 2 || !strings.Contains(stderr, "goes with --once") {
		t.Fatalf("--override-windows without --once: %d %s", code, stderr)
	}
	out, stderr, code = runCLI(t, "reconcile", "--repo", repo, "--data-dir", data, "--once", "--override-windows")
	if code != 0 || !strings.Contains(out, "2 applied") {
		t.Fatalf("override: %d %s %s", code, out, stderr)
	}
	out, _, _ = runCLI(t, "get", "history", "--data-dir", data, "--json")
	var hist []struct{ TenantID, Message string }
	mustJSON(t, "history", out, &hist)
	if len(hist) != 2 || !strings.Contains(hist[0].Message, "--override-windows") || !strings.Contains(hist[1].Message, "--override-windows") {
		t.Fatalf("history does not record the override: %+v", hist)
	}
}
