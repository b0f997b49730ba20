package tenant

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// TestStaleWriterLoses: two processes read the same row; the second save (from stale data) is
// refused with ErrConflict instead of overwriting the first.
func TestStaleWriterLoses(t *testing.T) {
	ctx := context.Background()
	st := controlPlane(t)
	if err := st.migrate(ctx); err != nil {
		t.Fatalf("migrating twice: %v", err)
	}
	r := &row{Tenant: Tenant{ID: "cas", OrgID: "o", Plan: PlanFree, Region: DefaultRegion, Status: StatusActive, DatabaseName: "cas"}, requestedID: "cas"}
	if ok, err := st.insert(ctx, r); err != nil || !ok {
		t.Fatalf("insert: %v %v", ok, err)
	}
	if ok, err := st.insert(ctx, r); err != nil || ok {
		t.Fatalf("second insert of the same id: %v %v; want a quiet no-op", ok, err)
	}
	a, _ := st.get(ctx, "cas")
	b, _ := st.get(ctx, "cas")
	a.Status = StatusSuspended
	if err := st.save(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Status = StatusFailed
	if err := st.save(ctx, b); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	got, _ := st.get(ctx, "cas")
	if got.Status != StatusSuspended {
		t.Fatalf("status %s: the stale writer overwrote the row", got.Status)
	}
	a.DisplayName = "again"
	if err := st.save(ctx, a); err != nil {
		t.Fatalf("a writer with fresh data: %v", err)
	}
	other := &row{Tenant: Tenant{ID: "other", OrgID: "o", Plan: PlanFree, Region: DefaultRegion, Status: StatusActive, DatabaseName: "cas"}, requestedID: "other"}
	if _, err := st.insert(ctx, other); !errors.Is(err, ErrConflict) {
		t.Fatalf("two tenants on one database: %v, want ErrConflict", err)
	}
}

func TestSecretBox(t *testing.T) {
	key := make([]byte, 32)
	box, err := newSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.seal("t1", "eyJsecret.eyJpayload.sig")
	if err != nil {
		t.Fatal(err)
	}
	if sealed == "" || sealed == "eyJsecret.eyJpayload.sig" {
		t.Fatalf("sealed %q", sealed)
	}
	if pt, err := box.open("t1", sealed); err != nil || pt != "eyJsecret.eyJpayload.sig" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := box.open("t2", sealed); err == nil {
		t.Fatal("a ciphertext moved to another tenant decrypted")
	}
	if _, err := newSecretBox(key[:16]); err == nil {
		t.Fatal("short key accepted")
	}
}

// TestProvisioningClaimIsExclusive: the claim is taken by one holder at a time, renewed by its holder,
// and taken over by another only once it has expired.
func TestProvisioningClaimIsExclusive(t *testing.T) {
	ctx := context.Background()
	st := controlPlane(t)
	for _, step := range []struct {
		holder string
		ttl    time.Duration
		want   bool
	}{
		{"a", time.Minute, true},       // free
		{"b", time.Minute, false},      // a holds it
		{"a", -time.Millisecond, true}, // a renews it (already expired, for the next step)
		{"b", time.Minute, true},       // expired: b takes over
		{"a", time.Minute, false},      // b holds it now
	} {
		got, err := st.claim(ctx, "acme", step.holder, step.ttl)
		if err != nil || got != step.want {
			t.Fatalf("claim by %s: %v, %v; want %v", step.holder, got, err, step.want)
		}
	}
	if h, err := st.claimHolder(ctx, "acme"); err != nil || h != "b" {
		t.Fatalf("claimHolder = %q, %v; want b", h, err)
	}
	if err := st.unclaim(ctx, "acme", "b"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.claim(ctx, "acme", "a", time.Minute); err != nil || !got {
		t.Fatalf("claim after release: %v, %v", got, err)
	}
}

// controlPlane is a migrated control-plane store in a fresh SQLite file.
func controlPlane(t *testing.T) *store {
	t.Helper()
	db, err := database.Open(filepath.Join(t.TempDir(), "control.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &store{db: db}
	if err := st.migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// A control plane from before unfinished restores — its tenant_restores created by a restore, in the
// table's first shape — gains the columns when it is migrated, and its rows read as finished restores. A
// second process migrating from the same version at the same time finds the columns there.
func TestRestoreRecordsOfAnOlderControlPlane(t *testing.T) {
	ctx := context.Background()
	st := controlPlane(t)
	before := len(migrations) - 2 // the version before the two columns
	if _, err := st.db.ExecContext(ctx, `DROP TABLE tenant_restores`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, migrations[before-1]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `INSERT INTO tenant_restores (tenant_id, deployment_id, restore_point, old_database, new_database, restored_at)
	VALUES ('acme', 'dep-1', '2026-12-01T00:00:00Z', 'acme', 'acme-r20261201000000', '2026-12-01T00:00:01Z')`); err != nil {
		t.Fatal(err)
	}
	rs := restoreStore{db: st.db}
	for range 2 {
		if _, err := st.db.ExecContext(ctx, `UPDATE tenant_registry_version SET version = ?`, before); err != nil {
			t.Fatal(err)
		}
		if err := st.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		recs, err := rs.list(ctx, "acme")
		if err != nil || len(recs) != 1 || recs[0].Unfinished || recs[0].NewDatabase != "acme-r20261201000000" {
			t.Fatalf("restores of an older control plane = %+v, %v", recs, err)
		}
	}
}
