package reconciler

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// TestSlowTenantHoldsUpOnlyItsWorker: while one tenant's worker is busy (here: held until every other
// tenant is done), the other worker carries the whole rest of the wave. With chunks of 2×concurrency
// waiting for their slowest tenant this could never finish; the wait is bounded so a regression fails
// instead of hanging.
func TestSlowTenantHoldsUpOnlyItsWorker(t *testing.T) {
	ctx := context.Background()
	var tenants []tenantSpec
	for i := 0; i < 20; i++ {
		tenants = append(tenants, tenantSpec{fmt.Sprintf("s-%02d", i), map[string]string{"env": "prod"}})
	}
	e := newEnv(t, tenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	e.remote.Commit("core")
	var others atomic.Int64
	othersDone := make(chan struct{})
	var slow atomic.Value // the tenant whose worker is held: the first to finish
	r := e.reconciler(Options{Concurrency: 2, OnTenant: func(res TenantResult) {
		if slow.CompareAndSwap(nil, res.TenantID) {
			select {
			case <-othersDone:
			case <-time.After(time.Minute):
				t.Errorf("the rest of the wave did not finish while %s's worker was busy", res.TenantID)
			}
			return
		}
		if others.Add(1) == int64(len(tenants)-1) {
			close(othersDone)
		}
	}})
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Applied != len(tenants) {
		t.Fatalf("rollout: %+v", sum)
	}
}

// TestOutcomesAreWrittenWithinTheFlushInterval: an outcome that does not fill a batch still reaches the
// control plane (and releases its lease) without waiting for the wave to end.
func TestOutcomesAreWrittenWithinTheFlushInterval(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{"solo", nil}})
	r := e.reconciler(Options{FlushEvery: 1000, FlushInterval: 10 * time.Millisecond, Holder: "me"})
	if _, err := e.store.AcquireLeases(ctx, "me", []string{"solo"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(ctx, r)
	if err := rec.add(ctx, status.Update{Status: status.Tenant{TenantID: "solo", Condition: status.Ready, Message: "timed"}, ReleaseHolder: "me"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the timed flush", 30*time.Second, func() bool {
		st, ok, err := e.store.Get(ctx, "solo")
		return err == nil && ok && st.Message == "timed"
	})
	if got, err := e.store.AcquireLeases(ctx, "other", []string{"solo"}, time.Minute); err != nil || !got["solo"] {
		t.Fatalf("the lease was not released with the outcome: %v %v", got, err)
	}
	if err := rec.close(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
