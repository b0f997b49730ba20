package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// TestPreflightOverHrana: the checks run through `objectstack dev` (Hrana) in one read and find what they find on
// a file: duplicates for a new unique index (a plan error), a type change every value survives (no allowance
// needed, and the apply over Hrana goes through once the duplicates are gone).
func TestPreflightOverHrana(t *testing.T) {
	ctx := context.Background()
	db, _ := openHrana(t)
	owner := schema.BundleOwner("crm")
	v1 := []bundle.Object{{Name: "account", Fields: []bundle.Field{{Key: "email", Type: bundle.TypeText}, {Key: "tier", Type: bundle.TypeText}}}}
	v2 := []bundle.Object{{Name: "account", Fields: []bundle.Field{{Key: "email", Type: bundle.TypeText, Unique: true}, {Key: "tier", Type: bundle.TypeNumber}}}}
	plan := func(objs []bundle.Object) *schema.Plan {
		t.Helper()
		p, err := schema.PlanOwner(ctx, db, owner, objs, schema.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := schema.Apply(ctx, db, plan(v1), schema.ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO account (id, email, tier) VALUES ('a1','x@y','1'),('a2','x@y','2'),('a3','q@y',NULL)`); err != nil {
		t.Fatal(err)
	}
	p := plan(v2)
	err := schema.Preflight(ctx, db, p)
	pe, ok := schema.AsPreflightError(err)
	if !ok || len(pe.Failures) != 1 || pe.Failures[0].Rule != schema.RuleUnique || pe.Failures[0].Count != 1 ||
		!strings.Contains(err.Error(), "email='x@y' (2 rows)") || !strings.Contains(err.Error(), "account.email") {
		t.Fatalf("over Hrana: %v", err)
	}
	if len(p.Preflight.Lossless) != 1 || p.Preflight.Checks != 2 {
		t.Fatalf("report %+v", p.Preflight)
	}
	if _, err := db.ExecContext(ctx, `UPDATE account SET email = 'z@y' WHERE id = 'a2'`); err != nil {
		t.Fatal(err)
	}
	p = plan(v2)
	if err := schema.Preflight(ctx, db, p); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test"}); err != nil {
		t.Fatalf("apply of a lossless type change without lossy_type_change, over Hrana: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM account WHERE typeof(tier) = 'real'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("converted values: %d %v", n, err)
	}
}
