package schema

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

func renamedFrom(old string) func(*bundle.Field) {
	return func(f *bundle.Field) { f.RenamedFrom = old }
}

func queryString(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

func hasStatement(p *Plan, sqlText string) bool {
	for _, s := range p.Migration.Statements {
		if s.SQL == sqlText {
			return true
		}
	}
	return false
}

// assertFresh checks that db's schema equals that of objs applied to an empty database.
func assertFresh(t *testing.T, db *sql.DB, owner Owner, objs ...bundle.Object) {
	t.Helper()
	fresh, _ := openDB(t, "fresh.db")
	mustApply(t, fresh, owner, nil, objs...)
	if got, want := describeSchema(t, db), describeSchema(t, fresh); got != want {
		t.Fatalf("migrated schema differs from fresh\nmigrated:\n%s\nfresh:\n%s", got, want)
	}
}

// A field rename is one RENAME COLUMN: no destructive change, the values stay, the field's index is recreated
// under its new name, a view and a trigger that name the column keep working (SQLite rewrites them), the
// registry holds the new field, and the next plan is empty.
func TestRenameFieldKeepsDataIndexViewTrigger(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText, indexed), fld("city", bundle.TypeText)))
	execT(t, db, `INSERT INTO account (id, name, city) VALUES ('a1', 'Acme', 'Oslo'), ('a2', 'Globex', NULL)`)
	execT(t, db, `CREATE VIEW account_names AS SELECT id, name FROM account`)
	execT(t, db, `CREATE TABLE audit (msg TEXT)`)
	execT(t, db, `CREATE TRIGGER account_audit AFTER UPDATE OF name ON account BEGIN INSERT INTO audit VALUES (new.name); END`)

	b := obj("account", fld("full_name", bundle.TypeText, indexed, renamedFrom("name")), fld("city", bundle.TypeText))
	p := mustPlan(t, db, owner, b)
	t.Log(planSQL(p))
	if len(p.Destructive) != 0 || p.Diff.HasBreakingChanges {
		t.Fatalf("rename is destructive: %+v", p.Destructive)
	}
	if p.Migration.Statements[0].SQL != `ALTER TABLE "account" RENAME COLUMN "name" TO "full_name"` || p.Migration.Statements[0].Kind != KindRenameColumn ||
		p.Migration.Statements[0].RollbackSQL != `ALTER TABLE "account" RENAME COLUMN "full_name" TO "name"` {
		t.Fatalf("first statement %+v", p.Migration.Statements[0])
	}
	for _, s := range p.Migration.Statements {
		if s.Kind == KindRebuild || s.Kind == KindDropColumn || s.Kind == KindAddColumn {
			t.Fatalf("rename plan has %s: %s", s.Kind, s.SQL)
		}
	}
	if !hasStatement(p, `DROP INDEX "idx_account_name"`) || !hasStatement(p, `CREATE INDEX "idx_account_full_name" ON "account" ("full_name")`) {
		t.Fatalf("index not moved to its new name:\n%s", planSQL(p))
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, `SELECT full_name FROM account WHERE id = 'a1'`); got != "Acme" {
		t.Fatalf("full_name %q", got)
	}
	var id, viewName string
	if err := db.QueryRow(`SELECT * FROM account_names WHERE id = 'a2'`).Scan(&id, &viewName); err != nil || viewName != "Globex" {
		t.Fatalf("view gives %q %v", viewName, err)
	}
	execT(t, db, `UPDATE account SET full_name = 'Acme AS' WHERE id = 'a1'`)
	if got := queryString(t, db, `SELECT msg FROM audit`); got != "Acme AS" {
		t.Fatalf("trigger wrote %q", got)
	}
	regs, err := RegisteredObjects(ctx, db)
	if err != nil || len(regs) != 1 {
		t.Fatalf("registry %v %v", regs, err)
	}
	if _, ok := regs[0].Definition.Field("full_name"); !ok {
		t.Fatalf("registry still has the old field: %+v", regs[0].Definition.Fields)
	}
	if again := mustPlan(t, db, owner, b); !again.UpToDate || len(again.Diff.Changes) != 0 {
		t.Fatalf("second plan not empty: %+v\n%s", again.Diff.Changes, planSQL(again))
	}
	execT(t, db, `DROP VIEW account_names`)
	execT(t, db, `DROP TRIGGER account_audit`)
	execT(t, db, `DROP TABLE audit`)
	assertFresh(t, db, owner, b)
}

