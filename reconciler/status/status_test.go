package status

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	db, err := database.Open(filepath.Join(t.TempDir(), "control.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatalf("migrations must be idempotent: %v", err)
	}
	return s
}

func TestHistoryIsBounded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for i := 0; i < 25; i++ {
		st := Tenant{TenantID: "acme", Condition: Ready, Reason: ReasonApplied, LastAppliedRevision: fmt.Sprintf("main@sha1:%02d", i),
			Owners: map[string]string{"bundle:crm": "abc"}}
		if err := s.Record(ctx, []Update{{Status: st, History: &HistoryEntry{Revision: st.LastAppliedRevision, Result: "applied"}}}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Get(ctx, "acme")
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if len(got.History) != HistoryLimit || got.History[0].Revision != "main@sha1:24" || got.History[HistoryLimit-1].Revision != "main@sha1:15" {
		t.Fatalf("history: %d entries, newest %q", len(got.History), got.History[0].Revision)
	}
	if got.Owners["bundle:crm"] != "abc" || got.LastAppliedRevision != "main@sha1:24" {
		t.Fatalf("status row: %+v", got)
	}
}

func TestLeasesAreExclusiveUntilExpiry(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a, err := s.AcquireLeases(ctx, "a", []string{"t1", "t2"}, time.Minute)
	if err != nil || !a["t1"] || !a["t2"] {
		t.Fatalf("a: %v %v", a, err)
	}
	b, err := s.AcquireLeases(ctx, "b", []string{"t1", "t2", "t3"}, time.Minute)
	if err != nil || b["t1"] || b["t2"] || !b["t3"] {
		t.Fatalf("b must get only the free tenant: %v %v", b, err)
	}
	again, err := s.AcquireLeases(ctx, "a", []string{"t1"}, time.Minute)
	if err != nil || !again["t1"] {
		t.Fatalf("a renews its own lease: %v %v", again, err)
	}
	if err := s.ReleaseLeases(ctx, "a", []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	b, err = s.AcquireLeases(ctx, "b", []string{"t1"}, time.Minute)
	if err != nil || !b["t1"] {
		t.Fatalf("released lease: %v %v", b, err)
	}
	// An expired lease is taken over.
	if _, err := s.AcquireLeases(ctx, "c", []string{"t9"}, -time.Second); err != nil {
		t.Fatal(err)
	}
	b, err = s.AcquireLeases(ctx, "b", []string{"t9"}, time.Minute)
	if err != nil || !b["t9"] {
		t.Fatalf("expired lease: %v %v", b, err)
	}
}

func TestRolloutResumeAndSupersede(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	r1, resumed, err := s.StartRollout(ctx, "main@sha1:1", "sha256:1", map[string]string{"t1": "canary", "t2": "rest"})
	if err != nil || resumed || len(r1.Tasks) != 2 {
		t.Fatalf("start: %+v %v %v", r1, resumed, err)
	}
	if err := s.Record(ctx, []Update{{Status: Tenant{TenantID: "t1", Condition: Ready}, RolloutID: r1.ID, TaskState: TaskApplied}}); err != nil {
		t.Fatal(err)
	}
	r2, resumed, err := s.StartRollout(ctx, "main@sha1:1", "sha256:1", map[string]string{"t2": "rest"})
	if err != nil || !resumed || r2.ID != r1.ID || r2.Tasks["t1"] != TaskApplied || r2.Tasks["t2"] != TaskPending {
		t.Fatalf("resume: %+v %v %v", r2, resumed, err)
	}
	r3, resumed, err := s.StartRollout(ctx, "main@sha1:2", "sha256:2", map[string]string{"t1": "canary"})
	if err != nil || resumed || r3.ID == r1.ID {
		t.Fatalf("new revision: %+v %v %v", r3, resumed, err)
	}
	latest, err := s.LatestRollout(ctx)
	if err != nil || latest.ID != r3.ID || latest.State != RolloutRunning {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	var state string
	if err := s.DB().QueryRowContext(ctx, `SELECT state FROM reconcile_rollouts WHERE id = ?`, r1.ID).Scan(&state); err != nil || state != RolloutSuperseded {
		t.Fatalf("old rollout state %q %v", state, err)
	}
}
