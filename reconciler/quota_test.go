package reconciler

import (
	"context"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// Issue 15 item 8, GitOps side: a tenant with maxObjects 1 gets a push of a two-object bundle, a tenant with
// maxDeploymentsPerDay 1 gets two pushes on one day. Both must be refused at plan time with the protocol's
// quota_exceeded category in the tenant's status (as Terraform shows it), and nothing applied.
func TestReconcileEnforcesQuotas(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	one := int64(1)
	for _, req := range []tenant.Request{
		{ID: "t-objects", OrgID: "org-test", Labels: map[string]string{"env": "prod"}, Quotas: tenant.Quotas{MaxObjects: &one}},
		{ID: "t-deploys", OrgID: "org-test", Labels: map[string]string{"env": "prod"}, Quotas: tenant.Quotas{MaxDeploymentsPerDay: &one}},
	} {
		if res, err := e.svc.Provision(ctx, req); err != nil || res.Status != tenant.StatusActive {
			t.Fatalf("provision %s: %+v %v", req.ID, res, err)
		}
	}
	r := e.reconciler(Options{})
	cfg := []byte("apiVersion: objectstack.ai/v1\nfailurePolicy: {mode: continue}\ntargets:\n  - bundles: [core, extra]\n    selector: {labels: {env: prod}}\n")
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": cfg}, coreBundle("1.0.0"), namedBundle("extra", "extra_item")))
	e.remote.Commit("two objects")
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oc := outcomes(sum)
	if oc["t-objects"] != OutcomeFailed {
		t.Fatalf("two objects over maxObjects 1: %+v", sum)
	}
	msg := e.status("t-objects").Message
	mustContain(t, msg, "[quota_exceeded]")
	mustContain(t, msg, "maxObjects quota of 1")
	if hasTable(t, e.db("t-objects"), "note") || hasTable(t, e.db("t-objects"), "extra_item") {
		t.Fatal("t-objects: a refused revision must apply nothing")
	}
	// One revision of two bundles records two deployments: over a quota of one as well.
	if oc["t-deploys"] != OutcomeFailed {
		t.Fatalf("two deployments over maxDeploymentsPerDay 1: %+v", sum)
	}
	mustContain(t, e.status("t-deploys").Message, "[quota_exceeded]")
	mustContain(t, e.status("t-deploys").Message, "maxDeploymentsPerDay quota of 1")

	// One bundle: the first deployment of the day fits, the second push the same day does not.
	cfg = []byte("apiVersion: objectstack.ai/v1\nfailurePolicy: {mode: continue}\ntargets:\n  - bundles: [core]\n    selector: {labels: {env: prod}}\n")
	e.remote.Write(map[string][]byte{"objectstack.yaml": cfg, "bundles/extra": nil})
	e.remote.Commit("one bundle")
	if sum, err = r.Once(ctx); err != nil || outcomes(sum)["t-deploys"] != OutcomeApplied || outcomes(sum)["t-objects"] != OutcomeApplied {
		t.Fatalf("one bundle: %+v %v", sum, err)
	}
	e.remote.Write(coreBundle("1.1.0", "due: { type: date, label: Due }"))
	e.remote.Commit("second deployment today")
	if sum, err = r.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if oc := outcomes(sum); oc["t-deploys"] != OutcomeFailed || oc["t-objects"] != OutcomeApplied {
		t.Fatalf("second deployment the same day: %+v", sum)
	}
	msg = e.status("t-deploys").Message
	mustContain(t, msg, "[quota_exceeded]")
	mustContain(t, msg, "1 deployment(s) today")
	if n := e.deployments("t-deploys", "", ""); n != 1 {
		t.Fatalf("t-deploys has %d deployments, want 1", n)
	}
}
