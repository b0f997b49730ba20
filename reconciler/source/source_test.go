package source

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
)

func TestFetchTracksBranchAndSkipsUnmovedRef(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\n"), "bundles/crm/bundle.yaml": []byte("name: crm\n"),
		"README.md": []byte("not deployable\n")})
	c1 := remote.Commit("first")
	for _, url := range []string{remote.Bare, "file://" + remote.Bare} {
		t.Run(url[:4], func(t *testing.T) {
			src, err := New(Options{URL: url, DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			rev, changed, err := src.Fetch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !changed || rev.Commit != c1 || rev.String() != "main@sha1:"+c1 || !strings.HasPrefix(rev.Digest, "sha256:") {
				t.Fatalf("first fetch: %+v changed=%v", rev, changed)
			}
			if _, err := os.Stat(filepath.Join(rev.Dir, "bundles", "crm", "bundle.yaml")); err != nil {
				t.Fatalf("checkout: %v", err)
			}
			if _, err := os.Stat(filepath.Join(rev.Dir, "README.md")); !os.IsNotExist(err) {
				t.Fatal("only the deployable tree is exported")
			}
			again, changed, err := src.Fetch(ctx)
			if err != nil || changed || again.Commit != c1 {
				t.Fatalf("unmoved ref must report unchanged: %+v %v %v", again, changed, err)
			}
		})
	}
}

func TestDigestIgnoresNonDeployableFiles(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("a: 1\n")})
	remote.Commit("one")
	src, err := New(Options{URL: remote.Bare, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r1, _, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	remote.Write(map[string][]byte{"docs/notes.md": []byte("hello\n")})
	c2 := remote.Commit("docs only")
	r2, changed, err := src.Fetch(ctx)
	if err != nil || !changed || r2.Commit != c2 {
		t.Fatalf("moved ref must be fetched: %+v %v %v", r2, changed, err)
	}
	if r2.Digest != r1.Digest {
		t.Fatal("a docs-only commit must keep the bundle tree digest")
	}
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("a: 2\n")})
	remote.Commit("change")
	r3, _, err := src.Fetch(ctx)
	if err != nil || r3.Digest == r1.Digest {
		t.Fatalf("a content change must change the digest: %v", err)
	}
}

