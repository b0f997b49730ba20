// Command benchterraform is `make bench-terraform`: it measures the provider end to end with a real
// OpenTofu on the local backend — `tofu apply` of N tenants each deploying one M-object bundle, then a
// no-change `tofu plan` (which must be empty) — and prints the seconds of each against the targets
// (100 tenants × 20 objects: apply ≤ 15 s, plan ≤ 5 s). It lives under internal/ because it is a
// developer tool, not something users run.
//
// With -wan-delay D (part of `make bench-fleet-wan`) the provider uses the turso backend instead: tenant
// databases live on an in-process `objectstack dev` reached only through internal/wanproxy, which adds D
// to every HTTP request and counts them, so the figures show what a WAN round trip per request costs
// (target for 50 tenants + bundles at 25 ms: apply ≤ 3 s) and how many requests each step sends.
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

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
)

const (
	wanOrg      = "bench"
	wanAPIToken = "bench-api-token"
)

func main() {
	tenants := flag.Int("tenants", 100, "number of objectstack_tenant resources (each with one objectstack_deploy_bundle)")
	objects := flag.Int("objects", 20, "objects in the generated bundle")
	parallelism := flag.Int("parallelism", 10, "tofu -parallelism")
	keep := flag.Bool("keep", false, "keep the scratch folder")
	wanDelay := flag.Duration("wan-delay", 0, "use the turso backend on an in-process objectstack dev behind a proxy adding this delay to every request (0: local backend)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *tenants, *objects, *parallelism, *keep, *wanDelay); err != nil {
		fmt.Fprintln(os.Stderr, "bench-terraform:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, tenants, objects, parallelism int, keep bool, wanDelay time.Duration) error {
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
	backend := "local backend"
	providerBlock := fmt.Sprintf("data_dir = %q", filepath.Join(dir, "data"))
	var proxy *wanproxy.Proxy
	if wanDelay > 0 {
		dev, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(dir, "dev"), APIToken: wanAPIToken})
		if err != nil {
			return fmt.Errorf("start objectstack dev: %w", err)
		}
		defer dev.Stop()
		// Only the provider talks to the proxy, and only inside the timed commands.
		if proxy, err = wanproxy.Start(dev.URL, wanDelay); err != nil {
			return err
		}
		defer proxy.Close()
		backend = fmt.Sprintf("turso backend on objectstack dev behind a %s-per-request proxy", wanDelay)
		providerBlock = fmt.Sprintf("backend      = \"turso\"\n  data_dir     = %q\n  api_url      = %q\n  organization = %q\n  api_token    = %q",
			filepath.Join(dir, "data"), proxy.URL(), wanOrg, wanAPIToken)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(config(tenants, providerBlock, bundleDir)), 0o644); err != nil {
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
	fmt.Printf("tofu apply: %d objectstack_tenant + %d objectstack_deploy_bundle (%d-object bundle), %s, %s\n",
		tenants, tenants, objects, backend, par)
	applyTime, err := tf("apply", "-auto-approve", "-input=false", "-no-color", par)
	if err != nil {
		return err
	}
	var applyCounts wanproxy.Snapshot
	if proxy != nil {
		applyCounts = proxy.Snapshot()
		proxy.Reset()
	}
	// The first plan is the measured one; two more show the spread on a shared machine.
	var plans []time.Duration
	var planCounts wanproxy.Snapshot
	for i := 0; i < 3; i++ {
		d, err := tf("plan", "-detailed-exitcode", "-input=false", "-no-color", par)
		if tofu.ExitCode(err) == 2 {
			return fmt.Errorf("the plan after apply is not empty")
		}
		if err != nil {
			return err
		}
		plans = append(plans, d)
		if proxy != nil && i == 0 {
			planCounts = proxy.Snapshot()
		}
	}
	if proxy != nil {
		fmt.Printf("apply:           %6.2f s  (target ≤ 3 s for 50 tenants + bundles at 25 ms per request)\n", applyTime.Seconds())
		fmt.Printf("no-change plan:  %6.2f s  (repeats: %.2f s, %.2f s)\n", plans[0].Seconds(), plans[1].Seconds(), plans[2].Seconds())
		printCounts("apply", applyCounts, tenants)
		printCounts("no-change plan", planCounts, tenants)
		return nil
	}
	fmt.Printf("apply:           %6.2f s  (target ≤ 15 s for 100 × 20)\n", applyTime.Seconds())
	fmt.Printf("no-change plan:  %6.2f s  (target ≤ 5 s for 100 × 20; repeats: %.2f s, %.2f s)\n",
		plans[0].Seconds(), plans[1].Seconds(), plans[2].Seconds())
	return nil
}

// printCounts prints what the proxy counted during one tofu command: requests in all, and per tenant
// database (every database here is a tenant's: the provider's control plane is a local file).
func printCounts(what string, s wanproxy.Snapshot, tenants int) {
	hr := s.HranaCounts()
	fmt.Printf("%s requests: %d in all (%d Platform API, %d Hrana); Hrana per tenant database: median %.0f, max %.0f over %d databases; Platform API per tenant %.1f\n",
		what, s.Total, s.Platform, s.Hrana, wanproxy.Percentile(hr, 50), wanproxy.Percentile(hr, 100), len(hr), float64(s.Platform)/float64(tenants))
}

func config(tenants int, providerBlock, bundleDir string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    objectstack = { source = %q }
  }
}

provider "objectstack" {
  %s
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
`, tofu.ProviderSource, providerBlock, tenants, bundleDir)
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
