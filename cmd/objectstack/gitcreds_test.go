package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// gitHTTPRemote serves the example GitOps repository with git's own smart-HTTP backend on loopback,
// behind basic auth that only the token opens (as GitHub does, either as the user name alone or as the
// password). It returns the server's base URL ("http://127.0.0.1:port") and a count of authorized requests.
func gitHTTPRemote(t *testing.T, token string) (string, *atomic.Int64) {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	work := filepath.Join(t.TempDir(), "work")
	copyDir(t, filepath.Join("..", "..", "examples", "gitops"), work)
	repo, err := git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, repo, "example")
	root := t.TempDir()
	if _, err := git.PlainClone(filepath.Join(root, "gitops.git"), true, &git.CloneOptions{URL: work}); err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, Stderr: io.Discard}
	var authorized atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || (user != token && pass != token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &authorized
}

// freeLoopbackAddr returns a 127.0.0.1 address nothing listens on right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// assertNoSecretInTree fails when any file under dir contains secret.
func assertNoSecretInTree(t *testing.T, dir, secret string) (files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the Git token is stored in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestReconcileKeepsURLCredentialsSecret runs the real reconciler process against a Git server that
// only a token opens, with the token in the repository URL — alone as the user name (GitHub accepts
// that) and as the password. The token must reach the server and nothing else: not the logs (debug
// level), CLI errors, control.db, `objectstack status`, the unauthenticated /status, the mirror's
// .git/config or any other file under the data folder. A mirror and a status row an older version
// wrote with the token in them are cleaned up.
func TestReconcileKeepsURLCredentialsSecret(t *testing.T) {
	raw := make([]byte, 18)
	_, _ = rand.Read(raw)
	token := "ghp_" + hex.EncodeToString(raw)
	base, authorized := gitHTTPRemote(t, token)
	host := strings.TrimPrefix(base, "http://")
	clean := base + "/gitops.git"
	data := t.TempDir()
	env := []string{"OBJECTSTACK_SECRET_KEY=", "OBJECTSTACK_GIT_TOKEN="}
	if _, stderr, code := runCLIProcess(t, env, "tenant", "create", "acme", "--org-id", "o1", "--data-dir", data); code != 0 {
		t.Fatalf("tenant create: %d %s", code, stderr)
	}

	// What an older version left: a mirror keyed by the URL with the token, its .git/config holding
	// it, and a status row under that URL.
	legacyURL := "http://" + token + "@" + host + "/gitops.git"
	sum := sha256.Sum256([]byte(legacyURL))
	legacyMirror := filepath.Join(data, "reconcile", "mirror", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(legacyMirror, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacyMirror, "config"), []byte("[remote \"origin\"]\n\turl = "+legacyURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	{
		db, err := database.Open(filepath.Join(data, "control.db"), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := status.Open(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO reconcile_source (repo, error, fetched_at) VALUES (?, ?, '2026-01-01T00:00:00Z')`,
			legacyURL, "source: ls-remote "+legacyURL+": authentication required"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}

	var texts []string
	for _, form := range []struct{ name, url string }{
		{"token as user name", "http://" + token + "@" + host + "/gitops.git"},
		{"token as password", "http://x-access-token:" + token + "@" + host + "/gitops.git"},
	} {
		before := authorized.Load()
		stdout, stderr, code := runCLIProcess(t, env, "reconcile", "--repo", form.url, "--data-dir", data, "--once", "--log-level", "debug")
		if code != 0 || authorized.Load() == before {
			t.Fatalf("%s: reconcile --once exit %d, %d authorized requests\n%s\n%s", form.name, code, authorized.Load()-before, stdout, stderr)
		}
		texts = append(texts, stdout, stderr)
	}

	// The daemon, serving /status while it polls.
	addr := freeLoopbackAddr(t)
	p := startCLI(t, env, "reconcile", "--repo", "http://"+token+"@"+host+"/gitops.git", "--data-dir", data,
		"--listen", addr, "--interval", "1s", "--log-level", "debug", "--log-format", "json")
	var served string
	deadline := time.Now().Add(30 * time.Second)
	for served == "" && time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/status"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), clean) {
				served = string(b)
			}
		}
		if served == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if served == "" {
		t.Fatalf("/status never showed the source\n%s", p.stderr.String())
	}
	texts = append(texts, served)
	p.stop(t)
	texts = append(texts, p.stdout.String(), p.stderr.String())

	for _, args := range [][]string{{"status", "--data-dir", data}, {"status", "--data-dir", data, "--json"}} {
		stdout, stderr, code := runCLIProcess(t, env, args...)
		if code != 0 || !strings.Contains(stdout, clean) {
			t.Fatalf("%v: %d\n%s\n%s", args, code, stdout, stderr)
		}
		if strings.Contains(stdout, "REDACTED") || strings.Count(stdout, "source ") > 1 {
			t.Errorf("%v shows the legacy source row:\n%s", args, stdout)
		}
		texts = append(texts, stdout, stderr)
	}
	// Failures: a repository the server does not have, an unparseable URL, a closed port.
	for _, bad := range []string{
		"http://" + token + "@" + host + "/missing.git",
		"http://" + token + "@" + host + "/%zz",
		"https://user:" + token + "@127.0.0.1:1/org/repo.git",
	} {
		stdout, stderr, code := runCLIProcess(t, env, "reconcile", "--repo", bad, "--data-dir", data, "--once", "--log-level", "debug")
		if code == 0 {
			t.Errorf("reconcile of %s succeeded", strings.ReplaceAll(bad, token, "TOKEN"))
		}
		texts = append(texts, stdout, stderr)
		stdout, stderr, _ = runCLIProcess(t, env, "plan", "--repo", bad, "--data-dir", data)
		texts = append(texts, stdout, stderr)
	}

	for i, text := range texts {
		if strings.Contains(text, token) {
			t.Errorf("output %d carries the Git token:\n%s", i, strings.ReplaceAll(text, token, "<<TOKEN>>"))
		}
	}
	if n := assertNoSecretInTree(t, data, token); n < 5 {
		t.Fatalf("only %d files under the data dir: the test saw nothing", n)
	}
	if _, err := os.Stat(legacyMirror); !os.IsNotExist(err) {
		t.Errorf("the mirror an older version wrote with the token still exists: %v", err)
	}
	sum = sha256.Sum256([]byte(clean))
	if b, err := os.ReadFile(filepath.Join(data, "reconcile", "mirror", hex.EncodeToString(sum[:8]), "config")); err != nil || !strings.Contains(string(b), "url = "+clean) {
		t.Errorf("the mirror is not keyed by, or its remote is not, the URL without credentials: %v\n%s", err, b)
	}
	assertPrivateTree(t, data)
}
