// Package gittest owns the Git fixtures of the reconciler's tests: a bare "remote" repository on disk and
// a working clone that commits and pushes to it with go-git, as a developer's push would.
package gittest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Remote is a bare repository plus a working clone that pushes to it.
type Remote struct {
	Bare string // path of the bare repository (use it, or "file://"+Bare, as the repo URL)
	Work string
	t    testing.TB
	repo *git.Repository
}

// New creates an empty bare repository with default branch main, and a working clone.
func New(t testing.TB) *Remote {
	t.Helper()
	dir := t.TempDir()
	r := &Remote{Bare: filepath.Join(dir, "remote.git"), Work: filepath.Join(dir, "work"), t: t}
	main := plumbing.NewBranchReferenceName("main")
	if _, err := git.PlainInitWithOptions(r.Bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: main}}); err != nil {
		t.Fatalf("init bare: %v", err)
	}
	repo, err := git.PlainInitWithOptions(r.Work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: main}})
	if err != nil {
		t.Fatalf("init work: %v", err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{r.Bare}}); err != nil {
		t.Fatalf("remote: %v", err)
	}
	r.repo = repo
	return r
}

// Write sets files in the working tree (path → content; nil content deletes the path, file or folder).
func (r *Remote) Write(files map[string][]byte) {
	r.t.Helper()
	for p, data := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(p))
		if data == nil {
			if err := os.RemoveAll(full); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// CopyDir copies folder src into the working tree at dst (replacing what was there).
func (r *Remote) CopyDir(src, dst string) {
	r.t.Helper()
	target := filepath.Join(r.Work, filepath.FromSlash(dst))
	if err := os.RemoveAll(target); err != nil {
		r.t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(target, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		r.t.Fatalf("copy %s: %v", src, err)
	}
}

// Commit stages everything in the working tree, commits and pushes main; it returns the commit id.
func (r *Remote) Commit(msg string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatalf("add: %v", err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{AllowEmptyCommits: true,
		Author: &object.Signature{Name: "Test", Email: "test@example.com", When: time.Now()}})
	if err != nil {
		r.t.Fatalf("commit: %v", err)
	}
	r.Push("refs/heads/main:refs/heads/main")
	return h.String()
}

// Tag creates a lightweight tag at HEAD and pushes it.
func (r *Remote) Tag(name string) {
	r.t.Helper()
	head, err := r.repo.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.repo.CreateTag(name, head.Hash(), nil); err != nil {
		r.t.Fatal(err)
	}
	r.Push("refs/tags/" + name + ":refs/tags/" + name)
}

// Push pushes a refspec to the bare repository.
func (r *Remote) Push(spec string) {
	r.t.Helper()
	err := r.repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec("+" + spec)}})
	if err != nil && err != git.NoErrAlreadyUpToDate {
		r.t.Fatalf("push: %v", err)
	}
}
