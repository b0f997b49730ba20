package schema

import (
	"context"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

func supportObjects() []bundle.Object {
	ticket := obj("support_ticket",
		fld("ticket_number", bundle.TypeAutonumber, unique),
		fld("subject", bundle.TypeText, required, func(f *bundle.Field) { n := 200; f.MaxLength = &n }),
		fld("status", bundle.TypeSelect, required, def("new")),
		fld("account", bundle.TypeLookup, ref("account")),
		fld("contact_email", bundle.TypeEmail, required, indexed, def("")),
		fld("escalated", bundle.TypeBoolean, def(false)),
		fld("labels", bundle.TypeTags),
		fld("hours_spent", bundle.TypeNumber, def(1.5)),
		fld("total", bundle.TypeFormula, func(f *bundle.Field) { f.Expression = "hours_spent * 2" }),
	)
	ticket.Indexes = []bundle.Index{{Name: "idx_support_ticket_status_priority", Fields: []string{"status", "escalated"}}, {Fields: []string{"account"}, Partial: "account IS NOT NULL"}}
	account := obj("account", fld("name", bundle.TypeText, required, def("x\"; DROP TABLE y; --")))
	comment := obj("ticket_comment",
		fld("ticket", bundle.TypeMasterDetail, required, ref("support_ticket"), def("none")),
		fld("author", bundle.TypeLookup, ref("sys_user")),
		fld("body", bundle.TypeTextarea, required, def("")),
		fld("attachments", bundle.TypeFile, func(f *bundle.Field) { f.Multiple = true }),
		fld("sentiment", bundle.TypeRating),
	)
	comment.Indexes = []bundle.Index{{Fields: []string{"ticket", "created_at"}}}
	return []bundle.Object{ticket, account, comment}
}

func TestFreshApplyThenPlanIsEmpty(t *testing.T) {
	db, _ := openDB(t, "a.db")
	owner := BundleOwner("crm")
	p := mustApply(t, db, owner, nil, supportObjects()...)
	t.Log(planSQL(p))
	if p.UpToDate || len(p.Migration.Statements) == 0 {
		t.Fatal("first plan should have statements")
	}
	// referenced tables first
	if !strings.Contains(p.Migration.Statements[0].SQL, `CREATE TABLE "account"`) {
		t.Fatalf("first statement %s", p.Migration.Statements[0].SQL)
	}
	p2 := mustPlan(t, db, owner, supportObjects()...)
	if !p2.UpToDate || len(p2.Diff.Changes) != 0 {
		t.Fatalf("second plan not empty: %+v\n%s", p2.Diff.Changes, planSQL(p2))
	}
	var dflt string
	if err := db.QueryRow(`SELECT dflt_value FROM pragma_table_info('account') WHERE name='name'`).Scan(&dflt); err != nil {
		t.Fatal(err)
	}
	if dflt != `'x"; DROP TABLE y; --'` {
		t.Fatalf("default %q", dflt)
	}
	execT(t, db, `INSERT INTO account (id) VALUES ('a1')`)
	var name string
	if err := db.QueryRow(`SELECT name FROM account WHERE id='a1'`).Scan(&name); err != nil || name != `x"; DROP TABLE y; --` {
		t.Fatalf("name %q %v", name, err)
	}
	sum, err := OwnerChecksum(context.Background(), db, owner)
	if err != nil || sum != p.Checksum {
		t.Fatalf("owner checksum %q vs %q (%v)", sum, p.Checksum, err)
	}
}
