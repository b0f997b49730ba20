package tenant_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestBackends runs the same suite against the local backend and against the Turso backend
// talking to `objectstack dev` through libsql-client-go and real HTTP on loopback.
func TestBackends(t *testing.T) {
	suite := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"ProvisionGetListIdempotent", testProvision},
		{"ResumeAfterCrashAtEveryStep", testResumeAfterCrash},
		{"RowWithoutDatabaseGetsItOnRerun", testRowWithoutDatabase},
		{"SuspendBlocksWritesResumeRestores", testSuspendResume},
		{"DestroyImmediateWithBackup", testDestroyImmediate},
		{"DestroyGracePeriodThenPurge", testGracePeriod},
		{"UpdateInvalidatesRouter", testUpdate},
		{"Quotas", testQuotas},
		{"BadInputCreatesNothing", testBadInput},
		{"ForeignDatabasesAreNotAdopted", testOwnership},
		{"ConcurrentProvisionOfOneTenant", testConcurrentSameTenant},
		{"BatchedListAndWarm", testBatchedListAndWarm},
	}
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t, backend)) })
			}
		})
	}
}

func withBundle(r tenant.Request, b *bundle.Bundle) tenant.Request {
	r.Bundle = b
	return r
}

func count(t *testing.T, ctx context.Context, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`"`).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func testProvision(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	res := mustProvision(t, ctx, s, withBundle(req("acme"), testBundle(3, true)))
	if res.TenantID != "acme" || res.Plan != tenant.PlanFree || res.Region != tenant.DefaultRegion || res.ProvisionedAt == "" {
		t.Fatalf("result %+v: want tenant acme, plan free, region us-east, provisionedAt set", res)
	}
	wantPrefix := map[string]string{"local": "file:", "dev": "http://"}[e.name]
	if !strings.HasPrefix(res.ConnectionURL, wantPrefix) {
		t.Fatalf("connectionUrl %q: want prefix %s", res.ConnectionURL, wantPrefix)
	}
	var names []string
	for _, st := range res.Steps {
		names = append(names, st.Name)
		if st.Status != tenant.StepCompleted || st.StartedAt == "" || st.CompletedAt == "" || st.DurationMs == nil || st.Error != "" {
			t.Fatalf("step %+v: want completed with timestamps and duration", st)
		}
	}
	if !slices.Equal(names, tenant.StepNames) {
		t.Fatalf("steps %v, want %v", names, tenant.StepNames)
	}
	js, _ := json.Marshal(res)
	for _, key := range []string{`"tenantId"`, `"connectionUrl"`, `"totalDurationMs"`, `"startedAt"`, `"durationMs"`} {
		if !strings.Contains(string(js), key) {
			t.Fatalf("result JSON %s lacks %s", js, key)
		}
	}

	got, err := s.Get(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != tenant.StatusActive || got.OrgID != "org-1" || got.DatabaseName != "acme" || got.Labels["tier"] != "gold" || got.DatabaseURL == "" {
		t.Fatalf("tenant %+v", got)
	}
	db, err := s.DB(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, ctx, db, "obj_00"); n != 2 {
		t.Fatalf("seeded rows %d, want 2", n)
	}
	count(t, ctx, db, "obj_02")
	var owner string
	if err := db.QueryRowContext(ctx, `SELECT tenant_id FROM _objectstack_tenant WHERE id = 1`).Scan(&owner); err != nil || owner != "acme" {
		t.Fatalf("ownership marker: %q, %v", owner, err)
	}

	// Idempotent: the same request again changes nothing and duplicates nothing.
	res2, err := s.Provision(ctx, withBundle(req("acme"), testBundle(3, true)))
	if err != nil || res2.Status != tenant.StatusActive {
		t.Fatalf("re-provision: %v %+v", err, res2)
	}
	if dbs := databaseNames(t, ctx, e.plat); !slices.Equal(dbs, []string{"acme"}) {
		t.Fatalf("databases %v, want [acme]", dbs)
	}
	if n := count(t, ctx, db, "obj_00"); n != 2 {
		t.Fatalf("rows after re-provision %d, want 2", n)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}

	mustProvision(t, ctx, s, tenant.Request{ID: "beta", OrgID: "org-2", Plan: tenant.PlanPro, Region: "eu-west"})
	for _, tc := range []struct {
		f    tenant.Filter
		want []string
	}{
		{tenant.Filter{}, []string{"acme", "beta"}},
		{tenant.Filter{Labels: map[string]string{"tier": "gold"}}, []string{"acme"}},
		{tenant.Filter{Plan: tenant.PlanPro}, []string{"beta"}},
		{tenant.Filter{Region: "eu-west", Status: tenant.StatusActive}, []string{"beta"}},
		{tenant.Filter{Status: tenant.StatusSuspended}, nil},
	} {
		ts, err := s.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range ts {
			ids = append(ids, x.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("list %+v = %v, want %v", tc.f, ids, tc.want)
		}
	}
	if _, err := s.List(ctx, tenant.Filter{Plan: "gold"}); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("list with bad plan: %v", err)
	}

	// The token is stored encrypted.
	sealed, err := tenant.SealedToken(ctx, s, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if e.name == "dev" && (!strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "eyJ")) {
		t.Fatalf("stored token is not sealed: %.12q…", sealed)
	}
}

var errCrash = errors.New("simulated crash")

func testResumeAfterCrash(t *testing.T, e *env) {
	ctx := testCtx(t)
	for _, step := range tenant.StepNames {
		id := "crash-" + strings.ReplaceAll(step, "_", "-")
		crashing := e.service(t)
		tenant.SetAfterStep(crashing, func(s string) error {
			if s == step {
				return errCrash
			}
			return nil
		})
		if _, err := crashing.Provision(ctx, withBundle(req(id), testBundle(3, true))); !errors.Is(err, errCrash) {
			t.Fatalf("%s: provision: %v, want the simulated crash", step, err)
		}
		crashing.Close()

		s := e.service(t) // a fresh process
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: the registry row must exist after a crash: %v", step, err)
		}
		if step != tenant.StepActivate && got.Status != tenant.StatusProvisioning {
			t.Fatalf("%s: status after crash %s", step, got.Status)
		}
		res := mustProvision(t, ctx, s, withBundle(req(id), testBundle(3, true)))
		for _, st := range res.Steps {
			if st.Status != tenant.StepCompleted {
				t.Fatalf("%s: resumed step %+v", step, st)
			}
		}
		db, err := s.DB(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, ctx, db, "obj_00"); n != 2 {
			t.Fatalf("%s: %d seeded rows after resume, want 2", step, n)
		}
	}
	dbs := databaseNames(t, ctx, e.plat)
	if len(dbs) != len(tenant.StepNames) {
		t.Fatalf("databases %v: want exactly one per tenant", dbs)
	}
	ts, err := e.service(t).List(ctx, tenant.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(tenant.StepNames) {
		t.Fatalf("%d registry rows, want %d", len(ts), len(tenant.StepNames))
	}
}

func testRowWithoutDatabase(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	tenant.SetAfterStep(s, func(step string) error {
		if step == tenant.StepRegisterTenant {
			return errCrash
		}
		return nil
	})
	if _, err := s.Provision(ctx, req("lost")); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	// Someone deleted the database behind our back: the row must not stay an orphan.
	if err := e.plat.DeleteDatabase(ctx, "lost"); err != nil {
		t.Fatal(err)
	}
	tenant.SetAfterStep(s, nil)
	mustProvision(t, ctx, s, req("lost"))
	if _, err := e.plat.GetDatabase(ctx, "lost"); err != nil {
		t.Fatalf("database not re-created: %v", err)
	}
	db, err := s.DB(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

// openWith opens the tenant database the way an outside client would: its URL plus a token.
func openWith(t *testing.T, e *env, tn *tenant.Tenant, tok platform.Token) *sql.DB {
	t.Helper()
	db, err := platform.Open(e.plat, &platform.Database{Name: tn.DatabaseName, URL: tn.DatabaseURL}, tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func insert(ctx context.Context, db *sql.DB, id string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO obj_00 (id, name) VALUES (?, ?)`, id, "rec-"+id)
	return err
}

func testSuspendResume(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	mustProvision(t, ctx, s, withBundle(req("sus"), testBundle(1, false)))
	before, err := s.DB(ctx, "sus")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, before, "r1"); err != nil {
		t.Fatalf("write while active: %v", err)
	}
	full, err := s.Token(ctx, "sus", platform.ScopeFullAccess, "1h")
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := s.Get(ctx, "sus")
	viaToken := openWith(t, e, tn, full)
	if err := insert(ctx, viaToken, "r2"); err != nil {
		t.Fatalf("write through a full-access token while active: %v", err)
	}

	if err := s.Suspend(ctx, "sus"); err != nil {
		t.Fatal(err)
	}
	if tn, _ := s.Get(ctx, "sus"); tn.Status != tenant.StatusSuspended {
		t.Fatalf("status %s", tn.Status)
	}
	if err := insert(ctx, before, "r3"); err == nil {
		t.Fatal("a handle handed out before suspend still writes: the router did not invalidate it")
	}
	after, err := s.DB(ctx, "sus")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, after, "r4"); err == nil {
		t.Fatal("suspended tenant accepted a write through its handle")
	}
	if n := count(t, ctx, after, "obj_00"); n != 2 {
		t.Fatalf("reads while suspended: %d rows, want 2", n)
	}
	// The token minted before suspension: rotated away (dev) or read-only file (local).
	stale := openWith(t, e, tn, full)
	if err := insert(ctx, stale, "r5"); err == nil {
		t.Fatal("a write through a pre-suspend token succeeded")
	}
	if _, err := s.Token(ctx, "sus", platform.ScopeFullAccess, ""); !errors.Is(err, tenant.ErrState) {
		t.Fatalf("full-access token for a suspended tenant: %v, want ErrState", err)
	}
	ro, err := s.Token(ctx, "sus", platform.ScopeReadOnly, "1h")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, openWith(t, e, tn, ro), "r6"); err == nil {
		t.Fatal("a write through a read-only token succeeded")
	}
	if err := s.Suspend(ctx, "sus"); err != nil {
		t.Fatalf("suspend twice: %v", err)
	}

	if err := s.Resume(ctx, "sus"); err != nil {
		t.Fatal(err)
	}
	resumed, err := s.DB(ctx, "sus")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, resumed, "r7"); err != nil {
		t.Fatalf("write after resume: %v", err)
	}
	tok, err := s.Token(ctx, "sus", platform.ScopeFullAccess, "1h")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, openWith(t, e, tn, tok), "r8"); err != nil {
		t.Fatalf("write through a new token after resume: %v", err)
	}
	if n := count(t, ctx, resumed, "obj_00"); n != 4 {
		t.Fatalf("%d rows, want 4 (r1, r2, r7, r8)", n)
	}
	if err := s.Resume(ctx, "sus"); err != nil {
		t.Fatalf("resume an active tenant: %v", err)
	}
	if err := s.Suspend(ctx, "missing"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("suspend missing: %v", err)
	}
}

func backups(t *testing.T, e *env, id string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(e.dataDir, tenant.BackupDir, id+"-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// restoredCount loads a backup (SQLite file or SQL dump) into a fresh database and counts a table.
func restoredCount(t *testing.T, ctx context.Context, path, table string) int {
	t.Helper()
	if strings.HasSuffix(path, ".db") {
		db, err := database.Open(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return count(t, ctx, db, table)
	}
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, string(script)); err != nil {
		t.Fatalf("restore %s: %v", path, err)
	}
	return count(t, ctx, db, table)
}

func testDestroyImmediate(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	mustProvision(t, ctx, s, withBundle(req("gone"), testBundle(2, true)))
	if err := s.Destroy(ctx, "gone", tenant.DestroyOptions{Immediate: true, Backup: true}); err != nil {
		t.Fatal(err)
	}
	tn, err := s.Get(ctx, "gone")
	if err != nil {
		t.Fatalf("the registry row must remain: %v", err)
	}
	if tn.Status != tenant.StatusArchived || tn.BackupPath == "" {
		t.Fatalf("after destroy: %+v", tn)
	}
	files := backups(t, e, "gone")
	if len(files) != 1 || files[0] != tn.BackupPath {
		t.Fatalf("backups %v, want exactly %s", files, tn.BackupPath)
	}
	if n := restoredCount(t, ctx, tn.BackupPath, "obj_00"); n != 2 {
		t.Fatalf("backup holds %d rows, want 2", n)
	}
	if _, err := e.plat.GetDatabase(ctx, "gone"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("database still exists: %v", err)
	}
	if _, err := s.DB(ctx, "gone"); !errors.Is(err, tenant.ErrState) {
		t.Fatalf("DB of an archived tenant: %v", err)
	}
	if err := s.Destroy(ctx, "gone", tenant.DestroyOptions{Immediate: true}); err != nil {
		t.Fatalf("destroy twice: %v", err)
	}
	if _, err := s.Provision(ctx, req("gone")); !errors.Is(err, tenant.ErrState) {
		t.Fatalf("re-provisioning an archived id: %v, want ErrState", err)
	}
	// Without backup nothing is written to backups/.
	mustProvision(t, ctx, s, req("nobak"))
	if err := s.Destroy(ctx, "nobak", tenant.DestroyOptions{Immediate: true}); err != nil {
		t.Fatal(err)
	}
	if b := backups(t, e, "nobak"); len(b) != 0 {
		t.Fatalf("unexpected backups %v", b)
	}
}

func testGracePeriod(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	mustProvision(t, ctx, s, withBundle(req("later"), testBundle(1, true)))
	mustProvision(t, ctx, s, withBundle(req("saved"), testBundle(1, true)))
	for _, id := range []string{"later", "saved"} {
		if err := s.Destroy(ctx, id, tenant.DestroyOptions{GracePeriod: time.Hour, Backup: true}); err != nil {
			t.Fatal(err)
		}
	}
	tn, _ := s.Get(ctx, "later")
	if tn.Status != tenant.StatusDestroying || tn.PurgeAfter == nil || tn.PurgeAfter.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("after destroy with grace: %+v", tn)
	}
	db, err := s.DB(ctx, "later")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, db, "x"); err == nil {
		t.Fatal("a tenant in its deletion grace period accepted a write")
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("purge before the grace period ended: %d, %v", n, err)
	}
	if err := s.Resume(ctx, "saved"); err != nil {
		t.Fatalf("resume cancels destroy: %v", err)
	}
	e.clock.advance(2 * time.Hour)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge after the grace period: %d, %v; want 1", n, err)
	}
	tn, _ = s.Get(ctx, "later")
	if tn.Status != tenant.StatusArchived || tn.PurgeAfter != nil {
		t.Fatalf("after purge: %+v", tn)
	}
	if b := backups(t, e, "later"); len(b) != 1 {
		t.Fatalf("backups %v, want one", b)
	}
	if _, err := e.plat.GetDatabase(ctx, "later"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("purged database still exists: %v", err)
	}
	saved, _ := s.Get(ctx, "saved")
	if saved.Status != tenant.StatusActive {
		t.Fatalf("resumed tenant: %+v", saved)
	}
	sdb, err := s.DB(ctx, "saved")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, sdb, "y"); err != nil {
		t.Fatalf("write after cancelled destroy: %v", err)
	}
	if err := s.Destroy(ctx, "saved", tenant.DestroyOptions{GracePeriod: -time.Second}); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("negative grace period: %v", err)
	}
}

func testUpdate(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	mustProvision(t, ctx, s, req("upd"))
	c, err := s.Router().Lookup(ctx, "upd")
	if err != nil || c.Plan != tenant.PlanFree || c.Status != tenant.StatusActive || c.Region != "us-east" || c.DBURL == "" {
		t.Fatalf("resolved %+v, %v", c, err)
	}
	plan, name := tenant.PlanEnterprise, "Renamed"
	limit := int64(8 << 20)
	labels := map[string]string{"tier": "platinum"}
	tn, err := s.Update(ctx, "upd", tenant.Update{Plan: &plan, DisplayName: &name, Labels: &labels, Quotas: &tenant.Quotas{MaxStorageBytes: &limit}})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Plan != plan || tn.DisplayName != name || tn.Labels["tier"] != "platinum" || tn.Quotas.MaxStorageBytes == nil {
		t.Fatalf("updated %+v", tn)
	}
	if c, _ := s.Router().Lookup(ctx, "upd"); c.Plan != plan {
		t.Fatalf("router still answers plan %s after update", c.Plan)
	}
	d, err := e.plat.GetDatabase(ctx, "upd")
	if err != nil {
		t.Fatal(err)
	}
	if e.name == "local" && d.SizeLimit != "8388608" {
		t.Fatalf("size limit %q not pushed to the platform", d.SizeLimit)
	}
	bad := "gold"
	if _, err := s.Update(ctx, "upd", tenant.Update{Plan: &bad}); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("update to an unknown plan: %v", err)
	}
	zero := int64(0)
	if _, err := s.Update(ctx, "upd", tenant.Update{Quotas: &tenant.Quotas{MaxObjects: &zero}}); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("update to a zero quota: %v", err)
	}
	if tn, _ := s.Get(ctx, "upd"); tn.Plan != plan {
		t.Fatalf("a refused update changed the tenant: %+v", tn)
	}
}

func i64(v int64) *int64 { return &v }

func testQuotas(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	r := withBundle(req("quota"), testBundle(3, true))
	r.Quotas = tenant.Quotas{MaxObjects: i64(3), MaxRecordsPerObject: i64(2), MaxStorageBytes: i64(64 << 20), MaxDeploymentsPerDay: i64(1), MaxUsers: i64(5)}
	mustProvision(t, ctx, s, r)
	check := func(quota string, requested int64, allowed bool, current int64) tenant.QuotaEnforcementResult {
		t.Helper()
		res, err := s.CheckQuota(ctx, "quota", quota, requested)
		if err != nil {
			t.Fatalf("check %s: %v", quota, err)
		}
		if res.Allowed != allowed || (current >= 0 && res.CurrentUsage != current) {
			t.Fatalf("check %s +%d = %+v; want allowed=%v current=%d", quota, requested, res, allowed, current)
		}
		if !allowed && (res.ExceededQuota == "" || res.Message == "" || res.Limit == nil) {
			t.Fatalf("denial without details: %+v", res)
		}
		return res
	}
	check(tenant.QuotaMaxObjects, 0, true, 3)
	check(tenant.QuotaMaxObjects, 1, false, 3)
	check(tenant.QuotaMaxRecordsPerObject, 0, true, 2)
	check(tenant.QuotaMaxRecordsPerObject, 1, false, 2)
	check(tenant.QuotaMaxRecordsPerObject+":obj_01", 2, true, 0)
	check(tenant.QuotaMaxDeploymentsPerDay, 1, false, 1)
	check(tenant.QuotaMaxUsers, 5, true, 0)
	check(tenant.QuotaMaxUsers, 6, false, 0)
	if res := check("maxStorage", 1, true, -1); res.CurrentUsage <= 0 {
		t.Fatalf("storage usage %d, want > 0", res.CurrentUsage)
	}
	check(tenant.QuotaMaxStorageBytes, 64<<20, false, -1)
	if res := check(tenant.QuotaAPIRateLimit, 1000, true, 0); res.Limit != nil {
		t.Fatalf("unset quota has a limit: %+v", res)
	}
	for _, q := range []string{"maxWidgets", "maxObjects:obj_00", "maxRecordsPerObject:nope"} {
		if _, err := s.CheckQuota(ctx, "quota", q, 1); !errors.Is(err, tenant.ErrInvalid) {
			t.Fatalf("quota %q: %v, want ErrInvalid", q, err)
		}
	}
	if _, err := s.CheckQuota(ctx, "quota", tenant.QuotaMaxObjects, -1); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("negative request: %v", err)
	}
	u, err := s.Usage(ctx, "quota")
	if err != nil {
		t.Fatal(err)
	}
	if u.CurrentObjectCount != 3 || u.CurrentRecordCount != 2 || u.DeploymentsToday != 1 || u.CurrentStorageBytes <= 0 {
		t.Fatalf("usage %+v", u)
	}
}

func testBadInput(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	mustProvision(t, ctx, s, tenant.Request{ID: "acme-corp", OrgID: "org-1"})
	badBundle := testBundle(1, false)
	badBundle.Objects[0].Fields[1].Type = "bogus"
	cases := []struct {
		name string
		r    tenant.Request
		want error
		msg  string
	}{
		{"empty id", tenant.Request{OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"digit first", tenant.Request{ID: "1acme", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"too short", tenant.Request{ID: "a", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"too long", tenant.Request{ID: "a" + strings.Repeat("b", 41), OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"space", tenant.Request{ID: "acme corp", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"dot", tenant.Request{ID: "acme.corp", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"non-ascii", tenant.Request{ID: "äcme", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"slash", tenant.Request{ID: "acme/../x", OrgID: "o"}, tenant.ErrInvalid, "id"},
		{"no org", tenant.Request{ID: "fine"}, tenant.ErrInvalid, "orgId"},
		{"unknown plan", tenant.Request{ID: "fine", OrgID: "o", Plan: "starter"}, tenant.ErrInvalid, "plan"},
		{"unknown region", tenant.Request{ID: "fine", OrgID: "o", Region: "us-east-1"}, tenant.ErrInvalid, "region"},
		{"zero quota", tenant.Request{ID: "fine", OrgID: "o", Quotas: tenant.Quotas{MaxObjects: i64(0)}}, tenant.ErrInvalid, "quotas.maxObjects"},
		{"negative quota", tenant.Request{ID: "fine", OrgID: "o", Quotas: tenant.Quotas{MaxStorageBytes: i64(-1)}}, tenant.ErrInvalid, "quotas.maxStorageBytes"},
		{"bad email", tenant.Request{ID: "fine", OrgID: "o", AdminEmail: "nope"}, tenant.ErrInvalid, "adminEmail"},
		{"bad label", tenant.Request{ID: "fine", OrgID: "o", Labels: map[string]string{"bad key!": "x"}}, tenant.ErrInvalid, "labels"},
		{"invalid bundle", tenant.Request{ID: "fine", OrgID: "o", Bundle: badBundle}, tenant.ErrInvalid, "bundle"},
		{"collides after normalisation", tenant.Request{ID: "Acme_Corp", OrgID: "org-1"}, tenant.ErrConflict, `normalises to "acme-corp"`},
		{"collides with upper case", tenant.Request{ID: " ACME-CORP ", OrgID: "org-1"}, tenant.ErrConflict, "already exists"},
		{"other organization", tenant.Request{ID: "acme-corp", OrgID: "org-2"}, tenant.ErrConflict, "organization"},
	}
	for _, tc := range cases {
		res, err := s.Provision(ctx, tc.r)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v; want %v mentioning %q", tc.name, err, tc.want, tc.msg)
		}
		if res != nil {
			t.Errorf("%s: got a result %+v for a refused request", tc.name, res)
		}
	}
	var q tenant.Quotas
	if err := json.Unmarshal([]byte(`{"maxStorage": 5, "maxStorageBytes": 6}`), &q); !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), "maxStorage") {
		t.Errorf("maxStorage≠maxStorageBytes: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"maxStorage": 7}`), &q); err != nil || q.MaxStorageBytes == nil || *q.MaxStorageBytes != 7 {
		t.Errorf("maxStorage alias: %v %+v", err, q)
	}
	if err := json.Unmarshal([]byte(`{"maxStorage": 7, "maxStorageBytes": 7}`), &q); err != nil {
		t.Errorf("equal maxStorage and maxStorageBytes: %v", err)
	}
	if b, _ := json.Marshal(q); string(b) != `{"maxStorageBytes":7}` {
		t.Errorf("quotas marshal %s: want only maxStorageBytes", b)
	}

	// Nothing was created: one row, one database, no stray files.
	ts, err := s.List(ctx, tenant.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID != "acme-corp" {
		t.Fatalf("registry %+v, want only acme-corp", ts)
	}
	if dbs := databaseNames(t, ctx, e.plat); !slices.Equal(dbs, []string{"acme-corp"}) {
		t.Fatalf("databases %v, want only acme-corp", dbs)
	}
	if l, ok := e.plat.(*platform.Local); ok {
		entries, _ := os.ReadDir(l.Dir())
		for _, en := range entries {
			if !strings.HasPrefix(en.Name(), "acme-corp.") {
				t.Fatalf("stray file %s in %s", en.Name(), l.Dir())
			}
		}
	}

	// Normalisation accepts a fresh id and the same spelling again.
	res := mustProvision(t, ctx, s, tenant.Request{ID: "Beta_Co", OrgID: "org-1"})
	if res.TenantID != "beta-co" {
		t.Fatalf("normalised id %s", res.TenantID)
	}
	mustProvision(t, ctx, s, tenant.Request{ID: "Beta_Co", OrgID: "org-1"})
	if _, err := s.Get(ctx, "BETA_CO"); err != nil {
		t.Fatal(err)
	}
}

func testOwnership(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	seed := func(name, stmts string) { foreignDatabase(t, ctx, e, name, stmts) }
	seed("foreign", `CREATE TABLE payroll (x); INSERT INTO payroll VALUES (1)`)
	seed("claimed", `CREATE TABLE _objectstack_tenant (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, claimed_at TEXT NOT NULL); INSERT INTO _objectstack_tenant VALUES (1, 'someone-else', '2026-01-01T00:00:00Z')`)
	seed("empty", ``)
	for _, id := range []string{"foreign", "claimed"} {
		if _, err := s.Provision(ctx, req(id)); !errors.Is(err, tenant.ErrConflict) {
			t.Fatalf("provision over %s database: %v, want ErrConflict", id, err)
		}
		if _, err := s.Get(ctx, id); !errors.Is(err, tenant.ErrNotFound) {
			t.Fatalf("%s: a refused provisioning left a registry row: %v", id, err)
		}
	}
	// An empty database (a run that died before writing its marker) is adopted.
	mustProvision(t, ctx, s, req("empty"))
	if dbs := databaseNames(t, ctx, e.plat); !slices.Equal(dbs, []string{"claimed", "empty", "foreign"}) {
		t.Fatalf("databases %v", dbs)
	}
}

// testConcurrentSameTenant provisions one tenant from two services (two processes sharing the
// control plane) and several goroutines each, at once: one database, one row, seeds not doubled.
func testConcurrentSameTenant(t *testing.T, e *env) {
	ctx := testCtx(t)
	services := []*tenant.Service{e.service(t), e.service(t)}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		s := services[i%2]
		go func() {
			var err error
			for a := 0; a < 5; a++ { // a loser of a race may see a transient conflict; callers retry
				var res *tenant.Result
				res, err = s.Provision(ctx, withBundle(req("race"), testBundle(2, true)))
				if err == nil && res.Status == tenant.StatusActive {
					break
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if dbs := databaseNames(t, ctx, e.plat); !slices.Equal(dbs, []string{"race"}) {
		t.Fatalf("databases %v", dbs)
	}
	db, err := services[0].DB(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, ctx, db, "obj_00"); n != 2 {
		t.Fatalf("%d seed rows, want 2", n)
	}
}

func TestRegionMapsToGroup(t *testing.T) {
	e := newEnv(t, "local")
	ctx := testCtx(t)
	// As on Turso, the group must exist before databases go into it.
	if _, err := e.plat.(platform.Groups).CreateGroup(ctx, platform.GroupOptions{Name: "europe"}); err != nil {
		t.Fatal(err)
	}
	s := e.service(t, func(c *tenant.Config) { c.Regions = map[string]string{"eu-west": "europe"} })
	mustProvision(t, ctx, s, tenant.Request{ID: "eu-tenant", OrgID: "o", Region: "eu-west"})
	mustProvision(t, ctx, s, tenant.Request{ID: "us-tenant", OrgID: "o"})
	for id, group := range map[string]string{"eu-tenant": "europe", "us-tenant": "default"} {
		d, err := e.plat.GetDatabase(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		tn, _ := s.Get(ctx, id)
		if d.Group != group || tn.Group != group {
			t.Fatalf("%s: platform group %s, registry group %s; want %s", id, d.Group, tn.Group, group)
		}
	}
	if _, err := tenant.Open(ctx, tenant.Config{DataDir: t.TempDir(), Platform: e.plat, Regions: map[string]string{"mars": "x"}}); err == nil {
		t.Fatal("a region map with an unknown region was accepted")
	}
}

// TestControlPlaneOnLibSQL keeps the tenant registry in a remote libSQL database (a database on
// the dev server, reached over Hrana) instead of control.db, as several reconciler replicas would.
func TestControlPlaneOnLibSQL(t *testing.T) {
	e := newEnv(t, "dev")
	ctx := testCtx(t)
	d, err := e.plat.CreateDatabase(ctx, platform.CreateOptions{Name: "control-plane"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.plat.CreateToken(ctx, d.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(c *tenant.Config) { c.ControlURL, c.ControlToken = d.URL, tok.JWT }
	s := e.service(t, cfg)
	mustProvision(t, ctx, s, withBundle(req("remote"), testBundle(2, true)))
	mustProvision(t, ctx, s, withBundle(req("remote"), testBundle(2, true)))
	if err := s.Suspend(ctx, "remote"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dataDir, tenant.ControlFile)); !os.IsNotExist(err) {
		t.Fatalf("control.db was created although the control plane is remote: %v", err)
	}
	s2 := e.service(t, cfg) // a second replica sees the same registry
	ts, err := s2.List(ctx, tenant.Filter{Status: tenant.StatusSuspended})
	if err != nil || len(ts) != 1 || ts[0].ID != "remote" {
		t.Fatalf("second replica: %+v, %v", ts, err)
	}
}

// testBatchedListAndWarm: the batched registry read answers like List, and Warm opens every listed tenant
// from one registry read — suspended ones read-only, unknown ids left to DB to report.
func testBatchedListAndWarm(t *testing.T, e *env) {
	ctx := testCtx(t)
	s := e.service(t)
	for _, id := range []string{"wa", "wb", "wc"} {
		mustProvision(t, ctx, s, withBundle(req(id), testBundle(1, false)))
	}
	if err := s.Suspend(ctx, "wc"); err != nil {
		t.Fatal(err)
	}
	f := tenant.Filter{Labels: map[string]string{"tier": "gold"}, Status: tenant.StatusActive}
	res, err := database.For(s.ControlDB()).Read(ctx, []database.Stmt{tenant.ListStmt(f)})
	if err != nil {
		t.Fatal(err)
	}
	batched, err := tenant.DecodeList(res[0], f)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := s.List(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(batched) != 2 || !reflect.DeepEqual(batched, direct) {
		t.Fatalf("batched list %+v, List %+v", batched, direct)
	}

	fresh := e.service(t) // an empty handle cache
	if err := fresh.Warm(ctx, []string{"wa", "wb", "wc", "nobody", "Not An Id"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"wa": true, "wb": true, "wc": true, "nobody": false} {
		if got := fresh.Router().Cached(id); got != want {
			t.Fatalf("%s cached = %v, want %v", id, got, want)
		}
	}
	db, err := fresh.DB(ctx, "wa")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, db, "w1"); err != nil {
		t.Fatalf("write through a warmed handle: %v", err)
	}
	sus, err := fresh.DB(ctx, "wc")
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, sus, "w2"); err == nil {
		t.Fatal("a warmed handle of a suspended tenant accepted a write")
	}
	if _, err := fresh.DB(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("unknown tenant after Warm: %v", err)
	}
}
