package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitCommitAll commits everything in dir (a working repository) on main.
func gitCommitAll(t *testing.T, repo *git.Repository, msg string) {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
}

// TestReconcileStatusPlanRepoCLI drives `plan --repo`, `reconcile --once` and `status` against the
// example GitOps repository committed to a local Git repository.
func TestReconcileStatusPlanRepoCLI(t *testing.T) {
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for _, args := range [][]string{
		{"tenant", "create", "acme", "--org-id", "o1", "--data-dir", data},
		{"tenant", "create", "paid-one", "--org-id", "o1", "--labels", "tier=paid,canary=true", "--data-dir", data},
		{"tenant", "create", "free-x", "--org-id", "o1", "--data-dir", data},
		{"tenant", "create", "eu-big", "--org-id", "o1", "--plan", "enterprise", "--region", "eu-west", "--labels", "tier=paid", "--data-dir", data},
	} {
		if _, stderr, code := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	repoDir := filepath.Join(t.TempDir(), "gitops")
	copyDir(t, filepath.Join("..", "..", "examples", "gitops"), repoDir)
	repo, err := git.PlainInitWithOptions(repoDir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, repo, "example")

	out, stderr, code := runCLI(t, "plan", "--repo", repoDir, "--data-dir", data)
	if code != 0 {
		t.Fatalf("plan --repo: %d %s %s", code, out, stderr)
	}
	// acme and paid-one get the CRM bundle (one DDL block for both); eu-big also gets the helpdesk app.
	for _, want := range []string{"### ObjectStack plan for `main@sha1:", "**2 tenant(s)** get (`acme`, `paid-one`)", "**1 tenant(s)** get (`eu-big`)",
		"-- app:helpdesk 1.0.0", "```sql", "CREATE TABLE"} {
		if !strings.Contains(out, want) {
			t.Fatalf("plan --repo output lacks %q:\n%s", want, out)
		}
	}

	out, stderr, code = runCLI(t, "reconcile", "--repo", repoDir, "--data-dir", data, "--once")
	if code != 0 || !strings.Contains(out, "3 applied") || !strings.Contains(out, "paid-one  canary") {
		t.Fatalf("reconcile --once: %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runCLI(t, "reconcile", "--repo", repoDir, "--data-dir", data, "--once", "--json")
	var sum struct {
		Skipped, Applied int
		Valid            bool
	}
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum.Skipped != 3 || sum.Applied != 0 || !sum.Valid {
		t.Fatalf("second reconcile --once --json: %d %s", code, out)
	}

	out, _, code = runCLI(t, "status", "--data-dir", data, "--json")
	var doc struct {
		Tenants []struct{ TenantID, Condition string }
		Sources []struct{ Valid bool }
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Tenants) != 3 || doc.Tenants[0].Condition != "Ready" || !doc.Sources[0].Valid {
		t.Fatalf("status --json: %d %s", code, out)
	}
	out, _, code = runCLI(t, "status", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "Ready") || strings.Contains(out, "free-x") {
		t.Fatalf("status table: %d\n%s", code, out)
	}

	// A typo in objectstack.yaml: nothing applied, exit 1, the file, line and path named.
	cfg, _ := os.ReadFile(filepath.Join(repoDir, "objectstack.yaml"))
	broken := strings.Replace(string(cfg), "driftPolicy: report", "driftPolicy: report\nrolout: {}", 1)
	if err := os.WriteFile(filepath.Join(repoDir, "objectstack.yaml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, repo, "typo")
	out, _, code = runCLI(t, "reconcile", "--repo", repoDir, "--data-dir", data, "--once")
	if code != 1 || !strings.Contains(out, "INVALID") || !strings.Contains(out, "objectstack.yaml:") || !strings.Contains(out, `rolout: unknown key "rolout"`) {
		t.Fatalf("broken reconcile: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "plan", "--repo", repoDir, "--data-dir", data)
	if code != 1 || !strings.Contains(out, "invalid") {
		t.Fatalf("plan --repo of a broken revision: %d\n%s", code, out)
	}
	out, _, _ = runCLI(t, "status", "--data-dir", data)
	if !strings.Contains(out, "INVALID") || !strings.Contains(out, "InvalidRevision") {
		t.Fatalf("status after a broken push:\n%s", out)
	}

	if _, _, code := runCLI(t, "reconcile", "--data-dir", data, "--once"); code != exitUsage {
		t.Fatalf("reconcile without --repo: exit %d", code)
	}
	if _, _, code := runCLI(t, "reconcile", "--repo", repoDir, "--data-dir", data, "--once", "--log-format", "xml"); code != exitUsage {
		t.Fatalf("bad --log-format: exit %d", code)
	}
}

// TestReconcileConcurrencyFlag: 0 (the default) picks the backend's concurrency; a negative one is a usage
// error (exit 2) that names the flag.
func TestReconcileConcurrencyFlag(t *testing.T) {
	_, stderr, code := runCLI(t, "reconcile", "--repo", t.TempDir(), "--data-dir", t.TempDir(), "--once", "--concurrency", "-1")
	if code != 2 || !strings.Contains(stderr, "--concurrency") {
		t.Fatalf("--concurrency -1: exit %d, %s", code, stderr)
	}
}
