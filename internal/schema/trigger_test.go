package schema

import (
	"context"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// A trigger on one table whose body names another table makes SQLite's RENAME fail ("error in trigger
// ...: no such table") while that other table is being rebuilt, so such triggers have to be set aside
// for the rebuild like views — also when both tables are rebuilt in the same plan.
func TestRebuildKeepsTriggersOfOtherTablesThatMentionIt(t *testing.T) {
	ctx := context.Background()
	for _, both := range []bool{false, true} {
		db, _ := openDB(t, "trg.db")
		owner := BundleOwner("crm")
		mustApply(t, db, owner, nil, obj("acc", fld("name", bundle.TypeText)), obj("log", fld("msg", bundle.TypeText)))
		execT(t, db, `CREATE TRIGGER log_to_acc AFTER INSERT ON log BEGIN UPDATE acc SET name = new.msg WHERE id = new.id; END`)
		execT(t, db, `INSERT INTO acc (id, name) VALUES ('1', NULL)`)
		logObj := obj("log", fld("msg", bundle.TypeText))
		if both {
			logObj = obj("log", fld("msg", bundle.TypeText, required, def("-")))
		}
		p := mustPlan(t, db, owner, obj("acc", fld("name", bundle.TypeText, required, def("x"))), logObj)
		if _, err := Apply(ctx, db, p, ApplyOptions{}); err != nil {
			t.Fatalf("both rebuilt=%v: %v\n%s", both, err, planSQL(p))
		}
		execT(t, db, `INSERT INTO log (id, msg) VALUES ('1', 'fired')`)
		var name string
		if err := db.QueryRow(`SELECT name FROM acc WHERE id = '1'`).Scan(&name); err != nil || name != "fired" {
			t.Fatalf("both rebuilt=%v: trigger not kept: name=%q err=%v\n%s", both, name, err, planSQL(p))
		}
		if p := mustPlan(t, db, owner, obj("acc", fld("name", bundle.TypeText, required, def("x"))), logObj); !p.UpToDate {
			t.Fatalf("both rebuilt=%v: not up to date after apply:\n%s", both, planSQL(p))
		}
	}
}
