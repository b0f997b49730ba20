package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRun runs the real git command in dir, as a user fixing a bad push would.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type statusDoc struct {
	Tenants []struct {
		TenantID, Condition, Reason, LastAppliedRevision string
		History                                          []struct{ Result, Reason, Revision string }
	}
}

func readStatus(t *testing.T, data string) statusDoc {
	t.Helper()
	out, stderr, code := runCLI(t, "status", "--data-dir", data, "--json")
	var doc statusDoc
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return doc
}

// TestRevertClearsStalled is issue 15 item 1 as a user lives it: a push that is refused (it drops a column
// without allowDestructive) stalls the tenants; `git revert` of it makes `reconcile --once` find them
// already up to date — and then status must say Ready at the revert, keeping the refusal in the history.
// The same for an invalid push and its revert.
func TestRevertClearsStalled(t *testing.T) {
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for _, id := range []string{"acme", "globex"} {
		if _, stderr, code := runCLI(t, "tenant", "create", id, "--org-id", "o1", "--labels", "env=prod", "--data-dir", data); code != 0 {
			t.Fatalf("tenant create %s: %d %s", id, code, stderr)
		}
	}
	repo := filepath.Join(t.TempDir(), "gitops")
	gitRun(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	note := "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n  body: { type: textarea, label: Body }\n"
	writeFiles(t, repo, map[string]string{
		"objectstack.yaml": "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [core]\n    selector: {labels: {env: prod}}\n" +
			"failurePolicy:\n  mode: continue\n",
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.0.0\nobjects: [note]\n",
		"bundles/core/objects/note.yaml": note,
	})
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "core 1.0.0")
	reconcile := func(wantCode int) string {
		t.Helper()
		out, stderr, code := runCLI(t, "reconcile", "--repo", repo, "--data-dir", data, "--once")
		if code != wantCode {
			t.Fatalf("reconcile --once: exit %d, want %d\n%s\n%s", code, wantCode, out, stderr)
		}
		return out
	}
	reconcile(0)

	// A bad push: body dropped, which needs allowDestructive.
	writeFiles(t, repo, map[string]string{"bundles/core/objects/note.yaml": "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n"})
	gitRun(t, repo, "commit", "-q", "-am", "drop body")
	reconcile(1)
	for _, tn := range readStatus(t, data).Tenants {
		if tn.Condition != "Stalled" || tn.Reason != "DestructiveRefused" {
			t.Fatalf("after the refused push %s is %s/%s, want Stalled/DestructiveRefused", tn.TenantID, tn.Condition, tn.Reason)
		}
	}

	check := func(step, failedReason string) {
		t.Helper()
		head := gitRun(t, repo, "rev-parse", "HEAD")
		doc := readStatus(t, data)
		if len(doc.Tenants) != 2 {
			t.Fatalf("%s: %d tenants in status, want 2", step, len(doc.Tenants))
		}
		for _, tn := range doc.Tenants {
			if tn.Condition != "Ready" || !strings.Contains(tn.LastAppliedRevision, head) {
				t.Fatalf("%s: %s is %s/%s at %q, want Ready at %s", step, tn.TenantID, tn.Condition, tn.Reason, tn.LastAppliedRevision, head)
			}
			kept := false
			for _, h := range tn.History {
				kept = kept || h.Reason == failedReason
			}
			if !kept {
				t.Fatalf("%s: %s's history lost the %s entry: %+v", step, tn.TenantID, failedReason, tn.History)
			}
		}
	}
	gitRun(t, repo, "revert", "--no-edit", "HEAD")
	reconcile(0)
	check("after git revert of the refused push", "DestructiveRefused")

	// An invalid push (a typo in objectstack.yaml), then its revert.
	cfg, err := os.ReadFile(filepath.Join(repo, "objectstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, repo, map[string]string{"objectstack.yaml": string(cfg) + "rolout: {}\n"})
	gitRun(t, repo, "commit", "-q", "-am", "typo")
	reconcile(1)
	for _, tn := range readStatus(t, data).Tenants {
		if tn.Reason != "InvalidRevision" {
			t.Fatalf("after the invalid push %s is %s/%s, want InvalidRevision", tn.TenantID, tn.Condition, tn.Reason)
		}
	}
	gitRun(t, repo, "revert", "--no-edit", "HEAD")
	reconcile(0)
	check("after git revert of the invalid push", "InvalidRevision")
}