// An object rename is one RENAME TO: rows stay, a lookup of another object (and its foreign key) follows the
// table, the registry row moves to the new name, and the next plan is empty.
func TestRenameObjectKeepsRowsAndForeignKeys(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil,
		obj("account", fld("name", bundle.TypeText)),
		obj("ticket", fld("subject", bundle.TypeText), fld("account", bundle.TypeLookup, ref("account"))))
	execT(t, db, `INSERT INTO account (id, name) VALUES ('a1', 'Acme')`)
	execT(t, db, `INSERT INTO ticket (id, subject, account) VALUES ('t1', 'Help', 'a1')`)
	execT(t, db, `CREATE VIEW ticket_accounts AS SELECT t.id, a.name FROM ticket t JOIN account a ON a.id = t.account`)
	execT(t, db, `CREATE TRIGGER ticket_touch AFTER INSERT ON ticket BEGIN UPDATE account SET updated_at = 'touched' WHERE id = new.account; END`)

	customer := obj("customer", fld("name", bundle.TypeText))
	customer.RenamedFrom = "account"
	ticket := obj("ticket", fld("subject", bundle.TypeText), fld("account", bundle.TypeLookup, ref("customer")))
	p := mustPlan(t, db, owner, customer, ticket)
	t.Log(planSQL(p))
	if len(p.Destructive) != 0 {
		t.Fatalf("object rename is destructive: %+v", p.Destructive)
	}
	if p.Migration.Statements[0].SQL != `ALTER TABLE "account" RENAME TO "customer"` || p.Migration.Statements[0].Kind != KindRenameTable {
		t.Fatalf("first statement %+v", p.Migration.Statements[0])
	}
	for _, s := range p.Migration.Statements {
		if s.Kind == KindRebuild || s.Kind == KindDropTable || s.Kind == KindCreateTable {
			t.Fatalf("rename plan has %s: %s", s.Kind, s.SQL)
		}
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, `SELECT c.name FROM ticket t JOIN customer c ON c.id = t.account`); got != "Acme" {
		t.Fatalf("join gives %q", got)
	}
	if got := queryString(t, db, `SELECT "table" FROM pragma_foreign_key_list('ticket')`); got != "customer" {
		t.Fatalf("ticket's foreign key points at %q", got)
	}
	// The view and the trigger of another table that named the old table follow it.
	if got := queryString(t, db, `SELECT name FROM ticket_accounts WHERE id = 't1'`); got != "Acme" {
		t.Fatalf("view gives %q", got)
	}
	execT(t, db, `INSERT INTO ticket (id, subject, account) VALUES ('t2', 'More', 'a1')`)
	if got := queryString(t, db, `SELECT updated_at FROM customer WHERE id = 'a1'`); got != "touched" {
		t.Fatalf("trigger wrote %q", got)
	}
	execT(t, db, `DROP VIEW ticket_accounts`)
	execT(t, db, `DROP TRIGGER ticket_touch`)
	regs, err := RegisteredObjects(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range regs {
		names = append(names, r.Name+"→"+r.Table)
	}
	if strings.Join(names, ",") != "customer→customer,ticket→ticket" {
		t.Fatalf("registry %v", names)
	}
	if again := mustPlan(t, db, owner, customer, ticket); !again.UpToDate || len(again.Diff.Changes) != 0 {
		t.Fatalf("second plan not empty: %+v\n%s", again.Diff.Changes, planSQL(again))
	}
	assertFresh(t, db, owner, customer, ticket)
}

// renamedFrom naming something the tenant never had creates the new name fresh.
func TestRenameOnFreshTenantCreates(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	customer := obj("customer", fld("full_name", bundle.TypeText, renamedFrom("name")))
	customer.RenamedFrom = "account"
	p := mustApply(t, db, owner, nil, customer)
	for _, s := range p.Migration.Statements {
		if s.Kind == KindRenameTable || s.Kind == KindRenameColumn {
			t.Fatalf("fresh tenant got %s", s.SQL)
		}
	}
	if again := mustPlan(t, db, owner, customer); !again.UpToDate {
		t.Fatalf("second plan not empty:\n%s", planSQL(again))
	}
	assertFresh(t, db, owner, obj("customer", fld("full_name", bundle.TypeText)))
}

