package resources_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// onTerraformEnv marks the test binary re-run by TestAccOnTerraform, so that run does not start another.
const onTerraformEnv = "OBJECTSTACK_ACC_ON_TERRAFORM"

// onTerraformRun selects the acceptance tests that run a second time on HashiCorp Terraform: all of them
// (resource.Test based), on the local backend only (see backends). TestTerraformRequestBudget is left out: it
// drives OpenTofu itself through dev_overrides and counts requests, which depend on the provider, not on the CLI.
const onTerraformRun = `^TestAcc`

// TestAccOnTerraform runs the acceptance tests on HashiCorp Terraform too, when a `terraform` binary is on
// PATH: OpenTofu and Terraform differ in the details a provider meets (the normal-mode plan before a destroy,
// import, plan rendering, the registry host providers resolve to), and users run both. It re-runs this test
// binary with TF_ACC_TERRAFORM_PATH pointing at Terraform; acctest.Setup then reattaches the provider under
// Terraform's registry host.
func TestAccOnTerraform(t *testing.T) {
	if os.Getenv(onTerraformEnv) != "" {
		t.Skip("this run is the one on Terraform")
	}
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests are off (TF_ACC=0)")
	}
	if testing.Short() {
		t.Skip("-short: the acceptance tests on Terraform take minutes")
	}
	if tofu.IsTerraform(context.Background(), os.Getenv("TF_ACC_TERRAFORM_PATH")) {
		t.Skip("TF_ACC_TERRAFORM_PATH is Terraform already: the acceptance tests ran on it")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("HashiCorp Terraform is not on PATH (no `terraform` binary): the acceptance tests ran on OpenTofu only. " +
			"Install Terraform >= 1.10 to run them on both.")
	}
	args := []string{"-test.run=" + onTerraformRun, "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	// The last value of a variable wins: TF_ACC_TERRAFORM_PATH (OpenTofu, set by acctest.Setup) is replaced.
	cmd.Env = append(os.Environ(), "TF_ACC_TERRAFORM_PATH="+bin, onTerraformEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("%s: %s took %s", bin, onTerraformRun, time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("acceptance tests on Terraform (%s) failed: %v\n%s", bin, err, out.String())
	}
	// List what ran, so a run that selected nothing (a renamed test) is visible.
	ran := regexp.MustCompile(`(?m)^\s*--- (PASS|SKIP): \S+`).FindAllString(out.String(), -1)
	if testing.Verbose() {
		t.Logf("on Terraform:\n%s", strings.Join(ran, "\n"))
	}
	if !strings.Contains(out.String(), "PASS") {
		t.Fatalf("acceptance tests on Terraform ran nothing:\n%s", out.String())
	}
}
