package reconciler

import (
	"context"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// TestPreflightStopsRolloutAtPlan: a revision adds a unique index whose existing rows in the canary tenant are
// duplicated. The plan phase (real git repository, real tenant files) reads the canary's data, fails the canary
// with the rule, object, field, count and samples, and the failure policy halts the other waves: no tenant gets
// the migration, no deployment (not even a failed one) is written anywhere. The review (objectstack plan --repo)
// says the same. Once the rows are fixed the same revision converges everywhere.
func TestPreflightStopsRolloutAtPlan(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, prodTenants)
	r := e.reconciler(Options{Concurrency: 4})
	targeted := []string{"t-canary", "t-a", "t-b", "t-c", "t-d", "t-e"}

	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0", "code: { type: text, label: Code }")))
	e.remote.Commit("core 1.0.0")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("first push: %+v %v", sum, err)
	}
	if _, err := e.db("t-canary").Exec(`INSERT INTO note (id, title, code) VALUES ('n1','a','X-1'),('n2','b','X-1'),('n3','c','X-2'),('n4','d',NULL),('n5','e',NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db("t-a").Exec(`INSERT INTO note (id, title, code) VALUES ('n1','a','X-1'),('n2','b','X-2')`); err != nil {
		t.Fatal(err)
	}

	e.remote.Write(coreBundle("1.1.0", "code: { type: text, label: Code, unique: true }"))
	e.remote.Commit("code unique")
	md := review(t, r)
	mustContain(t, md, "#### Pre-flight: the data would fail the migration")
	mustContain(t, md, "- `t-canary`:")
	mustContain(t, md, "bundle:core [unique] note.code: 1 duplicate key(s) (2 rows) in table note would fail the new unique index uq_note_code on (code), e.g. code='X-1' (2 rows)")

	var order []string
	r = e.reconciler(Options{Concurrency: 4, OnTenant: func(res TenantResult) { order = append(order, res.TenantID+":"+res.Outcome) }})
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oc := outcomes(sum)
	if sum.OK() || oc["t-canary"] != OutcomeFailed || sum.Halted != 5 || sum.Applied != 0 {
		t.Fatalf("rollout: %+v", sum)
	}
	if len(order) == 0 || order[0] != "t-canary:"+OutcomeFailed {
		t.Fatalf("outcomes in order: %v", order)
	}
	st := e.status("t-canary")
	if st.Condition != status.Stalled || st.Reason != status.ReasonPlanFailed {
		t.Fatalf("canary status: %+v", st)
	}
	for _, want := range []string{"pre-flight", "[unique] note.code", "1 duplicate key(s)", "code='X-1' (2 rows)"} {
		mustContain(t, st.Message, want)
	}
	for _, id := range targeted {
		if n := e.deployments(id, core, ""); n != 1 {
			t.Fatalf("%s: %d deployments after the refused revision (want the first only)", id, n)
		}
		var ix int
		if err := e.db(id).QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'uq_note_code'`).Scan(&ix); err != nil || ix != 0 {
			t.Fatalf("%s got the unique index: %d %v", id, ix, err)
		}
	}

	// The canary's rows fixed: the same revision converges.
	if _, err := e.db("t-canary").Exec(`UPDATE note SET code = 'X-3' WHERE id = 'n2'`); err != nil {
		t.Fatal(err)
	}
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("after the fix: %+v %v", sum, err)
	}
	if strings.Contains(review(t, r), "Pre-flight") {
		t.Fatal("review still reports a pre-flight failure")
	}
}
