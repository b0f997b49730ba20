// Command benchterraform is `make bench-terraform`: it measures the provider end to end with a real
// OpenTofu on the local backend — `tofu apply` of N tenants each deploying one M-object bundle, then a
// no-change `tofu plan` (which must be empty) — and prints the seconds of each against the targets
// (100 tenants × 20 objects: apply ≤ 15 s, plan ≤ 5 s). It lives under internal/ because it is a
// developer tool, not something users run.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

func main() {
	tenants := flag.Int("tenants", 100, "number of objectstack_tenant resources (each with one objectstack_deploy_bundle)")
	objects := flag.Int("objects", 20, "objects in the generated bundle")
	parallelism := flag.Int("parallelism", 10, "tofu -parallelism")
	keep := flag.Bool("keep", false, "keep the scratch folder")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *tenants, *objects, *parallelism, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench-terraform:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, tenants, objects, parallelism int, keep bool) error {
	bin, err := tofu.Tofu(ctx, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tfbench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	plugins, work, bundleDir := filepath.Join(dir, "plugins"), filepath.Join(dir, "work"), filepath.Join(dir, "bundle")
	for _, d := range []string{plugins, work, filepath.Join(bundleDir, "objects")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if _, err := tofu.BuildProvider(ctx, plugins); err != nil {
		return err
	}
	rc := filepath.Join(dir, "tofu.rc")
	if err := tofu.WriteCLIConfig(rc, plugins); err != nil {
		return err
	}
	if err := writeBundle(bundleDir, objects); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(config(tenants, filepath.Join(dir, "data"), bundleDir)), 0o644); err != nil {
		return err
	}
	tf := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = work
		cmd.Env = tofu.Env(rc)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil && tofu.ExitCode(err) != 2 {
			return d, fmt.Errorf("tofu %s: %w\n%s", args[0], err, tail(out.String(), 60))
		}
		return d, err
	}
	par := fmt.Sprintf("-parallelism=%d", parallelism)
	fmt.Printf("tofu apply: %d objectstack_tenant + %d objectstack_deploy_bundle (%d-object bundle), local backend, %s\n",
		tenants, tenants, objects, par)
	applyTime, err := tf("apply", "-auto-approve", "-input=false", "-no-color", par)
	if err != nil {
		return err
	}
	// The first plan is the measured one; two more show the spread on a shared machine.
	var plans []time.Duration
	for i := 0; i < 3; i++ {
		d, err := tf("plan", "-detailed-exitcode", "-input=false", "-no-color", par)
		if tofu.ExitCode(err) == 2 {
			return fmt.Errorf("the plan after apply is not empty")
		}
		if err != nil {
			return err
		}
		plans = append(plans, d)
	}
	fmt.Printf("apply:           %6.2f s  (target ≤ 15 s for 100 × 20)\n", applyTime.Seconds())
	fmt.Printf("no-change plan:  %6.2f s  (target ≤ 5 s for 100 × 20; repeats: %.2f s, %.2f s)\n",
		plans[0].Seconds(), plans[1].Seconds(), plans[2].Seconds())
	return nil
}

func config(tenants int, dataDir, bundleDir string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    objectstack = { source = %q }
  }
}

provider "objectstack" {
  data_dir = %q
}

resource "objectstack_tenant" "t" {
  for_each   = toset([for i in range(%d) : format("bench-%%04d", i)])
  id         = each.key
  org_id     = "bench"
  on_destroy = { immediate = true, create_backup = false }
}

resource "objectstack_deploy_bundle" "b" {
  for_each  = objectstack_tenant.t
  tenant_id = each.value.id
  path      = %q
}
`, tofu.ProviderSource, dataDir, tenants, bundleDir)
}

// writeBundle generates a bundle of n objects with a realistic field mix, an index and a lookup each.
func writeBundle(dir string, n int) error {
	if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("name: bench\nversion: 1.0.0\n"), 0o644); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "name: bench_obj_%03d\nlabel: Bench Object %d\nfields:\n", i, i)
		b.WriteString("  title:    { type: text, label: Title, required: true, maxLength: 200 }\n")
		b.WriteString("  email:    { type: email, label: Email, index: true }\n")
		b.WriteString("  amount:   { type: currency, label: Amount, precision: 12, scale: 2 }\n")
		b.WriteString("  active:   { type: boolean, label: Active, defaultValue: true }\n")
		b.WriteString("  due_at:   { type: datetime, label: Due At }\n")
		b.WriteString("  notes:    { type: textarea, label: Notes }\n")
		b.WriteString("  status:\n    type: select\n    label: Status\n    defaultValue: open\n    options:\n      - { label: Open, value: open }\n      - { label: Closed, value: closed }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  parent:   { type: lookup, label: Parent, reference: bench_obj_%03d }\n", i-1)
		}
		b.WriteString("indexes:\n  - { fields: [status, due_at] }\n")
		if err := os.WriteFile(filepath.Join(dir, "objects", fmt.Sprintf("bench_obj_%03d.yaml", i)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