func TestTagCommitAndRevision(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 1\n")})
	c1 := remote.Commit("v1")
	remote.Tag("v1.0.0")
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 2\n")})
	c2 := remote.Commit("v2")

	src, err := New(Options{URL: remote.Bare, Tag: "v1.0.0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err := src.Fetch(ctx)
	if err != nil || rev.Commit != c1 || rev.String() != "v1.0.0@sha1:"+c1 {
		t.Fatalf("tag: %+v %v", rev, err)
	}
	pinned, err := New(Options{URL: remote.Bare, Commit: c1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err = pinned.Fetch(ctx)
	if err != nil || rev.Commit != c1 || rev.String() != "sha1:"+c1 {
		t.Fatalf("pinned: %+v %v", rev, err)
	}
	data, _ := os.ReadFile(filepath.Join(rev.Dir, "objectstack.yaml"))
	if string(data) != "v: 1\n" {
		t.Fatalf("pinned checkout has %q", data)
	}
	for rv, want := range map[string]string{"main": c2, "v1.0.0": c1, c1: c1} {
		s, err := New(Options{URL: remote.Bare, Revision: rv, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Fetch(ctx)
		if err != nil || got.Commit != want {
			t.Fatalf("revision %s: %+v %v", rv, got, err)
		}
	}
}

func TestFetchErrors(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 1\n")})
	remote.Commit("v1")
	s, _ := New(Options{URL: remote.Bare, Branch: "nope", DataDir: t.TempDir()})
	if _, _, err := s.Fetch(ctx); err == nil || !strings.Contains(err.Error(), `branch "nope" not found`) {
		t.Fatalf("missing branch: %v", err)
	}
	if _, err := New(Options{URL: remote.Bare, Commit: "abc", DataDir: t.TempDir()}); err == nil {
		t.Fatal("short commit ids are refused")
	}
	if _, err := New(Options{URL: remote.Bare, Branch: "a", Tag: "b", DataDir: t.TempDir()}); err == nil {
		t.Fatal("branch and tag together are refused")
	}
}

func TestCredentialsNeverInErrors(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cr3t-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Port 1 on loopback refuses the connection at once: no network leaves the machine.
	s, err := New(Options{URL: "https://user:hunter2@127.0.0.1:1/org/repo.git", TokenFile: tok, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch from a closed port must fail")
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("secret leaked: %v", err)
	}
	if strings.Contains(s.Redacted(), "hunter2") {
		t.Fatalf("redacted URL leaks the password: %s", s.Redacted())
	}
}

// TestFetchOverHTTPWithToken serves the bare repository with git's own smart-HTTP backend on loopback,
// behind basic auth: the token from the token file (or the environment) opens it, no token is refused.
func TestFetchOverHTTPWithToken(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 1\n")})
	c1 := remote.Commit("v1")
	backend := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(remote.Bare), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != "tok-123" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL + "/" + filepath.Base(remote.Bare)

	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{URL: url, TokenFile: tokFile, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err := s.Fetch(context.Background())
	if err != nil || rev.Commit != c1 {
		t.Fatalf("fetch with token file: %+v %v", rev, err)
	}
	t.Setenv(TokenEnv, "tok-123")
	s, _ = New(Options{URL: url, DataDir: t.TempDir()})
	if rev, _, err = s.Fetch(context.Background()); err != nil || rev.Commit != c1 {
		t.Fatalf("fetch with token from env: %+v %v", rev, err)
	}
	t.Setenv(TokenEnv, "wrong")
	s, _ = New(Options{URL: url, DataDir: t.TempDir()})
	if _, _, err = s.Fetch(context.Background()); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("a wrong token must fail without echoing it: %v", err)
	}
}

// TestDefaultBranchFollowsRemoteHEAD: without --branch the remote's default branch is tracked, whatever
// its name.
func TestDefaultBranchFollowsRemoteHEAD(t *testing.T) {
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 1\n")})
	trunk := remote.Commit("on main")
	remote.Push("refs/heads/main:refs/heads/trunk")
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 2\n")})
	wt := remote.Commit("on main again")
	// Point the bare repository's HEAD at trunk, as a host whose default branch is trunk would.
	if err := os.WriteFile(filepath.Join(remote.Bare, "HEAD"), []byte("ref: refs/heads/trunk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{URL: remote.Bare, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rev.Ref != "trunk" || rev.Commit != trunk {
		t.Fatalf("default branch: %+v (main is at %s)", rev, wt)
	}
}

// TestURLCredentialsAreTakenOut: credentials in the URL become auth held in memory; the URL the Source
// keeps (mirror key, .git/config, logs, status) has none, and no error repeats them.
func TestURLCredentialsAreTakenOut(t *testing.T) {
	const tok = "ghp_0123456789abcdefghij0123456789abcdef"
	for _, tc := range []struct{ in, url, user, pass string }{
		{"https://" + tok + "@github.com/acme/config.git", "https://github.com/acme/config.git", tok, ""},
		{"https://x-access-token:" + tok + "@github.com/acme/config.git", "https://github.com/acme/config.git", "x-access-token", tok},
		{"ssh://git:" + tok + "@example.com/acme/config.git", "ssh://git@example.com/acme/config.git", "", ""},
	} {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{URL: tc.in, DataDir: t.TempDir(), KnownHostsFile: kh})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if s.opts.URL != tc.url || strings.Contains(s.Redacted(), tok) || strings.Contains(s.mirror, tok) {
			t.Errorf("kept URL %q, shown %q; want %q", s.opts.URL, s.Redacted(), tc.url)
		}
		if ba, ok := s.auth.(*githttp.BasicAuth); tc.user != "" && (!ok || ba.Username != tc.user || ba.Password != tc.pass) {
			t.Errorf("%s: auth %#v, want basic %s/%s", tc.url, s.auth, tc.user, tc.pass)
		}
	}
	if _, err := New(Options{URL: "https://" + tok + "@github.com/%zz", DataDir: t.TempDir()}); err == nil || strings.Contains(err.Error(), tok) {
		t.Errorf("an unparseable URL: %v", err)
	}
}

// TestReplicasSharingADataFolderFetchTogether: two reconcile replicas on one host given the same
// --data-dir share the mirror and the checkouts. Both fetching each new commit at the same moment used to
// fail one of them ("source: export: rename …tmp …") — one process's export renamed or removed the folder
// the other was writing — and that replica sat out the rollout until its retry. Every fetch must succeed
// with the commit's whole tree, and no temporary folder may be left behind.
func TestReplicasSharingADataFolderFetchTogether(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	data := t.TempDir()
	const replicas, commits = 3, 5
	var srcs []*Source
	for range replicas {
		src, err := New(Options{URL: remote.Bare, DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	for i := range commits {
		files := map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\n")}
		for j := range 30 { // enough files that two exports overlap
			files[fmt.Sprintf("bundles/b%02d/bundle.yaml", j)] = []byte(fmt.Sprintf("name: b%02d\nversion: 1.0.%d\n", j, i))
		}
		remote.Write(files)
		want := remote.Commit(fmt.Sprintf("commit %d", i))
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		revs := make([]Revision, replicas)
		for r, src := range srcs {
			wg.Go(func() { revs[r], _, errs[r] = src.Fetch(ctx) })
		}
		wg.Wait()
		for r := range replicas {
			if errs[r] != nil {
				t.Fatalf("commit %d: replica %d: %v", i, r, errs[r])
			}
			if revs[r].Commit != want || revs[r].Digest != revs[0].Digest {
				t.Fatalf("commit %d: replica %d resolved %+v, want %s with replica 0's digest %s", i, r, revs[r], want, revs[0].Digest)
			}
			got, err := os.ReadFile(filepath.Join(revs[r].Dir, "bundles", "b29", "bundle.yaml"))
			if err != nil || !strings.Contains(string(got), fmt.Sprintf("1.0.%d\n", i)) {
				t.Fatalf("commit %d: replica %d's checkout: %q %v", i, r, got, err)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Dir(srcs[0].Last().Dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary checkout %s left behind", e.Name())
		}
	}
}
