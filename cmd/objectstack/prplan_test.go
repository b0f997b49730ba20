package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullRequestPlanScript runs examples/ci/objectstack-plan.sh — the step both CI examples
// (GitHub Actions and GitLab CI) run — with the real CLI in a child process, on a real Git repository
// whose tenants were reconciled, for a valid, a refused (a column dropped without allowDestructive)
// and an invalid pull-request head. It checks the Markdown comment the workflow posts and the exit
// code that passes or fails the check, and that planning applied nothing.
func TestPullRequestPlanScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("the CI script needs bash: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "examples", "ci", "objectstack-plan.sh"))
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for _, id := range []string{"acme", "globex"} {
		if _, stderr, code := runCLI(t, "tenant", "create", id, "--org-id", "o1", "--labels", "env=prod", "--data-dir", data); code != 0 {
			t.Fatalf("tenant create %s: %d %s", id, code, stderr)
		}
	}
	repo := filepath.Join(t.TempDir(), "gitops")
	gitRun(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	config := "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [core]\n    selector: {labels: {env: prod}}\n"
	note := "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n  body: { type: textarea, label: Body }\n"
	writeFiles(t, repo, map[string]string{
		"objectstack.yaml":               config,
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.0.0\nobjects: [note]\n",
		"bundles/core/objects/note.yaml": note,
	})
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "core 1.0.0")
	if out, stderr, code := runCLI(t, "reconcile", "--repo", repo, "--data-dir", data, "--once"); code != 0 {
		t.Fatalf("reconcile --once: %d\n%s\n%s", code, out, stderr)
	}

	// Three pull-request heads: a new column (valid), the body column dropped (refused), a typo in
	// objectstack.yaml (invalid).
	writeFiles(t, repo, map[string]string{"bundles/core/objects/note.yaml": note + "  due: { type: date, label: Due }\n"})
	gitRun(t, repo, "commit", "-q", "-am", "add due")
	valid := gitRun(t, repo, "rev-parse", "HEAD")
	writeFiles(t, repo, map[string]string{"bundles/core/objects/note.yaml": "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n"})
	gitRun(t, repo, "commit", "-q", "-am", "drop body")
	refused := gitRun(t, repo, "rev-parse", "HEAD")
	writeFiles(t, repo, map[string]string{"objectstack.yaml": config + "rolout: {}\n"})
	gitRun(t, repo, "commit", "-q", "-am", "typo")
	invalid := gitRun(t, repo, "rev-parse", "HEAD")

	// The CLI the script finds on PATH is this test binary acting as objectstack (TestMain).
	binDir := t.TempDir()
	wrapper := "#!/bin/sh\n" + cliChildEnv + "=1 exec '" + os.Args[0] + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(binDir, "objectstack"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	plan := func(head string) (comment, stdout string, code int) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "comment.md")
		cmd := exec.Command(bash, script)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"PR_HEAD="+head, "PLAN_COMMENT="+file, "OBJECTSTACK_DATA_DIR="+data)
		out, err := cmd.Output()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code <= 0 {
			t.Fatalf("run %s: %v", script, err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("the script wrote no comment for %s (exit %d): %v\n%s", head, code, err, out)
		}
		return string(b), string(out), code
	}
	mustContain := func(what, comment string, want ...string) {
		t.Helper()
		if !strings.HasPrefix(comment, "<!-- objectstack-plan -->\n") {
			t.Errorf("%s: the comment does not start with the marker the workflows find it by:\n%s", what, comment)
		}
		for _, w := range want {
			if !strings.Contains(comment, w) {
				t.Errorf("%s: the comment lacks %q:\n%s", what, w, comment)
			}
		}
	}

	comment, stdout, code := plan(valid)
	if code != 0 {
		t.Fatalf("valid head: exit %d, want 0\n%s", code, comment)
	}
	mustContain("valid head", comment, "### ObjectStack plan for `sha1:"+valid, "2 tenant(s) targeted: **2 to change**", "0 refused, 0 failed", "due")
	if strings.Contains(comment, "cannot be merged") {
		t.Errorf("valid head: the comment says the check failed:\n%s", comment)
	}
	if stdout != comment {
		t.Errorf("the script's output is not the comment it wrote (CI logs would differ from the comment)")
	}

	comment, _, code = plan(refused)
	if code != 1 {
		t.Fatalf("refused head: exit %d, want 1\n%s", code, comment)
	}
	mustContain("refused head", comment, "### ObjectStack plan for `sha1:"+refused, "#### Refused destructive changes", "`acme`", "`globex`",
		"allowDestructive", "body", "**This pull request cannot be merged as is:** `objectstack plan` exited 1")

	comment, _, code = plan(invalid)
	if code != 1 {
		t.Fatalf("invalid head: exit %d, want 1\n%s", code, comment)
	}
	mustContain("invalid head", comment, "### ObjectStack plan for `sha1:"+invalid, "**The revision is invalid: nothing would be applied to any tenant.**",
		"objectstack.yaml", `rolout: unknown key "rolout"`, "exited 1")

	// A head that is not in the repository: bad input, clear message, check failed.
	comment, _, code = plan(strings.Repeat("0", 40))
	if code == 0 {
		t.Fatalf("unknown head: exit 0\n%s", comment)
	}
	mustContain("unknown head", comment, "cannot be merged", "```")

	// Planning applied nothing: the tenants are still Ready at the first commit, and the valid head
	// still plans as a change.
	for _, tn := range readStatus(t, data).Tenants {
		if tn.Condition != "Ready" || strings.Contains(tn.LastAppliedRevision, valid) {
			t.Fatalf("after the plans %s is %s at %s: a plan changed the tenant", tn.TenantID, tn.Condition, tn.LastAppliedRevision)
		}
	}
	if comment, _, code := plan(valid); code != 0 || !strings.Contains(comment, "**2 to change**") {
		t.Fatalf("valid head planned again: exit %d\n%s", code, comment)
	}
}
