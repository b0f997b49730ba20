package schema

import (
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Dropping a table that another owner's table references leaves that table's REFERENCES clause pointing
// at nothing: on a connection that enforces foreign keys every write to it then fails ("no such table").
// The drop is the planning owner's to allow, but its plan must name the table it breaks.
func TestDropTableNamesReferencesFromOtherOwners(t *testing.T) {
	db, _ := openDB(t, "cross.db")
	mustApply(t, db, BundleOwner("a"), nil, obj("parent", fld("name", bundle.TypeText)))
	mustApply(t, db, BundleOwner("b"), nil, obj("child", fld("p", bundle.TypeLookup, ref("parent"))))
	p := mustPlan(t, db, BundleOwner("a"))
	if len(p.Destructive) != 1 || p.Destructive[0].Kind != DropTable {
		t.Fatalf("want one drop_table, got %+v", p.Destructive)
	}
	msg := p.Destructive[0].Message
	for _, want := range []string{"child.p", "bundle:b"} {
		if !strings.Contains(msg, want) {
			t.Errorf("drop_table message does not name %q, the reference it breaks: %q", want, msg)
		}
	}
	if err := p.CheckAllowed(nil); err == nil || !strings.Contains(err.Error(), "child.p") {
		t.Errorf("refusal does not name the broken reference: %v", err)
	}
}
