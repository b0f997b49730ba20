package schema

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

func hasChange(p *Plan, entity, parent, name, kind string) bool {
	for _, c := range p.Diff.Changes {
		if c.EntityType == entity && c.ParentEntity == parent && c.EntityName == name && c.ChangeType == kind {
			return true
		}
	}
	return false
}

func TestDriftShowsUpAsChanges(t *testing.T) {
	ctx := context.Background()
	owner := BundleOwner("crm")
	objs := supportObjects()
	cases := []struct {
		name   string
		drift  string
		entity string
		parent string
		key    string
		change string
		kind   DestructiveKind
	}{
		{"dropped index", `DROP INDEX "idx_support_ticket_contact_email"`, EntityIndex, "support_ticket", "idx_support_ticket_contact_email", ChangeAdded, ""},
		{"extra index", `CREATE INDEX "handmade" ON "account" ("name")`, EntityIndex, "account", "handmade", ChangeRemoved, ""},
		{"added column", `ALTER TABLE "account" ADD COLUMN "hack" TEXT`, EntityField, "account", "hack", ChangeRemoved, DropColumn},
		{"dropped column", `ALTER TABLE "ticket_comment" DROP COLUMN "sentiment"`, EntityField, "ticket_comment", "sentiment", ChangeAdded, ""},
		{"changed type", `CREATE TABLE "_x" ("id" TEXT PRIMARY KEY, "created_at" TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "updated_at" TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "name" INTEGER NOT NULL DEFAULT 'x"; DROP TABLE y; --') ;; INSERT INTO "_x" SELECT * FROM "account" ;; DROP TABLE "account" ;; ALTER TABLE "_x" RENAME TO "account" ;; CREATE UNIQUE INDEX "uq_account_name" ON "account" ("name")`, EntityField, "account", "name", ChangeModified, ""},
		{"dropped table", `DROP TABLE "ticket_comment"`, EntityObject, "", "ticket_comment", ChangeAdded, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t, "d.db")
			mustApply(t, db, owner, nil, objs...)
			execT(t, db, `INSERT INTO account (id, name) VALUES ('a1', 'Acme')`)
			for _, s := range strings.Split(tc.drift, " ;; ") {
				execT(t, db, s)
			}
			p := mustPlan(t, db, owner, objs...)
			if p.UpToDate || !hasChange(p, tc.entity, tc.parent, tc.key, tc.change) {
				t.Fatalf("drift not reported as %s %s %s.%s: %+v", tc.change, tc.entity, tc.parent, tc.key, p.Diff.Changes)
			}
			if tc.kind != "" && (len(p.Destructive) != 1 || p.Destructive[0].Kind != tc.kind) {
				t.Fatalf("destructive %+v", p.Destructive)
			}
			if _, err := Apply(ctx, db, p, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
				t.Fatalf("repair: %v\n%s", err, planSQL(p))
			}
			if again := mustPlan(t, db, owner, objs...); !again.UpToDate {
				t.Fatalf("not converged after repair: %+v\n%s", again.Diff.Changes, planSQL(again))
			}
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM account WHERE id = 'a1'`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("row lost: %d %v\n%s", n, err, planSQL(p))
			}
		})
	}
}

func TestDestructiveRefusalNamesEveryChange(t *testing.T) {
	ctx := context.Background()
	db, path := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil,
		obj("a", fld("keep", bundle.TypeText), fld("gone", bundle.TypeText), fld("num", bundle.TypeText), fld("widen", bundle.TypeNumber)),
		obj("b", fld("x", bundle.TypeText)))
	execT(t, db, `INSERT INTO a (id, keep, gone, num, widen) VALUES ('1', 'k', 'g', '12', 3.5)`)
	before, _ := os.ReadFile(path)
	p := mustPlan(t, db, owner, obj("a", fld("keep", bundle.TypeText), fld("num", bundle.TypeNumber), fld("widen", bundle.TypeText)))
	if !p.Diff.HasBreakingChanges || len(p.Destructive) != 3 {
		t.Fatalf("destructive: %+v", p.Destructive)
	}
	_, err := Apply(ctx, db, p, ApplyOptions{Allow: []DestructiveKind{DropColumn}})
	var de *DestructiveError
	if !errors.As(err, &de) || len(de.Refused) != 2 {
		t.Fatalf("want 2 refused, got %v", err)
	}
	for _, want := range []string{"drop_table b", "lossy_type_change a.num"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "drop_column") || strings.Contains(err.Error(), "a.widen") {
		t.Errorf("refusal names an allowed or lossless change: %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("refused apply modified the database file")
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
		t.Fatal(err)
	}
	var num float64
	var widen string
	if err := db.QueryRow(`SELECT num, widen FROM a WHERE id = '1'`).Scan(&num, &widen); err != nil || num != 12 || widen != "3.5" {
		t.Fatalf("converted values %v %q %v", num, widen, err)
	}
}

func TestOwnerScoping(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	execT(t, db, `CREATE TABLE unmanaged (id TEXT PRIMARY KEY, v TEXT)`)
	mustApply(t, db, BundleOwner("a"), nil, obj("a_one", fld("x", bundle.TypeText)))
	mustApply(t, db, AppOwner("helpdesk"), nil, obj("hd_ticket", fld("y", bundle.TypeText, indexed)))
	mustApply(t, db, BundleOwner("b"), nil, obj("b_one", fld("z", bundle.TypeText)))
	// Bundle a now declares nothing but a new object: it may drop its own table, never others'.
	p := mustPlan(t, db, BundleOwner("a"), obj("a_two", fld("x", bundle.TypeText)))
	for _, s := range p.Migration.Statements {
		if s.Object != "a_one" && s.Object != "a_two" {
			t.Fatalf("plan of bundle:a touches %s: %s", s.Object, s.SQL)
		}
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
		t.Fatal(err)
	}
	s, _ := introspect(ctx, db)
	for _, tn := range []string{"unmanaged", "hd_ticket", "b_one", "a_two"} {
		if s.Tables[tn] == nil {
			t.Fatalf("table %s is gone", tn)
		}
	}
	if s.Tables["a_one"] != nil {
		t.Fatal("a_one was not dropped")
	}
	// Claiming another owner's object is an object_conflict and nothing is planned.
	_, err := PlanOwner(ctx, db, BundleOwner("b"), []bundle.Object{obj("b_one"), obj("hd_ticket")}, PlanOptions{})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "object_conflict: object hd_ticket is owned by app:helpdesk") {
		t.Fatalf("want object_conflict, got %v", err)
	}
	// An unmanaged table is adopted by the first owner that declares it.
	p = mustPlan(t, db, BundleOwner("b"), obj("b_one", fld("z", bundle.TypeText)), obj("unmanaged", fld("v", bundle.TypeText)))
	if _, err := Apply(ctx, db, p, ApplyOptions{}); err != nil {
		t.Fatalf("adopt: %v\n%s", err, planSQL(p))
	}
	regs, err := RegisteredObjects(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]Owner{}
	for _, r := range regs {
		owners[r.Name] = r.Owner
	}
	if owners["unmanaged"] != BundleOwner("b") || owners["hd_ticket"] != AppOwner("helpdesk") || owners["a_two"] != BundleOwner("a") {
		t.Fatalf("registry owners %v", owners)
	}
	if _, err := PlanOwner(ctx, db, BundleOwner("a"), []bundle.Object{obj("unmanaged")}, PlanOptions{}); !errors.As(err, &ce) {
		t.Fatalf("adopted table is now owned: want conflict, got %v", err)
	}
}

func TestRequiredFieldWithoutDefaultOnExistingTable(t *testing.T) {
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText)))
	_, err := PlanOwner(context.Background(), db, owner, []bundle.Object{obj("account", fld("name", bundle.TypeText), fld("code", bundle.TypeText, required))}, PlanOptions{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Object != "account" || pe.Field != "code" || !strings.Contains(err.Error(), "account.code") || !strings.Contains(err.Error(), "defaultValue") {
		t.Fatalf("want planning error naming account.code and the fix, got %v", err)
	}
	// With a default it is a native ADD COLUMN.
	p := mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText), fld("code", bundle.TypeText, required, def("n/a"))))
	if len(p.Migration.Statements) != 1 || p.Migration.Statements[0].Kind != KindAddColumn {
		t.Fatalf("want one ADD COLUMN, got:\n%s", planSQL(p))
	}
}

func TestLockRefusesOtherHolder(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	if err := AcquireLock(ctx, db, "reconciler-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := AcquireLock(ctx, db, "terraform", time.Minute); err == nil {
		t.Fatal("second holder acquired the lease")
	}
	p := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText)))
	_, err := Apply(ctx, db, p, ApplyOptions{Holder: "terraform"})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "reconciler-1" {
		t.Fatalf("want LockedError by reconciler-1, got %v", err)
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Holder: "reconciler-1"}); err != nil {
		t.Fatalf("holder's own apply: %v", err)
	}
	if err := ReleaseLock(ctx, db, "reconciler-1"); err != nil {
		t.Fatal(err)
	}
	if err := AcquireLock(ctx, db, "terraform", time.Millisecond); err != nil {
		t.Fatalf("after release: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := AcquireLock(ctx, db, "reconciler-1", time.Minute); err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText)))
	p := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText), fld("code", bundle.TypeText)))
	execT(t, db, `CREATE INDEX hand ON account (name)`)
	if _, err := Apply(ctx, db, p, ApplyOptions{}); !errors.Is(err, ErrStalePlan) {
		t.Fatalf("want ErrStalePlan, got %v", err)
	}
	s, _ := introspect(ctx, db)
	if _, ok := s.Tables["account"].column("code"); ok {
		t.Fatal("stale plan was applied")
	}
}

func TestFailedStatementRollsBackEverything(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText)))
	execT(t, db, `INSERT INTO account (id, name) VALUES ('1', 'same'), ('2', 'same')`)
	// A new table, a new column, and a unique index the data violates: the whole plan must vanish.
	p := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText, unique), fld("code", bundle.TypeText)), obj("other"))
	res, err := Apply(ctx, db, p, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || res == nil || res.FailedAtIndex == nil || !strings.Contains(ae.Statement, "uq_account_name") {
		t.Fatalf("want ApplyError at the unique index, got %v (%+v)", err, res)
	}
	if *res.FailedAtIndex != ae.FailedAtIndex || res.Status != StatusFailed {
		t.Fatalf("result %+v", res)
	}
	s, _ := introspect(ctx, db)
	if s.Tables["other"] != nil {
		t.Fatal("table from the failed plan exists")
	}
	if _, ok := s.Tables["account"].column("code"); ok {
		t.Fatal("column from the failed plan exists")
	}
	deps, err := Deployments(ctx, db, owner)
	if err != nil || len(deps) != 2 || deps[1].Status != StatusFailed || deps[1].Error == "" {
		t.Fatalf("failed deployment not recorded: %+v %v", deps, err)
	}
	// InTx errors roll the DDL back too.
	execT(t, db, `DELETE FROM account WHERE id = '2'`)
	p = mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText, unique)))
	_, err = Apply(ctx, db, p, ApplyOptions{InTx: func(ctx context.Context, tx *sql.Tx) error { return errors.New("seed failed") }})
	if err == nil || !strings.Contains(err.Error(), "seed failed") {
		t.Fatalf("want InTx error, got %v", err)
	}
	if again := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText, unique))); len(again.Migration.Statements) != 1 {
		t.Fatalf("InTx failure left DDL behind:\n%s", planSQL(again))
	}
}

func TestRollbackRestoresSchemaWithData(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	v1 := []bundle.Object{obj("account", fld("name", bundle.TypeText), fld("score", bundle.TypeNumber))}
	v2 := []bundle.Object{
		obj("account", fld("name", bundle.TypeText, required, def("?")), fld("score", bundle.TypeText), fld("tier", bundle.TypeText, def("gold"))),
		obj("contact", fld("account", bundle.TypeLookup, ref("account"))),
	}
	mustApply(t, db, owner, nil, v1...)
	execT(t, db, `INSERT INTO account (id, name, score) VALUES ('1', 'Acme', 7.5), ('2', NULL, 3)`)
	v1Shape := describeSchema(t, db)
	p2 := mustPlan(t, db, owner, v2...)
	res, err := Apply(ctx, db, p2, ApplyOptions{Version: "2.0.0", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	execT(t, db, `INSERT INTO account (id, name, score, tier) VALUES ('3', 'New', '9', 'silver')`)
	// Rolling back needs drop_table (contact) and drop_column (tier), and a lossy text→number change.
	if _, err := Rollback(ctx, db, res.DeploymentID, ApplyOptions{}); err == nil {
		t.Fatal("rollback applied destructive changes without allowance")
	}
	rb, err := Rollback(ctx, db, res.DeploymentID, ApplyOptions{Allow: AllDestructiveKinds})
	if err != nil {
		t.Fatal(err)
	}
	if got := describeSchema(t, db); got != v1Shape {
		t.Fatalf("schema after rollback:\n%s\nwant:\n%s", got, v1Shape)
	}
	rows, err := db.Query(`SELECT id, name, score FROM account ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, name string
		var score float64
		var n sql.NullString
		if err := rows.Scan(&id, &n, &score); err != nil {
			t.Fatal(err)
		}
		name = n.String
		got = append(got, id+":"+name+":"+strconv.FormatFloat(score, 'g', -1, 64))
	}
	rows.Close()
	if strings.Join(got, ",") != "1:Acme:7.5,2:?:3,3:New:9" {
		t.Fatalf("rows after rollback: %v", got)
	}
	sum, _ := OwnerChecksum(ctx, db, owner)
	p1 := mustPlan(t, db, owner, v1...)
	if !p1.UpToDate || sum != p1.Checksum {
		t.Fatalf("registry not restored: up to date %v", p1.UpToDate)
	}
	deps, _ := Deployments(ctx, db, owner)
	last := deps[len(deps)-1]
	if last.ID != rb.DeploymentID || last.Source != "rollback:"+res.DeploymentID || last.Status != StatusReady {
		t.Fatalf("rollback deployment %+v", last)
	}
	// The rolled-back deployment cannot be rolled back twice; the first one can be now (it is next on the stack).
	if _, err := Rollback(ctx, db, res.DeploymentID, ApplyOptions{Allow: AllDestructiveKinds}); err == nil {
		t.Fatal("rolled back twice")
	}
	if _, err := Rollback(ctx, db, deps[0].ID, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
		t.Fatalf("roll back the first deployment: %v", err)
	}
	if s, _ := introspect(ctx, db); len(s.Tables) != 0 {
		t.Fatalf("tables left after rolling back to nothing: %v", sortedKeys(s.Tables))
	}
}

