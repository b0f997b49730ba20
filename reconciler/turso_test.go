package reconciler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// TestTursoBackendWithSharedControlPlane runs two reconciler replicas against `objectstack dev` (the
// project's Turso-compatible server): tenant databases are remote libSQL databases reached over Hrana, and
// the control plane the replicas share (tenant registry, status, rollouts, leases) is itself a remote
// database — the production topology, on loopback.
func TestTursoBackendWithSharedControlPlane(t *testing.T) {
	ctx := context.Background()
	const apiToken = "dev-api-token"
	run, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	plat, err := platform.NewTurso(platform.TursoConfig{BaseURL: run.URL, Organization: "acme", APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	ctlDB, err := plat.CreateDatabase(ctx, platform.CreateOptions{Name: "control-plane"})
	if err != nil {
		t.Fatal(err)
	}
	ctlTok, err := plat.CreateToken(ctx, ctlDB.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	remote := gittest.New(t)
	remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	remote.Commit("core")

	// Each replica is its own process in production: its own tenant service, store handle and mirror.
	replica := func(holder string) (*Reconciler, *tenant.Service) {
		dataDir := t.TempDir()
		svc, err := tenant.Open(ctx, tenant.Config{DataDir: dataDir, Platform: plat, ControlURL: ctlDB.URL, ControlToken: ctlTok.JWT, SecretKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		store, err := status.Open(ctx, svc.ControlDB())
		if err != nil {
			t.Fatal(err)
		}
		src, err := source.New(source.Options{URL: remote.Bare, DataDir: dataDir})
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(Options{Tenants: svc, Store: store, Source: src, Concurrency: 2, Holder: holder, DriftInterval: -1,
			OnTenant: func(res TenantResult) {
				if res.Outcome == OutcomeApplied {
					time.Sleep(20 * time.Millisecond)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return r, svc
	}
	a, svcA := replica("replica-a")
	b, _ := replica("replica-b")
	const n = 12
	for i := 0; i < n; i++ {
		if res, err := svcA.Provision(ctx, tenant.Request{ID: fmt.Sprintf("remote-%02d", i), OrgID: "acme"}); err != nil || res.Status != tenant.StatusActive {
			t.Fatalf("provision: %+v %v", res, err)
		}
	}
	var wg sync.WaitGroup
	sums := make([]*Summary, 2)
	errs := make([]error, 2)
	for i, r := range []*Reconciler{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); sums[i], errs[i] = r.Once(ctx) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("replica a applied %d (up to date %d, leased %d), replica b applied %d (up to date %d, leased %d)",
		sums[0].Applied, sums[0].UpToDate, sums[0].Leased, sums[1].Applied, sums[1].UpToDate, sums[1].Leased)
	// A tenant the other replica migrated between this one's plan and its apply re-plans as up to date.
	if sums[0].Applied+sums[1].Applied != n {
		t.Fatalf("replicas applied %d+%d tenants, want %d in total", sums[0].Applied, sums[1].Applied, n)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("remote-%02d", i)
		db, err := svcA.DB(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		deps, err := schemaDeployments(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if deps != 1 {
			t.Fatalf("%s has %d deployments, want 1", id, deps)
		}
	}
	// Either replica now finds every tenant up to date from the shared status, without opening a database.
	sum, err := b.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != n {
		t.Fatalf("second pass: %+v %v", sum, err)
	}
}
