package schema

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// TestRestorePointOnlyForDestructiveDeployments: a deployment that drops a column records the time
// just before its transaction (the hook's answer); one that only adds records none.
func TestRestorePointOnlyForDestructiveDeployments(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText)))

	add := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText), fld("more", bundle.TypeText)))
	called := 0
	hook := func(context.Context) (time.Time, error) {
		called++
		return time.Date(2026, 12, 1, 8, 0, 0, 5, time.UTC), nil
	}
	res, err := Apply(ctx, db, add, ApplyOptions{RestorePoint: hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.RestorePoint != "" || called != 0 {
		t.Fatalf("additive deployment: restore point %q, hook called %d times; want none", res.RestorePoint, called)
	}
	if _, err := DeploymentRestorePoint(ctx, db, res.DeploymentID); !errors.Is(err, ErrNoRestorePoint) {
		t.Fatalf("additive deployment's restore point: %v; want ErrNoRestorePoint", err)
	}

	drop := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText), fld("more", bundle.TypeText)))
	res, err = Apply(ctx, db, drop, ApplyOptions{Allow: []DestructiveKind{DropColumn}, RestorePoint: hook})
	if err != nil {
		t.Fatal(err)
	}
	const want = "2026-12-01T08:00:00.000000005Z"
	if called != 1 || res.RestorePoint != want {
		t.Fatalf("destructive deployment: restore point %q (hook called %d times); want %s", res.RestorePoint, called, want)
	}
	d, err := DeploymentRestorePoint(ctx, db, res.DeploymentID)
	if err != nil || d.RestorePoint != want || d.Owner != owner {
		t.Fatalf("recorded: %+v, %v", d, err)
	}
	if _, err := DeploymentRestorePoint(ctx, db, "dep-missing"); !errors.Is(err, ErrDeploymentNotFound) {
		t.Fatalf("missing deployment: %v", err)
	}
}

// TestRestorePointMigratesOldRegistry: a registry created before the restore_point column gains it
// with its first destructive deployment, in the same transaction; its older rows read as "none".
func TestRestorePointMigratesOldRegistry(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	first := mustApply(t, db, owner, nil, obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText)))
	_ = first
	execT(t, db, `ALTER TABLE _objectstack_deployments DROP COLUMN restore_point`) // as an older engine left it
	deps, err := Deployments(ctx, db, owner)
	if err != nil || len(deps) != 1 {
		t.Fatalf("deployments of an old registry: %v %v", deps, err)
	}
	if _, err := DeploymentRestorePoint(ctx, db, deps[0].ID); !errors.Is(err, ErrNoRestorePoint) {
		t.Fatalf("old row: %v; want ErrNoRestorePoint", err)
	}
	drop := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText)))
	res, err := Apply(ctx, db, drop, ApplyOptions{Allow: []DestructiveKind{DropColumn}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := DeploymentRestorePoint(ctx, db, res.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, d.RestorePoint)
	if err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Fatalf("restore point %q is not the time just before the apply: %v", d.RestorePoint, err)
	}
	if again := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText))); !again.UpToDate {
		t.Fatalf("not converged: %s", planSQL(again))
	}
}

// TestRestorePointHookFailureAppliesNothing: a destructive change is not made when its restore
// point cannot be recorded.
func TestRestorePointHookFailureAppliesNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText)))
	execT(t, db, `INSERT INTO a (id, keep, gone) VALUES ('1', 'k', 'g')`)
	drop := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText)))
	_, err := Apply(ctx, db, drop, ApplyOptions{Allow: []DestructiveKind{DropColumn},
		RestorePoint: func(context.Context) (time.Time, error) { return time.Time{}, errors.New("disk full") }})
	if err == nil || !contains(err.Error(), "disk full") || !contains(err.Error(), "nothing was applied") {
		t.Fatalf("err = %v", err)
	}
	var g string
	if err := db.QueryRow(`SELECT gone FROM a WHERE id = '1'`).Scan(&g); err != nil || g != "g" {
		t.Fatalf("column gone after a refused apply: %q %v", g, err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestRestorePointOnCompactedState: a State compacted for a fleet rollout still knows the registry
// has the restore_point column, so a destructive batch does not try to add it again.
func TestRestorePointOnCompactedState(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText)))
	st, err := ReadState(ctx, db, ReadOptions{Owners: []Owner{owner}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Plan(owner, []bundle.Object{obj("a", fld("keep", bundle.TypeText))})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(st.Compact(), "rollout")
	if _, err := b.AddPlan(p, ApplyOptions{Allow: []DestructiveKind{DropColumn}}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Commit(ctx, db)
	if err != nil {
		t.Fatalf("destructive batch on a compacted state: %v", err)
	}
	if res.Deployments[0].RestorePoint == "" {
		t.Fatal("no restore point recorded")
	}
}