func TestRollbackRefusesWhileLaterDeploymentInPlace(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("a"))
	mustApply(t, db, owner, nil, obj("a", fld("x", bundle.TypeText)))
	deps, _ := Deployments(ctx, db, owner)
	if _, err := Rollback(ctx, db, deps[0].ID, ApplyOptions{Allow: AllDestructiveKinds}); err == nil || !strings.Contains(err.Error(), deps[1].ID) {
		t.Fatalf("want refusal naming %s, got %v", deps[1].ID, err)
	}
}

func TestRollbackRefusesAppDeployments(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := AppOwner("helpdesk")
	mustApply(t, db, owner, nil, obj("ticket"))
	mustApply(t, db, owner, nil, obj("ticket", fld("x", bundle.TypeText)))
	deps, _ := Deployments(ctx, db, owner)
	before := describeSchema(t, db)
	_, err := Rollback(ctx, db, deps[1].ID, ApplyOptions{Allow: AllDestructiveKinds})
	if err == nil || !strings.Contains(err.Error(), "app:helpdesk") || !strings.Contains(err.Error(), "previous version") {
		t.Fatalf("want a refusal pointing at the app commands, got %v", err)
	}
	if after := describeSchema(t, db); after != before {
		t.Fatalf("refused rollback changed the schema:\n%s\n---\n%s", before, after)
	}
}