// A tenant with both the old and the new name gets an error naming both, and nothing changes.
func TestRenameBothNamesPresentIsError(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText), fld("full_name", bundle.TypeText)), obj("customer", fld("x", bundle.TypeText)))

	_, err := PlanOwner(context.Background(), db, owner, []bundle.Object{
		obj("account", fld("full_name", bundle.TypeText, renamedFrom("name"))), obj("customer", fld("x", bundle.TypeText))}, PlanOptions{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Object != "account" || pe.Field != "full_name" || !strings.Contains(err.Error(), "column name") || !strings.Contains(err.Error(), "column full_name") {
		t.Fatalf("field: got %v", err)
	}
	customer := obj("customer", fld("x", bundle.TypeText))
	customer.RenamedFrom = "account"
	_, err = PlanOwner(context.Background(), db, owner, []bundle.Object{customer}, PlanOptions{})
	if !errors.As(err, &pe) || pe.Object != "customer" || !strings.Contains(err.Error(), "table account") || !strings.Contains(err.Error(), "table customer") {
		t.Fatalf("object: got %v", err)
	}
}

// A rename combined with a type change renames first, then rebuilds with a CAST of the renamed column.
func TestRenameWithTypeChange(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("item", fld("qty", bundle.TypeText)))
	execT(t, db, `INSERT INTO item (id, qty) VALUES ('i1', '42')`)
	b := obj("item", fld("quantity", bundle.TypeNumber, renamedFrom("qty")))
	p := mustPlan(t, db, owner, b)
	t.Log(planSQL(p))
	if p.Migration.Statements[0].Kind != KindRenameColumn {
		t.Fatalf("first statement %+v", p.Migration.Statements[0])
	}
	if _, err := Apply(ctx, db, p, ApplyOptions{Source: "test", Allow: []DestructiveKind{LossyTypeChange}}); err != nil {
		t.Fatal(err)
	}
	var q float64
	if err := db.QueryRow(`SELECT quantity FROM item WHERE id = 'i1'`).Scan(&q); err != nil || q != 42 {
		t.Fatalf("quantity %v %v", q, err)
	}
	if again := mustPlan(t, db, owner, b); !again.UpToDate {
		t.Fatalf("second plan not empty:\n%s", planSQL(again))
	}
	assertFresh(t, db, owner, b)
}

// A rename that would also rebuild a table a view reads is refused (the view would be recreated from its text
// before the rename); the rename alone goes through.
func TestRenameWithRebuildOfViewedTableRefused(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("item", fld("qty", bundle.TypeText)))
	execT(t, db, `CREATE VIEW item_qty AS SELECT qty FROM item`)
	_, err := PlanOwner(context.Background(), db, owner, []bundle.Object{obj("item", fld("quantity", bundle.TypeNumber, renamedFrom("qty")))}, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "view item_qty") || !strings.Contains(err.Error(), "deploy the rename first") {
		t.Fatalf("got %v", err)
	}
	mustApply(t, db, owner, nil, obj("item", fld("quantity", bundle.TypeText, renamedFrom("qty"))))
	if got := queryString(t, db, `SELECT sql FROM sqlite_schema WHERE name = 'item_qty'`); !strings.Contains(got, "quantity") {
		t.Fatalf("view text %q", got)
	}
}

// Swaps and chains inside one object set are refused with the names involved.
func TestRenameSwapRefused(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("a", bundle.TypeText), fld("b", bundle.TypeText)))
	_, err := PlanOwner(context.Background(), db, owner, []bundle.Object{
		obj("account", fld("a", bundle.TypeText, renamedFrom("b")), fld("b", bundle.TypeText, renamedFrom("a")))}, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "swapping or chaining field names") {
		t.Fatalf("got %v", err)
	}
	x := obj("x", fld("n", bundle.TypeText))
	x.RenamedFrom = "account"
	_, err = PlanOwner(context.Background(), db, owner, []bundle.Object{x, obj("account", fld("a", bundle.TypeText))}, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "swapping or chaining object names") {
		t.Fatalf("got %v", err)
	}
}

// Without renamedFrom, dropping a column and adding one of the same type is refused as destructive, and the
// refusal says it may be a rename and shows the renamedFrom line that keeps the data.
func TestDropAndAddSuggestsRename(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText), fld("n", bundle.TypeNumber)))
	p := mustPlan(t, db, owner, obj("account", fld("full_name", bundle.TypeText), fld("n", bundle.TypeNumber)))
	_, err := Apply(context.Background(), db, p, ApplyOptions{})
	var de *DestructiveError
	if !errors.As(err, &de) {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "drop_column account.name") || !strings.Contains(err.Error(), "may be a rename") ||
		!strings.Contains(err.Error(), `"renamedFrom: name" on field full_name (objects.account.fields.full_name.renamedFrom)`) {
		t.Fatalf("refusal does not suggest the rename: %v", err)
	}
	// A column of another type is no rename candidate.
	p = mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText)))
	for _, d := range p.Destructive {
		if strings.Contains(d.Message, "rename") {
			t.Fatalf("unrelated drop suggests a rename: %s", d.Message)
		}
	}
}

