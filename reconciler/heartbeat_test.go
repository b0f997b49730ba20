package reconciler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
)

// TestHeartbeatKeepsLeasesOfAWorkingReplica (issue 15 item 4): a replica whose rollout lasts several lease
// TTLs keeps its tenants — its heartbeat renews their leases — so another replica starting meanwhile
// migrates none of them; once the first finishes, every tenant has exactly one deployment.
func TestHeartbeatKeepsLeasesOfAWorkingReplica(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Second
	var tenants []tenantSpec
	for i := range 8 {
		tenants = append(tenants, tenantSpec{fmt.Sprintf("h-%02d", i), map[string]string{"env": "prod"}})
	}
	e := newEnv(t, tenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	e.remote.Commit("core")
	mk := func(holder string, onTenant func(TenantResult)) *Reconciler {
		src, err := source.New(source.Options{URL: e.remote.Bare, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return e.reconciler(Options{Source: src, Concurrency: 1, Holder: holder, LeaseTTL: ttl, OnTenant: onTenant})
	}
	// Replica a leases all 8 tenants in one group and works one at a time, each taking half a TTL: its
	// last tenant starts three and a half TTLs after its leases were taken. Replica b starts once a has
	// finished four (one and a half TTLs in).
	fourth := make(chan struct{})
	var n int
	var once sync.Once
	a := mk("replica-a", func(TenantResult) {
		n++
		if n == 4 {
			once.Do(func() { close(fourth) })
		}
		time.Sleep(ttl / 2)
	})
	b := mk("replica-b", nil)
	var sumA *Summary
	var errA error
	done := make(chan struct{})
	go func() { defer close(done); sumA, errA = a.Once(ctx) }()
	select {
	case <-fourth: // a has been at work for more than one TTL
	case <-done:
		t.Fatalf("replica a finished early: %+v %v", sumA, errA)
	}
	sumB, err := b.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if errA != nil {
		t.Fatal(errA)
	}
	if sumB.Applied != 0 || sumB.UpToDate != 0 {
		t.Fatalf("replica b took tenants replica a was working on: applied %d, up to date %d, leased %d", sumB.Applied, sumB.UpToDate, sumB.Leased)
	}
	if sumA.Applied != len(tenants) {
		t.Fatalf("replica a applied %d of %d", sumA.Applied, len(tenants))
	}
	for _, ts := range tenants {
		if got := e.deployments(ts.id, core, sumA.Revision); got != 1 {
			t.Fatalf("%s has %d deployments, want 1", ts.id, got)
		}
	}
}
