package schema

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// A table created by hand and then adopted can carry constraints the engine's own DDL cannot express
// (UNIQUE, CHECK, COLLATE). A rebuild recreates the table from the declared fields, so those constraints
// go; the plan must say so instead of dropping them silently.
func TestRebuildOfAdoptedTableShowsDroppedConstraints(t *testing.T) {
	db, _ := openDB(t, "adopted.db")
	execT(t, db, `CREATE TABLE contact (id TEXT PRIMARY KEY, created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), email TEXT UNIQUE COLLATE NOCASE, age REAL CHECK (age >= 0),
  note TEXT DEFAULT 'unique check collate')`)
	execT(t, db, `INSERT INTO contact (id, email, age) VALUES ('1', 'a@x', 3)`)
	owner := BundleOwner("crm")
	fields := []bundle.Field{fld("email", bundle.TypeText), fld("age", bundle.TypeNumber), fld("note", bundle.TypeText, def("unique check collate"))}
	adopt := mustApply(t, db, owner, nil, obj("contact", fields...))
	if len(adopt.Migration.Statements) != 0 || adopt.Diff.HasBreakingChanges {
		t.Fatalf("adoption of a matching table must need no DDL:\n%s", planSQL(adopt))
	}

	// Making age required rebuilds the table.
	fields[1].Required, fields[1].DefaultValue = true, 0
	p := mustPlan(t, db, owner, obj("contact", fields...))
	if !strings.Contains(planSQL(p), "RENAME TO") {
		t.Fatalf("expected a rebuild:\n%s", planSQL(p))
	}
	var shown string
	for _, c := range p.Diff.Changes {
		if c.EntityType == EntityObject && c.EntityName == "contact" {
			shown += fmt.Sprint(c.OldValue)
		}
	}
	for _, kw := range []string{"UNIQUE", "CHECK", "COLLATE"} {
		if !strings.Contains(shown, kw) {
			t.Errorf("plan does not show that the rebuild drops the %s constraint of contact; object change: %q\nchanges: %+v", kw, shown, p.Diff.Changes)
		}
	}
	if !p.Diff.HasBreakingChanges {
		t.Errorf("dropping constraints is a breaking change")
	}
	// Dropping them is its own destructive kind: refused (naming the constraints) unless drop_constraint is allowed.
	err := p.CheckAllowed([]DestructiveKind{DropTable, DropColumn, LossyTypeChange})
	var de *DestructiveError
	if !errors.As(err, &de) || len(de.Refused) != 1 || de.Refused[0].Kind != DropConstraint || de.Refused[0].Object != "contact" ||
		!strings.Contains(err.Error(), "UNIQUE") || !strings.Contains(err.Error(), "CHECK") {
		t.Fatalf("refusal: %v", err)
	}
	if _, err := Apply(context.Background(), db, p, ApplyOptions{Source: "test"}); !errors.As(err, &de) {
		t.Fatalf("apply without drop_constraint: %v", err)
	}
	if _, err := Apply(context.Background(), db, p, ApplyOptions{Source: "test", Allow: []DestructiveKind{DropConstraint}}); err != nil {
		t.Fatalf("apply with drop_constraint: %v", err)
	}
	if kinds, err := ParseDestructiveKinds("drop_constraint"); err != nil || len(kinds) != 1 || kinds[0] != DropConstraint {
		t.Fatalf("parse: %v %v", kinds, err)
	}

	// A table the engine created itself has nothing to lose, and says nothing more than the field change.
	db2, _ := openDB(t, "engine.db")
	fields[1].Required, fields[1].DefaultValue = false, nil
	mustApply(t, db2, owner, nil, obj("contact", fields...))
	fields[1].Required, fields[1].DefaultValue = true, 0
	p2 := mustPlan(t, db2, owner, obj("contact", fields...))
	for _, c := range p2.Diff.Changes {
		if c.EntityType == EntityObject {
			t.Errorf("engine-made table: unexpected object change %+v", c)
		}
	}
	if p2.Diff.HasBreakingChanges {
		t.Errorf("engine-made table: making a field required with a default is not breaking")
	}
}

func TestHandWrittenConstraints(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{`CREATE TABLE "t" ("id" TEXT PRIMARY KEY, "a" TEXT NOT NULL DEFAULT 'unique check', "b" REAL REFERENCES "u"("id") ON DELETE SET NULL)`, ""},
		{`CREATE TABLE t (id TEXT PRIMARY KEY, "check" TEXT, [unique] TEXT, d TEXT DEFAULT (CAST(1 AS TEXT)), e TEXT DEFAULT 'it''s collate')`, ""},
		{`CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT, b TEXT AS (upper(a)), UNIQUE (a, b)) STRICT`, "AUTOINCREMENT GENERATED STRICT UNIQUE"},
		{`CREATE TABLE t (id TEXT PRIMARY KEY ON CONFLICT REPLACE, a TEXT CONSTRAINT c1 CHECK (a <> '')) WITHOUT ROWID`, "CHECK CONSTRAINT ON CONFLICT WITHOUT ROWID"},
		{`CREATE TABLE t (id TEXT PRIMARY KEY, strict TEXT, generated TEXT, conflict TEXT, without TEXT)`, ""},
		{`CREATE TABLE t (id TEXT PRIMARY KEY, g TEXT GENERATED ALWAYS AS (id || 'x') STORED)`, "GENERATED"},
	} {
		if got := strings.Join(handWrittenConstraints(tc.sql), " "); got != tc.want {
			t.Errorf("%s\n got %q want %q", tc.sql, got, tc.want)
		}
	}
}
