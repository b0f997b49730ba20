package resources

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

// writeBenchBundle generates a bundle of n objects: seven typed fields, a lookup and an index each.
func writeBenchBundle(tb testing.TB, dir string, n int) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("name: bench\nversion: 1.0.0\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "name: bench_obj_%03d\nfields:\n", i)
		b.WriteString("  title:  { type: text, required: true, maxLength: 200 }\n  email: { type: email, index: true }\n")
		b.WriteString("  amount: { type: currency, precision: 12, scale: 2 }\n  active: { type: boolean, defaultValue: true }\n")
		b.WriteString("  due_at: { type: datetime }\n  notes: { type: textarea }\n")
		b.WriteString("  status: { type: select, defaultValue: open, options: [ { label: Open, value: open }, { label: Closed, value: closed } ] }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  parent: { type: lookup, reference: bench_obj_%03d }\n", i-1)
		}
		b.WriteString("indexes:\n  - { fields: [status, due_at] }\n")
		if err := os.WriteFile(filepath.Join(dir, "objects", fmt.Sprintf("bench_obj_%03d.yaml", i)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// benchSetup provisions one local tenant with an n-object bundle deployed and returns the resource,
// ready to plan the unchanged bundle again (the per-resource work of a no-change plan).
func benchSetup(b *testing.B, n int) (*deployBundleResource, *deployBundleModel) {
	ctx := context.Background()
	dir := b.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	writeBenchBundle(b, bundleDir, n)
	c, err := provider.NewClient(ctx, provider.Settings{Backend: provider.BackendLocal, DataDir: filepath.Join(dir, "data"), Group: "default"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := c.Tenants.Provision(ctx, tenant.Request{ID: "bench", OrgID: "bench"}); err != nil {
		b.Fatal(err)
	}
	r := &deployBundleResource{client: c}
	m := &deployBundleModel{TenantID: types.StringValue("bench"), Path: types.StringValue(bundleDir)}
	var diags diag.Diagnostics
	bp, ok := r.planBundle(ctx, m, &diags, false)
	if !ok || diags.HasError() {
		b.Fatalf("plan: %v", diags)
	}
	if _, err := engine.Apply(ctx, bp.db, bp.plan, engine.ApplyOptions{Source: "bench"}); err != nil {
		b.Fatal(err)
	}
	return r, m
}

// BenchmarkDeployBundlePlan is ModifyPlan's work for one unchanged bundle: hash the folder, take the
// parsed bundle from the cache, introspect the tenant database and diff (one op = one resource).
func BenchmarkDeployBundlePlan(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			r, m := benchSetup(b, n)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var diags diag.Diagnostics
				bp, ok := r.planBundle(ctx, m, &diags, false)
				if !ok || !bp.plan.UpToDate {
					b.Fatalf("expected an up-to-date plan: %v", diags)
				}
			}
		})
	}
}

// BenchmarkDeployBundleRead is refresh's work for one bundle: one read (registry, schema, last deployment)
// and a drift re-plan of the registered definitions.
func BenchmarkDeployBundleRead(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			r, _ := benchSetup(b, n)
			ctx := context.Background()
			_, db, err := r.client.TenantDB(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, found, err := engine.InspectOwner(ctx, db, engine.BundleOwner("bench"), engine.ReadOptions{})
				if err != nil || !found || rep.Drift {
					b.Fatalf("read: found=%v err=%v drift=%v", found, err, rep != nil && rep.Drift)
				}
			}
		})
	}
}
