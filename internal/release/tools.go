package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// Tool names a binary built from a nested tools module.
type Tool struct {
	Name   string // binary name in bin/
	Module string // module folder, relative to the repository root
	Pkg    string // package to build, as `go build` takes it inside Module
}

// The release tools.
var (
	GoReleaser = Tool{Name: "goreleaser", Module: "tools/goreleaser", Pkg: "github.com/goreleaser/goreleaser/v2"}
	GPGSign    = Tool{Name: "gpgsign", Module: "tools/goreleaser", Pkg: "./gpgsign"}
	ChartCheck = Tool{Name: "chartcheck", Module: "tools/chartcheck", Pkg: "."}
	OCIImage   = Tool{Name: "ociimage", Module: "tools/ociimage", Pkg: "."}
	RuleCheck  = Tool{Name: "rulecheck", Module: "tools/rulecheck", Pkg: "."}
)

// Build returns <repo>/bin/<name>, building it when it is missing or was built from other sources
// (a stamp file beside it records a hash of the module's go.mod, go.sum and Go files). Parallel test
// packages share one build (tofu.BuildTool). A line on log says when a build starts and how long it
// took (GoReleaser's cold build takes minutes).
func (t Tool) Build(ctx context.Context, log io.Writer) (string, error) {
	root, err := tofu.RepoRoot()
	if err != nil {
		return "", err
	}
	want, err := sourceHash(filepath.Join(root, filepath.FromSlash(t.Module)), t.Pkg)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	return tofu.BuildTool(ctx, log, tofu.ToolBuild{
		Name: t.Name, Module: t.Module, Pkg: t.Pkg,
		Flags: []string{"-trimpath"},
		Env:   []string{"GOFLAGS=-mod=readonly"},
		Ready: func(bin string) bool { return upToDate(bin, bin+".stamp", want) },
		Done:  func(bin string) error { return os.WriteFile(bin+".stamp", []byte(want+"\n"), 0o644) },
	})
}

func upToDate(bin, stamp, want string) bool {
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return false
	}
	got, err := os.ReadFile(stamp)
	return err == nil && strings.TrimSpace(string(got)) == want
}

// sourceHash hashes what a tool's binary depends on: go.mod and go.sum (which pin every external
// module) and, for a package inside the module, its Go files.
func sourceHash(modDir, pkg string) (string, error) {
	files := []string{"go.mod", "go.sum"}
	if strings.HasPrefix(pkg, ".") {
		pkgDir := filepath.Join(modDir, filepath.FromSlash(pkg))
		err := filepath.WalkDir(pkgDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != pkgDir { // nested packages are not built
				return fs.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				rel, _ := filepath.Rel(modDir, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files[2:])
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", pkg, runtime.GOOS, runtime.GOARCH)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
