// Package tofu owns everything the repository needs to drive a real OpenTofu binary: finding or
// building it (and tfplugindocs) from the separate tools module, building this provider, and writing
// a CLI configuration that points OpenTofu at a locally built provider. The acceptance-test harness,
// the quickstart, the docs generator and the Terraform benchmark all share it, so they agree on one
// provider address and one way of obtaining the binaries. Its BuildTool also builds the release
// tools (internal/release), so every tool in bin/ is built the same way.
package tofu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/filelock"
)

// The provider's address. Everything that names the provider (main.go, test configs, examples, the
// CLI configuration's dev_overrides) uses these, so a change happens in one place.
const (
	ProviderHost      = "registry.opentofu.org"
	ProviderNamespace = "objectstack-ai"
	ProviderType      = "objectstack"
	// ProviderAddress is the full source address OpenTofu resolves `objectstack-ai/objectstack` to.
	ProviderAddress = ProviderHost + "/" + ProviderNamespace + "/" + ProviderType
	// ProviderSource is the short form used in required_providers blocks.
	ProviderSource = ProviderNamespace + "/" + ProviderType
	// ProviderBinary is the plugin's executable name as OpenTofu expects it in a dev_overrides folder.
	ProviderBinary = "terraform-provider-objectstack"
)

// ModulePath is the main module's path; RepoRoot recognises the repository by it.
const ModulePath = "github.com/objectstack-ai/terraform-provider-objectstack"

// RepoRoot walks up from the working directory to the folder holding this module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isMainModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod for module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

func isMainModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == ModulePath
		}
	}
	return false
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// Runnable reports whether path is an executable that answers `version` within a few seconds.
func Runnable(ctx context.Context, path string) bool { return runnable(ctx, path, "version") }

func runnable(ctx context.Context, path, versionArg string) bool {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, versionArg)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	// OpenTofu prints a warning when TF_CLI_CONFIG_FILE names a missing file but still exits 0;
	// the output is irrelevant here, only that it runs.
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	return cmd.Run() == nil
}

// TerraformHost is the registry host HashiCorp Terraform resolves `objectstack-ai/objectstack` to (OpenTofu's is
// ProviderHost): a provider reattached for a test must be announced under the host the binary expects.
const TerraformHost = "registry.terraform.io"

// IsTerraform reports whether the binary at path is HashiCorp Terraform rather than OpenTofu: its `version`
// output starts with "Terraform v" (OpenTofu's with "OpenTofu v").
func IsTerraform(ctx context.Context, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	out, err := cmd.Output()
	return err == nil && bytes.HasPrefix(bytes.TrimSpace(out), []byte("Terraform v"))
}

// Tofu returns a runnable OpenTofu binary: $TF_ACC_TERRAFORM_PATH when set, else <repo>/bin/tofu when
// it runs, else it builds <repo>/bin/tofu from the tools module (several minutes on a cold cache; a line
// on log says so). Concurrent callers (parallel test packages) share one build through a lock file.
func Tofu(ctx context.Context, log io.Writer) (string, error) {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if !Runnable(ctx, p) {
			return "", fmt.Errorf("TF_ACC_TERRAFORM_PATH=%s is not a runnable OpenTofu/Terraform binary", p)
		}
		return p, nil
	}
	return toolBinary(ctx, log, "tofu", "version", "github.com/opentofu/opentofu/cmd/tofu", "OpenTofu (cold build takes 5-10 minutes on 2 cores)")
}

// TFPluginDocs returns <repo>/bin/tfplugindocs, building it from the tools module when missing.
func TFPluginDocs(ctx context.Context, log io.Writer) (string, error) {
	return toolBinary(ctx, log, "tfplugindocs", "--version", "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs", "tfplugindocs")
}

func toolBinary(ctx context.Context, log io.Writer, name, versionArg, pkg, what string) (string, error) {
	return BuildTool(ctx, log, ToolBuild{
		Name: name, Module: "tools", Pkg: pkg, What: what,
		Ready: func(bin string) bool { return runnable(ctx, bin, versionArg) },
	})
}

