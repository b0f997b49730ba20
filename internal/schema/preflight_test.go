package schema

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// preflightCase is one rule: a first version applied, rows inserted, a second version planned and pre-flighted.
type preflightCase struct {
	name   string
	v1, v2 []bundle.Object
	rows   []string // INSERTs of violating data
	clean  []string // INSERTs of data the migration accepts
	rule   PreflightRule
	want   []string // in the failure's message
}

var preflightCases = []preflightCase{
	{
		name:  "unique",
		v1:    []bundle.Object{obj("account", fld("email", bundle.TypeText))},
		v2:    []bundle.Object{obj("account", fld("email", bundle.TypeText, unique))},
		rows:  []string{`INSERT INTO account (id, email) VALUES ('a1','x@y'),('a2','x@y'),('a3','x@y'),('a4','z@y'),('a5','z@y'),('a6',NULL),('a7',NULL),('a8','solo')`},
		clean: []string{`INSERT INTO account (id, email) VALUES ('a1','x@y'),('a2','z@y'),('a6',NULL),('a7',NULL)`},
		rule:  RuleUnique,
		want:  []string{"2 duplicate key(s) (5 rows)", "uq_account_email", "email='x@y' (3 rows)", "email='z@y' (2 rows)"},
	},
	{
		name:  "required",
		v1:    []bundle.Object{obj("account", fld("tier", bundle.TypeText))},
		v2:    []bundle.Object{obj("account", fld("tier", bundle.TypeText, required))},
		rows:  []string{`INSERT INTO account (id, tier) VALUES ('a1','gold'),('a2',NULL),('a3',NULL)`},
		clean: []string{`INSERT INTO account (id, tier) VALUES ('a1','gold'),('a2','silver')`},
		rule:  RuleRequired,
		want:  []string{"2 row(s) of table account have no value in column tier", "id='a2'", "id='a3'"},
	},
	{
		name: "foreign_key",
		v1:   []bundle.Object{obj("account"), obj("contact", fld("account", bundle.TypeText))},
		v2:   []bundle.Object{obj("account"), obj("contact", fld("account", bundle.TypeLookup, ref("account")))},
		rows: []string{`INSERT INTO account (id) VALUES ('a1')`,
			`INSERT INTO contact (id, account) VALUES ('c1','a1'),('c2','gone'),('c3',NULL)`},
		clean: []string{`INSERT INTO account (id) VALUES ('a1')`, `INSERT INTO contact (id, account) VALUES ('c1','a1'),('c3',NULL)`},
		rule:  RuleForeignKey,
		want:  []string{"1 row(s) of table contact reference a account row that does not exist", "id='c2' account='gone'"},
	},
}

func runPreflightCase(t *testing.T, db *sql.DB, tc preflightCase, inserts []string) (*Plan, error) {
	t.Helper()
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, tc.v1...)
	for _, q := range inserts {
		execT(t, db, q)
	}
	p := mustPlan(t, db, owner, tc.v2...)
	return p, Preflight(context.Background(), db, p)
}

