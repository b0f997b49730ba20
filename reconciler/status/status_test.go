package status

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// openStore opens the store on a control plane of the given kind: a local file, or a database on a
// loopback `objectstack dev` server reached over Hrana (the shared control plane of several replicas).
func openStore(t *testing.T, kind string) *Store {
	t.Helper()
	ctx := context.Background()
	var db *sql.DB
	var err error
	switch kind {
	case "file":
		db, err = database.Open(filepath.Join(t.TempDir(), "control.db"), "")
	case "hrana":
		run, serr := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: "dev"})
		if serr != nil {
			t.Fatal(serr)
		}
		t.Cleanup(run.Stop)
		plat, perr := platform.NewTurso(platform.TursoConfig{BaseURL: run.URL, Organization: "acme", APIToken: "dev"})
		if perr != nil {
			t.Fatal(perr)
		}
		d, cerr := plat.CreateDatabase(ctx, platform.CreateOptions{Name: "control"})
		if cerr != nil {
			t.Fatal(cerr)
		}
		tok, terr := plat.CreateToken(ctx, d.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
		if terr != nil {
			t.Fatal(terr)
		}
		db, err = database.Open(d.URL, tok.JWT)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, db); err != nil {
		t.Fatalf("migrations must be idempotent: %v", err)
	}
	return s
}

// TestStore runs every store test against a local file and over Hrana.
func TestStore(t *testing.T) {
	tests := map[string]func(*testing.T, *Store){
		"HistoryIsBounded":                  testHistoryIsBounded,
		"LeasesAreExclusiveUntilExpiry":     testLeasesAreExclusiveUntilExpiry,
		"RolloutResumeAndSupersede":         testRolloutResumeAndSupersede,
		"BatchCommitsTogether":              testBatchCommitsTogether,
		"ConcurrentBeginAgreesOnOneRollout": testConcurrentBeginAgreesOnOneRollout,
	}
	for _, kind := range []string{"file", "hrana"} {
		t.Run(kind, func(t *testing.T) {
			for name, fn := range tests {
				t.Run(name, func(t *testing.T) { fn(t, openStore(t, kind)) })
			}
		})
	}
}

func testHistoryIsBounded(t *testing.T, s *Store) {
	ctx := context.Background()
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

func testLeasesAreExclusiveUntilExpiry(t *testing.T, s *Store) {
	ctx := context.Background()
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

func testRolloutResumeAndSupersede(t *testing.T, s *Store) {
	ctx := context.Background()
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

// TestBatchCommitsTogether: one Write carries a source, many tenant updates (a later update of the same
// tenant wins; history is trimmed across the batch; tasks and leases follow) and the rollout state.
func testBatchCommitsTogether(t *testing.T, s *Store) {
	ctx := context.Background()
	ro, _, err := s.StartRollout(ctx, "main@sha1:1", "sha256:1", map[string]string{"a": "rest", "b": "rest"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AcquireLeases(ctx, "me", []string{"a", "b"}, time.Minute); err != nil || len(got) != 2 {
		t.Fatalf("leases: %v %v", got, err)
	}
	var ups []Update
	for i := 0; i < 15; i++ {
		ups = append(ups, Update{Status: Tenant{TenantID: "a", Condition: Ready, Message: fmt.Sprintf("m%02d", i)},
			History: &HistoryEntry{Revision: fmt.Sprintf("r%02d", i), Result: "applied"}})
	}
	ups = append(ups, Update{Status: Tenant{TenantID: "a", Condition: Ready, Message: "last"}, RolloutID: ro.ID, TaskState: TaskApplied, ReleaseHolder: "me"})
	err = s.Write(ctx, Batch{Source: &Source{Repo: "r", Revision: "main@sha1:1", Valid: true}, Updates: ups,
		Rollout: &RolloutState{ID: ro.ID, State: RolloutCompleted, Wave: "rest"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tenants) != 1 || o.Tenants[0].Message != "last" || len(o.Tenants[0].History) != HistoryLimit || o.Tenants[0].History[0].Revision != "r14" {
		t.Fatalf("tenants: %+v", o.Tenants)
	}
	if o.Rollout == nil || o.Rollout.State != RolloutCompleted || o.Rollout.Tasks["a"] != TaskApplied || o.Rollout.Tasks["b"] != TaskPending {
		t.Fatalf("rollout: %+v", o.Rollout)
	}
	if len(o.Sources) != 1 || !o.Sources[0].Valid || o.Sources[0].Revision != "main@sha1:1" {
		t.Fatalf("sources: %+v", o.Sources)
	}
	// a's lease went with its update, b's is still held.
	if got, err := s.AcquireLeases(ctx, "other", []string{"a", "b"}, time.Minute); err != nil || !got["a"] || got["b"] {
		t.Fatalf("after the batch: %v %v", got, err)
	}
	// A failing batch leaves nothing behind: the source write is rolled back with it.
	if _, err := s.DB().ExecContext(ctx, `CREATE TRIGGER boom BEFORE INSERT ON reconcile_status WHEN NEW.tenant_id = 'boom'
		BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, Batch{Source: &Source{Repo: "r", Revision: "main@sha1:2"}, Rollout: &RolloutState{ID: ro.ID, State: RolloutFailed},
		Updates: []Update{{Status: Tenant{TenantID: "c", Condition: Ready}}, {Status: Tenant{TenantID: "boom", Condition: Ready}}}})
	if err == nil || !strings.Contains(err.Error(), "refused by test trigger") {
		t.Fatalf("the batch should fail on the trigger: %v", err)
	}
	if _, ok, _ := s.Get(ctx, "c"); ok {
		t.Fatal("a failed batch left the update before the failing one")
	}
	if src, _ := s.Sources(ctx); src[0].Revision != "main@sha1:1" {
		t.Fatalf("a failed batch left its source write: %+v", src)
	}
}

// TestConcurrentBeginAgreesOnOneRollout: replicas starting the same revision at once share one rollout.
func testConcurrentBeginAgreesOnOneRollout(t *testing.T, s *Store) {
	ctx := context.Background()
	ids := make(chan int64, 4)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r, _, err := s.Begin(ctx, RolloutStart{Revision: "main@sha1:9", Digest: "sha256:9", Tasks: map[string]string{"t": "rest"}, Wave: "rest"})
			if err != nil {
				errs <- err
				return
			}
			ids <- r.ID
		}()
	}
	var first int64
	for i := 0; i < 4; i++ {
		select {
		case err := <-errs:
			t.Fatal(err)
		case id := <-ids:
			if first == 0 {
				first = id
			} else if id != first {
				t.Fatalf("rollouts %d and %d for one revision", first, id)
			}
		}
	}
	ro, err := s.LatestRollout(ctx)
	if err != nil || ro.ID != first || ro.Wave != "rest" || ro.State != RolloutRunning {
		t.Fatalf("latest: %+v %v", ro, err)
	}
}