// ToolBuild describes a binary that BuildTool builds with `go build` into <repo>/bin/.
type ToolBuild struct {
	Name   string   // binary name in bin/, without .exe
	Module string   // module folder to build in, relative to the repository root
	Pkg    string   // package to build, as `go build` takes it inside Module
	Flags  []string // further `go build` flags
	Env    []string // further environment for `go build`
	What   string   // what the log line calls it; Name when empty
	// Ready reports whether the binary at bin can be used as it is.
	Ready func(bin string) bool
	// Done, when set, runs under the lock once a new binary is in place (to write a stamp beside it).
	Done func(bin string) error
}

// BuildTool returns <repo>/bin/<Name>, building it unless Ready says it is usable. Parallel test
// packages share one build through a lock file beside it, and Ready is asked again after waiting for
// the lock since another process may have built it meanwhile. The binary is built under a temporary
// name and renamed into place, so no process ever runs a half-written one.
func BuildTool(ctx context.Context, log io.Writer, b ToolBuild) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", exe(b.Name))
	if b.Ready(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", b.Name, err)
	}
	unlock, err := filelock.Lock(ctx, bin+".lock")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", b.Name, err)
	}
	defer unlock()
	if b.Ready(bin) {
		return bin, nil
	}
	what := b.What
	if what == "" {
		what = b.Name
	}
	if log != nil {
		fmt.Fprintf(log, "building %s into %s from the %s module ...\n", what, bin, b.Module)
	}
	start := time.Now()
	tmp := bin + ".tmp"
	args := append(append([]string{"build"}, b.Flags...), "-o", tmp, b.Pkg)
	cmd := exec.CommandContext(ctx, GoBinary(), args...)
	cmd.Dir = filepath.Join(root, filepath.FromSlash(b.Module))
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off"), b.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s (go build %s in %s): %w\n%s", b.Name, b.Pkg, b.Module, err, out.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("build %s: %w", b.Name, err)
	}
	if b.Done != nil {
		if err := b.Done(bin); err != nil {
			return "", fmt.Errorf("build %s: %w", b.Name, err)
		}
	}
	if log != nil {
		fmt.Fprintf(log, "built %s in %s\n", b.Name, time.Since(start).Round(time.Second))
	}
	return bin, nil
}

// GoBinary is the go command of the toolchain running this process, so tools build with the same Go.
func GoBinary() string {
	if g := filepath.Join(runtime.GOROOT(), "bin", exe("go")); runtime.GOROOT() != "" {
		if _, err := os.Stat(g); err == nil {
			return g
		}
	}
	return "go"
}

// BuildProvider builds cmd/terraform-provider-objectstack into dir and returns the binary's path.
func BuildProvider(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, exe(ProviderBinary))
	cmd := exec.CommandContext(ctx, GoBinary(), "build", "-o", out, "./cmd/terraform-provider-objectstack")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build provider: %w\n%s", err, buf.String())
	}
	return out, nil
}

// WriteCLIConfig writes an OpenTofu CLI configuration file at path. With providerDir non-empty it
// installs this provider from that folder through dev_overrides (no `tofu init` and no registry access
// needed); every other provider would come from its registry as usual.
func WriteCLIConfig(path, providerDir string) error {
	var b strings.Builder
	if providerDir != "" {
		fmt.Fprintf(&b, "provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n",
			ProviderAddress, filepath.ToSlash(providerDir))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write OpenTofu CLI configuration: %w", err)
	}
	return nil
}

// Env returns the environment for running OpenTofu with the CLI configuration at cliConfig:
// the inherited environment with TF_CLI_CONFIG_FILE replaced (the inherited one may name a missing
// file, which OpenTofu warns about on every command) and the update checkpoint disabled.
func Env(cliConfig string) []string {
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") || strings.HasPrefix(kv, "CHECKPOINT_DISABLE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
}

// ExitCode returns the exit status of a finished command error, or -1 when it did not run.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