// TestPreflightRules: each rule against a real SQLite file, with data that breaks it (a plan error naming the
// rule, object, field, count and samples; the apply is then not attempted) and with data that passes (the apply
// goes through).
func TestPreflightRules(t *testing.T) {
	for _, tc := range preflightCases {
		t.Run(tc.name+"/violating", func(t *testing.T) {
			db, _ := openDB(t, "t.db")
			p, err := runPreflightCase(t, db, tc, tc.rows)
			pe, ok := AsPreflightError(err)
			if !ok || len(pe.Failures) != 1 {
				t.Fatalf("want one pre-flight failure, got %v", err)
			}
			f := pe.Failures[0]
			if f.Rule != tc.rule || f.Owner != BundleOwner("crm") || f.Object == "" || f.Field == "" || f.Count == 0 || len(f.Samples) == 0 {
				t.Fatalf("failure %+v", f)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if p.Preflight == nil || len(p.Preflight.Failures) != 1 || p.Preflight.Checks == 0 {
				t.Errorf("report %+v", p.Preflight)
			}
			// What the pre-flight predicts is what the apply meets.
			if _, err := Apply(context.Background(), db, p, ApplyOptions{Source: "test"}); err == nil {
				t.Errorf("apply of a plan the pre-flight refused succeeded")
			}
		})
		t.Run(tc.name+"/clean", func(t *testing.T) {
			db, _ := openDB(t, "t.db")
			p, err := runPreflightCase(t, db, tc, tc.clean)
			if err != nil {
				t.Fatalf("pre-flight of clean data: %v", err)
			}
			if p.Preflight == nil || p.Preflight.Checks == 0 || len(p.Preflight.Failures) != 0 {
				t.Fatalf("report %+v", p.Preflight)
			}
			if _, err := Apply(context.Background(), db, p, ApplyOptions{Source: "test"}); err != nil {
				t.Fatalf("apply: %v", err)
			}
		})
	}
}

// TestPreflightTypeChange: a TEXT → number change is lossy_type_change by type; the data decides. Values that
// do not survive the cast keep it destructive, with their count and samples; data where every value survives
// needs no allowance, and rows written between the plan and the apply that would not survive fail the apply
// inside its transaction (nothing applied, nothing lost).
func TestPreflightTypeChange(t *testing.T) {
	ctx := context.Background()
	owner := BundleOwner("crm")
	v1 := obj("item", fld("price", bundle.TypeText))
	v2 := obj("item", fld("price", bundle.TypeNumber))

	t.Run("lossy", func(t *testing.T) {
		db, _ := openDB(t, "t.db")
		mustApply(t, db, owner, nil, v1)
		execT(t, db, `INSERT INTO item (id, price) VALUES ('i1','12'),('i2','abc'),('i3','1.5'),('i4','12.5.1'),('i5',NULL)`)
		p := mustPlan(t, db, owner, v2)
		if err := Preflight(ctx, db, p); err != nil {
			t.Fatalf("a lossy cast is a destructive change, not a failure: %v", err)
		}
		if len(p.Preflight.Lossy) != 1 || p.Preflight.Lossy[0].Count != 2 || p.Preflight.Lossy[0].Rule != RuleTypeChange {
			t.Fatalf("report %+v", p.Preflight)
		}
		err := p.CheckAllowed(nil)
		var de *DestructiveError
		if !errors.As(err, &de) || de.Refused[0].Kind != LossyTypeChange || !strings.Contains(err.Error(), "the data has 2 such value(s)") ||
			!strings.Contains(err.Error(), "id='i2' price='abc'") {
			t.Fatalf("refusal %v", err)
		}
	})

	t.Run("lossless", func(t *testing.T) {
		db, _ := openDB(t, "t.db")
		mustApply(t, db, owner, nil, v1)
		execT(t, db, `INSERT INTO item (id, price) VALUES ('i1','12'),('i2','1.5'),('i3','1e3'),('i4',NULL)`)
		p := mustPlan(t, db, owner, v2)
		if p.CheckAllowed(nil) == nil {
			t.Fatal("by type alone the change is lossy")
		}
		if err := Preflight(ctx, db, p); err != nil {
			t.Fatal(err)
		}
		if err := p.CheckAllowed(nil); err != nil || p.Diff.HasBreakingChanges {
			t.Fatalf("lossless for this data, yet: %v (breaking %v)", err, p.Diff.HasBreakingChanges)
		}
		if len(p.Preflight.Lossless) != 1 || !strings.Contains(p.Preflight.Lossless[0].Message, "survives the cast TEXT → REAL") {
			t.Fatalf("report %+v", p.Preflight)
		}
		if _, err := Apply(ctx, db, p, ApplyOptions{Source: "test"}); err != nil {
			t.Fatal(err)
		}
		var sum float64
		if err := db.QueryRow(`SELECT sum(price) FROM item`).Scan(&sum); err != nil || sum != 1013.5 {
			t.Fatalf("values after the cast: %v %v", sum, err)
		}
	})

	t.Run("rows written after the plan", func(t *testing.T) {
		db, _ := openDB(t, "t.db")
		mustApply(t, db, owner, nil, v1)
		execT(t, db, `INSERT INTO item (id, price) VALUES ('i1','12')`)
		p := mustPlan(t, db, owner, v2)
		if err := Preflight(ctx, db, p); err != nil || p.CheckAllowed(nil) != nil {
			t.Fatalf("preflight %v, allowed %v", err, p.CheckAllowed(nil))
		}
		execT(t, db, `INSERT INTO item (id, price) VALUES ('i2','not a number')`) // no schema change: the plan is not stale
		_, err := Apply(ctx, db, p, ApplyOptions{Source: "test"})
		if err == nil || !strings.Contains(err.Error(), "pre-flight re-check of item.price") || !strings.Contains(err.Error(), "nothing was applied") {
			t.Fatalf("apply: %v", err)
		}
		var v string
		if err := db.QueryRow(`SELECT price FROM item WHERE id = 'i2'`).Scan(&v); err != nil || v != "not a number" {
			t.Fatalf("the value written after the plan: %q %v", v, err)
		}
		if n := pragmaColumnType(t, db, "item", "price"); n != "TEXT" {
			t.Fatalf("column type after the refused apply: %s", n)
		}
	})
}

func pragmaColumnType(t *testing.T, db *sql.DB, table, col string) string {
	t.Helper()
	var typ string
	if err := db.QueryRow(`SELECT type FROM pragma_table_info(?) WHERE name = ?`, table, col).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	return typ
}

// TestPreflightCostsNothingWithoutExistingRows: a plan that only creates tables, adds optional columns or drops
// things has no check, and Preflight sends nothing — here to a closed database, which would fail any read.
func TestPreflightCostsNothingWithoutExistingRows(t *testing.T) {
	db, _ := openDB(t, "t.db")
	owner := BundleOwner("crm")
	mustApply(t, db, owner, nil, obj("account", fld("name", bundle.TypeText)))
	p := mustPlan(t, db, owner, obj("account", fld("name", bundle.TypeText), fld("tier", bundle.TypeText), fld("code", bundle.TypeText, unique)),
		obj("contact", fld("email", bundle.TypeText, unique)))
	// A new column with a unique index (all NULL) and a new table: nothing to check.
	db.Close()
	if err := Preflight(context.Background(), db, p); err != nil {
		t.Fatalf("a plan touching no existing rows read the database: %v", err)
	}
	if p.Preflight == nil || p.Preflight.Checks != 0 {
		t.Fatalf("report %+v", p.Preflight)
	}
}
