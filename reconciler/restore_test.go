package reconciler

import (
	"context"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestRestoreUndoesADestructiveRollout (issue 10 item 5): a push that drops a column (allowed) is rolled out
// by the reconciler on the local backend; the deployment records a restore point backed by a snapshot taken
// before the transaction, and `tenant restore --before-deployment` brings the dropped column's data back.
func TestRestoreUndoesADestructiveRollout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{id: "t-canary", labels: map[string]string{"env": "prod"}}})
	r := e.reconciler(Options{Concurrency: 1})
	cfg := repoConfig("allowDestructive: [drop_column]\n")
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": cfg}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("first push: %+v %v", sum, err)
	}
	if _, err := e.db("t-canary").ExecContext(ctx, `INSERT INTO note (id, title, body) VALUES ('n1', 'Kept', 'the body to bring back')`); err != nil {
		t.Fatal(err)
	}
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": cfg}, coreBundle("1.1.0", "-body")))
	e.remote.Commit("drop body")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("drop push: %+v %v", sum, err)
	}
	deps, err := schema.Deployments(ctx, e.db("t-canary"), schema.BundleOwner("core"))
	if err != nil || len(deps) == 0 {
		t.Fatalf("deployments: %v %v", deps, err)
	}
	drop := deps[len(deps)-1]
	if drop.Version != "1.1.0" {
		t.Fatalf("last deployment is %s %s, want the 1.1.0 drop", drop.ID, drop.Version)
	}
	dep, err := schema.DeploymentRestorePoint(ctx, e.db("t-canary"), drop.ID)
	if err != nil || dep.RestorePoint == "" {
		t.Fatalf("the destructive rollout recorded no restore point: %+v %v", dep, err)
	}
	if _, err := e.svc.Restore(ctx, "t-canary", tenant.RestoreOptions{BeforeDeployment: drop.ID}); err != nil {
		t.Fatalf("restore before %s: %v", drop.ID, err)
	}
	var body string
	if err := e.db("t-canary").QueryRowContext(ctx, `SELECT body FROM note WHERE id = 'n1'`).Scan(&body); err != nil || body != "the body to bring back" {
		t.Fatalf("after the restore: body %q %v, want the dropped column's value back", body, err)
	}
}
