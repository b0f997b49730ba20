package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/filelock"
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
// packages share one build through a lock file. A line on log says when a build starts and how long
// it took (GoReleaser's cold build takes minutes).
func (t Tool) Build(ctx context.Context, log io.Writer) (string, error) {
	root, err := tofu.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", exe(t.Name))
	modDir := filepath.Join(root, filepath.FromSlash(t.Module))
	want, err := sourceHash(modDir, t.Pkg)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	stamp := bin + ".stamp"
	if upToDate(bin, stamp, want) {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	unlock, err := filelock.Lock(ctx, bin+".lock")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	defer unlock()
	if upToDate(bin, stamp, want) { // built by another process while we waited
		return bin, nil
	}
	if log != nil {
		fmt.Fprintf(log, "building %s into %s from %s ...\n", t.Name, bin, t.Module)
	}
	start := time.Now()
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, goBinary(), "build", "-trimpath", "-o", tmp, t.Pkg)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s (go build %s in %s): %w\n%s", t.Name, t.Pkg, t.Module, err, out.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	if log != nil {
		fmt.Fprintf(log, "built %s in %s\n", t.Name, time.Since(start).Round(time.Second))
	}
	return bin, nil
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

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// goBinary is the go command of the toolchain running this process, so tools build with the same Go.
func goBinary() string {
	if g := filepath.Join(runtime.GOROOT(), "bin", exe("go")); runtime.GOROOT() != "" {
		if _, err := os.Stat(g); err == nil {
			return g
		}
	}
	return "go"
}