func TestRebuildKeepsViewsAndTriggers(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText), fld("score", bundle.TypeNumber)), obj("child", fld("account", bundle.TypeMasterDetail, ref("account"))))
	execT(t, db, `CREATE VIEW account_names AS SELECT name FROM account`)
	execT(t, db, `CREATE TABLE audit (msg TEXT)`)
	execT(t, db, `CREATE TRIGGER account_audit AFTER INSERT ON account BEGIN INSERT INTO audit VALUES (new.name); END`)
	execT(t, db, `INSERT INTO account (id, name, score) VALUES ('1', 'Acme', 2)`)
	execT(t, db, `INSERT INTO child (id, account) VALUES ('c1', '1')`)
	execT(t, db, `PRAGMA foreign_keys = ON`)
	p := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText), fld("score", bundle.TypeText)), obj("child", fld("account", bundle.TypeMasterDetail, ref("account"))))
	if _, err := Apply(ctx, db, p, ApplyOptions{}); err != nil {
		t.Fatalf("%v\n%s", err, planSQL(p))
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM child`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("child rows after parent rebuild: %d %v (ON DELETE CASCADE fired?)", n, err)
	}
	var fk int
	if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys not restored: %d %v", fk, err)
	}
	execT(t, db, `INSERT INTO account (id, name) VALUES ('2', 'Beta')`)
	if err := db.QueryRow(`SELECT count(*) FROM audit`).Scan(&n); err != nil || n != 2 { // Acme before, Beta after
		t.Fatalf("trigger not recreated: %d %v", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM account_names`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("view not recreated: %d %v", n, err)
	}
}

