package tofu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "tools", "go.mod")); err != nil {
		t.Fatalf("root %s has no tools module: %v", root, err)
	}
}

func TestWriteCLIConfig(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.rc")
	if err := WriteCLIConfig(empty, ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Fatalf("expected an empty file, got %q", b)
	}
	over := filepath.Join(dir, "dev.rc")
	if err := WriteCLIConfig(over, "/opt/plugins"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(over)
	for _, want := range []string{"dev_overrides", `"` + ProviderAddress + `" = "/opt/plugins"`, "direct {}"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("CLI config lacks %q:\n%s", want, b)
		}
	}
}

func TestEnvReplacesCLIConfig(t *testing.T) {
	t.Setenv("TF_CLI_CONFIG_FILE", "/does/not/exist")
	env := Env("/mine.rc")
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") {
			n++
			if kv != "TF_CLI_CONFIG_FILE=/mine.rc" {
				t.Errorf("got %s", kv)
			}
		}
	}
	if n != 1 {
		t.Errorf("TF_CLI_CONFIG_FILE set %d times", n)
	}
}

func TestRunnable(t *testing.T) {
	ctx := context.Background()
	if Runnable(ctx, filepath.Join(t.TempDir(), "nope")) {
		t.Fatal("missing file reported runnable")
	}
	if Runnable(ctx, t.TempDir()) {
		t.Fatal("directory reported runnable")
	}
}

// IsTerraform tells HashiCorp Terraform from OpenTofu by `version`, which decides the registry host the
// acceptance tests reattach the provider under; a missing binary is neither.
func TestIsTerraform(t *testing.T) {
	ctx := context.Background()
	if IsTerraform(ctx, filepath.Join(t.TempDir(), "nope")) {
		t.Fatal("missing file reported as Terraform")
	}
	if bin, err := exec.LookPath("terraform"); err == nil && !IsTerraform(ctx, bin) {
		t.Errorf("%s not recognised as Terraform", bin)
	}
	if bin, err := exec.LookPath("tofu"); err == nil && IsTerraform(ctx, bin) {
		t.Errorf("%s (OpenTofu) recognised as Terraform", bin)
	}
}
