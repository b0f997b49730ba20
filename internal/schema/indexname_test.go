package schema

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Index names share one namespace per database, but the generated ones are built from table and column
// names joined with "_", so a.b_c and a_b.c both want idx_a_b_c; another owner's table may also hold a
// same-named index. Such a plan can never apply, so planning must refuse it and name both sides.
func TestIndexNameCollisionIsAPlanError(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "ix.db")
	a := obj("a", fld("b_c", bundle.TypeText, indexed))
	ab := obj("a_b", fld("c", bundle.TypeText, indexed))
	_, err := PlanOwner(ctx, db, BundleOwner("x"), []bundle.Object{a, ab}, PlanOptions{})
	var pe *PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "idx_a_b_c") || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("same generated index name on two tables of one plan: want a PlanError naming idx_a_b_c and table a, got %v", err)
	}

	// Across owners: the first owner's index is in the database when the second plans.
	mustApply(t, db, BundleOwner("x"), nil, a)
	_, err = PlanOwner(ctx, db, BundleOwner("y"), []bundle.Object{ab}, PlanOptions{})
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "idx_a_b_c") {
		t.Fatalf("index name held by another owner's table: want a PlanError naming idx_a_b_c, got %v", err)
	}

	// The same index on its own table is no collision: re-planning the first owner is up to date.
	if p := mustPlan(t, db, BundleOwner("x"), a); !p.UpToDate {
		t.Fatalf("re-plan of an applied bundle is not up to date:\n%s", planSQL(p))
	}
}