// Rolling back a deployment that renamed an object and a field renames both back (the previous object set has
// no renamedFrom), keeping the rows, and leaves the registry as it was.
func TestRollbackRenamesBack(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	a := []bundle.Object{obj("account", fld("name", bundle.TypeText, indexed)), obj("ticket", fld("account", bundle.TypeLookup, ref("account")))}
	mustApply(t, db, owner, nil, a...)
	execT(t, db, `INSERT INTO account (id, name) VALUES ('a1', 'Acme')`)
	execT(t, db, `INSERT INTO ticket (id, account) VALUES ('t1', 'a1')`)
	customer := obj("customer", fld("full_name", bundle.TypeText, indexed, renamedFrom("name")))
	customer.RenamedFrom = "account"
	b := []bundle.Object{customer, obj("ticket", fld("account", bundle.TypeLookup, ref("customer")))}
	pb := mustPlan(t, db, owner, b...)
	res, err := Apply(ctx, db, pb, ApplyOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Rollback(ctx, db, res.DeploymentID, ApplyOptions{})
	if err != nil {
		t.Fatalf("rollback (no destructive change allowed): %v", err)
	}
	if rb.Status != StatusReady {
		t.Fatalf("rollback %+v", rb)
	}
	if got := queryString(t, db, `SELECT a.name FROM ticket t JOIN account a ON a.id = t.account`); got != "Acme" {
		t.Fatalf("after rollback %q", got)
	}
	if got := queryString(t, db, `SELECT "table" FROM pragma_foreign_key_list('ticket')`); got != "account" {
		t.Fatalf("ticket's foreign key points at %q", got)
	}
	if again := mustPlan(t, db, owner, a...); !again.UpToDate {
		t.Fatalf("plan of the previous set after rollback not empty: %+v\n%s", again.Diff.Changes, planSQL(again))
	}
	assertFresh(t, db, owner, a...)
}

// Two owners planned in one revision (State.After): the second is planned against the schema the first one's
// renames leave, so its lookup to the renamed table is already in place and the batch applies in one go.
func TestRenameChainedPlansInOneBatch(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t, "a.db")
	crm, support := BundleOwner("crm"), BundleOwner("support")
	mustApply(t, db, crm, nil, obj("account", fld("name", bundle.TypeText)))
	mustApply(t, db, support, nil, obj("ticket", fld("account", bundle.TypeLookup, ref("account"))))
	execT(t, db, `INSERT INTO account (id, name) VALUES ('a1', 'Acme')`)
	execT(t, db, `INSERT INTO ticket (id, account) VALUES ('t1', 'a1')`)

	st, err := ReadState(ctx, db, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	customer := obj("customer", fld("full_name", bundle.TypeText, renamedFrom("name")))
	customer.RenamedFrom = "account"
	p1, err := st.Plan(crm, []bundle.Object{customer})
	if err != nil {
		t.Fatal(err)
	}
	ticket := obj("ticket", fld("account", bundle.TypeLookup, ref("customer")))
	p2, err := st.After(p1).Plan(support, []bundle.Object{ticket})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Migration.Statements) != 0 {
		t.Fatalf("second owner should have nothing to do after the rename:\n%s", planSQL(p2))
	}
	b := NewBatch(st, "test")
	if _, err := b.AddPlan(p1, ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddPlan(p2, ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, `SELECT c.full_name FROM ticket t JOIN customer c ON c.id = t.account`); got != "Acme" {
		t.Fatalf("join gives %q", got)
	}
	if again := mustPlan(t, db, crm, customer); !again.UpToDate {
		t.Fatalf("second plan not empty:\n%s", planSQL(again))
	}
}

// Without renamedFrom, dropping an object and creating one with the same columns is refused as destructive, and
// the refusal shows the renamedFrom line that keeps the rows.
func TestDropAndCreateSuggestsObjectRename(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText)), obj("other", fld("n", bundle.TypeNumber)))
	p := mustPlan(t, db, owner, obj("customer", fld("name", bundle.TypeText)), obj("other", fld("n", bundle.TypeNumber)))
	_, err := Apply(context.Background(), db, p, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "drop_table account") ||
		!strings.Contains(err.Error(), `declare "renamedFrom: account" on object customer (objects.customer.renamedFrom)`) {
		t.Fatalf("refusal does not suggest the rename: %v", err)
	}
	p = mustPlan(t, db, owner, obj("customer", fld("title", bundle.TypeText)), obj("other", fld("n", bundle.TypeNumber)))
	for _, d := range p.Destructive {
		if strings.Contains(d.Message, "rename") {
			t.Fatalf("a table of other columns suggests a rename: %s", d.Message)
		}
	}
}
