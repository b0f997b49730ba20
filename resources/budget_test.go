package resources_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
)

// TestTerraformRequestBudget runs real OpenTofu commands against the provider binary, on the turso backend with
// every request crossing a counting proxy in front of `objectstack dev`, and holds each command to its budget
// per tenant database: provisioning ≤ 2 Platform API calls + 1 Hrana request; a deploy bundle or app install
// ≤ 1 request at refresh, ≤ 1 at plan (none when refresh read the tenant), ≤ 2 at apply.
func TestTerraformRequestBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider and runs OpenTofu")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin, err := tofu.Tofu(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	providerDir := filepath.Join(dir, "provider")
	if _, err := tofu.BuildProvider(ctx, providerDir); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "tofurc")
	if err := tofu.WriteCLIConfig(rc, providerDir); err != nil {
		t.Fatal(err)
	}
	dev, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(dir, "dev"), APIToken: "budget-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Stop()
	px, err := wanproxy.Start(dev.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()

	const tenants = 3
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(bundle string) {
		t.Helper()
		cfg := fmt.Sprintf(`terraform {
  required_providers {
    objectstack = { source = %q }
  }
}

provider "objectstack" {
  backend      = "turso"
  data_dir     = %q
  api_url      = %q
  organization = "budget"
  api_token    = "budget-token"
}

resource "objectstack_tenant" "t" {
  for_each   = toset([for i in range(%d) : format("budget-%%02d", i)])
  id         = each.key
  org_id     = "budget"
  on_destroy = { immediate = true, create_backup = false }
}

resource "objectstack_deploy_bundle" "crm" {
  for_each  = objectstack_tenant.t
  tenant_id = each.value.id
  path      = %q
}

resource "objectstack_app_install" "notes" {
  for_each  = objectstack_tenant.t
  tenant_id = each.value.id
  path      = %q
}
`, tofu.ProviderSource, filepath.Join(dir, "data"), px.URL(), tenants, testdata(t, "bundles/"+bundle), testdata(t, "apps/notes-1.0.0"))
		if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) int {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = work, tofu.Env(rc)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if code := tofu.ExitCode(err); err != nil && code != 2 {
			t.Fatalf("tofu %v: %v\n%s", args, err, out.String())
		}
		return tofu.ExitCode(err)
	}
	// check asserts the counts of one command: Hrana requests per tenant database at most hrana, Platform API
	// calls per tenant at most platform.
	check := func(what string, hrana int64, platform float64) {
		t.Helper()
		s := px.Snapshot()
		if len(s.HranaByDatabase) != tenants && s.Hrana > 0 {
			t.Errorf("%s: Hrana requests reached %d databases, want %d: %v", what, len(s.HranaByDatabase), tenants, s.HranaByDatabase)
		}
		for db, n := range s.HranaByDatabase {
			if n > hrana {
				t.Errorf("%s: database %s took %d Hrana requests, budget %d", what, db, n, hrana)
			}
		}
		if p := float64(s.Platform) / tenants; p > platform {
			t.Errorf("%s: %.1f Platform API calls per tenant, budget %.0f", what, p, platform)
		}
		t.Logf("%s: %d Hrana requests %v, %d Platform API calls", what, s.Hrana, s.HranaByDatabase, s.Platform)
		px.Reset()
	}

	write("crm-v1")
	px.Reset()
	run("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1")
	// Provisioning (≤ 2 Platform API + 1 Hrana), then the bundle (read + batch) and the app (read + batch).
	check("first apply", 1+2+2, 2)

	if code := run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Fatalf("the plan after apply is not empty (exit %d)", code)
	}
	// Refresh reads each resource's tenant once; the plan reuses what refresh read.
	check("no-change plan", 1+1, 0)

	write("crm-v2")
	if code := run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 2 {
		t.Fatalf("a bundle change planned no change (exit %d)", code)
	}
	check("plan of a changed bundle", 1+1, 0)

	run("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1")
	// Refresh (1 + 1), the plan from refresh's reads, then the bundle's apply (read + batch).
	check("apply of a changed bundle", 1+1+2, 0)
}