func TestAbstractObjectsGetNoTable(t *testing.T) {
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	base := obj("base", fld("x", bundle.TypeText))
	base.Abstract = true
	p := mustApply(t, db, owner, nil, base)
	if len(p.Migration.Statements) != 0 || p.UpToDate {
		t.Fatalf("abstract object: statements %d, up to date %v", len(p.Migration.Statements), p.UpToDate)
	}
	if again := mustPlan(t, db, owner, base); !again.UpToDate {
		t.Fatal("abstract object plan not converged")
	}
	// Metadata-only change: no DDL, but a change and a new registry checksum.
	base.Label = "Base"
	p = mustPlan(t, db, owner, base)
	if p.UpToDate || len(p.Migration.Statements) != 0 || !hasChange(p, EntityObject, "", "base", ChangeModified) {
		t.Fatalf("label change: %+v", p.Diff.Changes)
	}
}

func TestUnsafeInputIsRefusedOrQuoted(t *testing.T) {
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	bad := []bundle.Object{
		obj(`x"; DROP TABLE y; --`),
		obj("ok", fld(`c"; DROP TABLE y; --`, bundle.TypeText)),
		{Name: "ok", Indexes: []bundle.Index{{Fields: []string{"id"}, Partial: "1; DROP TABLE y"}}},
		{Name: "ok", Indexes: []bundle.Index{{Fields: []string{"nope"}}}},
	}
	for _, o := range bad {
		if _, err := PlanOwner(context.Background(), db, owner, []bundle.Object{o}, PlanOptions{}); err == nil {
			t.Errorf("object %+v was planned", o)
		}
	}
}

