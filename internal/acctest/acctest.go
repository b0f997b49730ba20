// Package acctest is the shared harness for acceptance tests that drive a real OpenTofu binary through
// terraform-plugin-testing. TestMain calls Main; it finds or builds OpenTofu (internal/tofu) and sets the
// environment terraform-plugin-testing reads, so `go test ./...` on a machine with only Go runs them.
package acctest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// Main prepares the environment and runs the package's tests. Use it as the whole TestMain body:
//
//	func TestMain(m *testing.M) { acctest.Main(m) }
func Main(m *testing.M) {
	cleanup, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acceptance test setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Setup sets the environment terraform-plugin-testing needs and returns a cleanup function.
//
//   - TF_ACC=1 unless already set: terraform-plugin-testing skips every resource.Test without it, and the
//     project's single test command (`go test ./...`, the README's and CI's) must run the acceptance tests.
//     Set TF_ACC=0 explicitly to skip them.
//   - TF_ACC_TERRAFORM_PATH: an OpenTofu binary, found or built by tofu.Tofu; or HashiCorp Terraform when
//     the caller set it to one (the resources package runs part of its suite on Terraform that way).
//   - TF_ACC_PROVIDER_HOST / TF_ACC_PROVIDER_NAMESPACE: the provider's address, so the in-process provider
//     reattaches under the same source address the test configurations require: registry.opentofu.org for
//     OpenTofu, registry.terraform.io for Terraform (each resolves `objectstack-ai/...` to its own registry).
//   - TF_CLI_CONFIG_FILE: always our own (empty) file. The environment may point it at a missing file,
//     which makes OpenTofu print a warning that breaks terraform-exec's version detection.
//   - CHECKPOINT_DISABLE=1: no update check over the network.
func Setup() (func(), error) {
	if os.Getenv("TF_ACC") == "" {
		os.Setenv("TF_ACC", "1")
	}
	if os.Getenv("TF_ACC") == "0" {
		// terraform-plugin-testing runs whenever TF_ACC is non-empty; make "0" mean skip.
		os.Unsetenv("TF_ACC")
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	bin, err := tofu.Tofu(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "objectstack-acctest-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "tofu.rc")
	if err := tofu.WriteCLIConfig(cfg, ""); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	os.Setenv("TF_ACC_TERRAFORM_PATH", bin)
	host := tofu.ProviderHost
	if tofu.IsTerraform(ctx, bin) {
		host = tofu.TerraformHost
	}
	os.Setenv("TF_ACC_PROVIDER_HOST", host)
	os.Setenv("TF_ACC_PROVIDER_NAMESPACE", tofu.ProviderNamespace)
	os.Setenv("TF_CLI_CONFIG_FILE", cfg)
	os.Setenv("CHECKPOINT_DISABLE", "1")
	return func() { os.RemoveAll(dir) }, nil
}

// Config returns a test configuration: a terraform block requiring this provider under its real
// source address (the default namespace would be "hashicorp"), followed by body.
func Config(body string) string {
	return fmt.Sprintf("terraform {\n  required_providers {\n    %s = {\n      source = %q\n    }\n  }\n}\n\n%s",
		tofu.ProviderType, tofu.ProviderSource, body)
}