func TestDetachKeepsTablesAndReleasesOwnership(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	app := AppOwner("helpdesk")
	mustApply(t, db, app, nil, obj("hd_ticket", fld("title", bundle.TypeText)))
	execT(t, db, `INSERT INTO hd_ticket (id, title) VALUES ('1', 'keep me')`)
	if err := Detach(ctx, db, app, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	regs, _ := RegisteredObjects(ctx, db)
	if len(regs) != 0 {
		t.Fatalf("still registered: %+v", regs)
	}
	var title string
	if err := db.QueryRow(`SELECT title FROM hd_ticket`).Scan(&title); err != nil || title != "keep me" {
		t.Fatalf("row %q %v", title, err)
	}
	// The app's next plan no longer drops anything; another owner may adopt the table.
	if p := mustPlan(t, db, app); len(p.Migration.Statements) != 0 {
		t.Fatalf("detached owner plans statements:\n%s", planSQL(p))
	}
	p := mustPlan(t, db, BundleOwner("b"), obj("hd_ticket", fld("title", bundle.TypeText)))
	if len(p.Migration.Statements) != 0 {
		t.Fatalf("adoption needs no DDL:\n%s", planSQL(p))
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if regs, _ := RegisteredObjects(ctx, db); len(regs) != 1 || regs[0].Owner != BundleOwner("b") {
		t.Fatalf("adopted registry %+v", regs)
	}
}

// TestForeignKeysStuckOnRefusesCascadingRebuild: when enforcement cannot be switched off for the
// migration, a plan that would drop a referenced table is refused and no child row is lost, while a
// plan that drops nothing referenced still applies.
func TestForeignKeysStuckOnRefusesCascadingRebuild(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "d.db")
	owner := BundleOwner("crm")
	parent := obj("account", fld("score", bundle.TypeNumber))
	child := obj("contact", fld("account", bundle.TypeMasterDetail, ref("account")))
	mustApply(t, db, owner, nil, parent, child)
	execT(t, db, `INSERT INTO account (id, score) VALUES ('a1', 1)`)
	execT(t, db, `INSERT INTO contact (id, account) VALUES ('c1', 'a1')`)
	execT(t, db, `PRAGMA foreign_keys = ON`)
	testHookKeepForeignKeys = true
	defer func() { testHookKeepForeignKeys = false }()

	p := mustPlan(t, db, owner, obj("account", fld("score", bundle.TypeText)), child)
	_, err := Apply(ctx, db, p, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "ON DELETE CASCADE on contact.account") {
		t.Fatalf("want refusal naming the cascade, got %v", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM contact`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("child rows: %d %v", n, err)
	}
	p = mustPlan(t, db, owner, parent, obj("contact", fld("account", bundle.TypeMasterDetail, ref("account")), fld("note", bundle.TypeText)))
	if _, err := Apply(ctx, db, p, ApplyOptions{}); err != nil {
		t.Fatalf("non-dropping plan with enforcement on: %v", err)
	}
}
