package bundle

import (
	"encoding/json"
	"testing"
)

func TestRenameRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"field renamedFrom invalid", x("  b: { type: text, renamedFrom: A }\n"), CodeInvalidIdentifier, "objects.x.fields.b.renamedFrom", "", 3, "must match"},
		{"field renamedFrom itself", x("  b: { type: text, renamedFrom: b }\n"), CodeInvalidRename, "objects.x.fields.b.renamedFrom", "", 3, "itself"},
		{"field swap", x("  a: { type: text, renamedFrom: b }\n  b: { type: text, renamedFrom: a }\n"), CodeInvalidRename, "objects.x.fields.a.renamedFrom", "", 3, "still declares field b"},
		{"field chain", x("  a: { type: text }\n  b:\n    type: text\n    renamedFrom: a\n"), CodeInvalidRename, "objects.x.fields.b.renamedFrom", "", 6, "still declares field a"},
		{"two fields from one", x("  a: { type: text, renamedFrom: old }\n  b: { type: text, renamedFrom: old }\n"), CodeInvalidRename, "objects.x.fields.b.renamedFrom", "", 4, "both renamedFrom old"},
		{"system column", x("  ident: { type: text, renamedFrom: id }\n"), CodeInvalidRename, "objects.x.fields.ident.renamedFrom", "", 3, "system columns"},
		{"formula", x("  f: { type: formula, expression: '1', renamedFrom: g }\n"), CodeInvalidRename, "objects.x.fields.f.renamedFrom", "", 3, "no column"},
		{"column of another field", x("  a: { type: text, renamedFrom: c }\n  b: { type: text, columnName: c }\n"), CodeInvalidRename, "objects.x.fields.a.renamedFrom", "", 3, "still uses column c"},
		{"object renamedFrom itself", x("  a: { type: text }\n", "renamedFrom: x\n"), CodeInvalidRename, "objects.x.renamedFrom", "", 4, "itself"},
		{"object renamedFrom invalid", x("  a: { type: text }\n", "renamedFrom: Old\n"), CodeInvalidIdentifier, "objects.x.renamedFrom", "", 4, ""},
		{"object swap", with(x("  a: { type: text }\n", "renamedFrom: y\n"), "y", "name: y\nfields: {}\n"), CodeInvalidRename, "objects.x.renamedFrom", "", 4, "still declares object y"},
		{"two objects from one", with(x("  a: { type: text }\n", "renamedFrom: old\n"), "y", "name: y\nrenamedFrom: old\nfields: {}\n"), CodeInvalidRename, "objects.y.renamedFrom", "", 2, "both renamedFrom old"},
		{"abstract object", x("  a: { type: text }\n", "abstract: true\nrenamedFrom: old\n"), CodeInvalidRename, "objects.x.renamedFrom", "", 5, "abstract"},
	})
}

// renamedFrom is read from YAML and JSON object files, is part of the checksum, and survives the registry's
// JSON round trip.
func TestRenamedFromLoadsAndRoundTrips(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		"bundle.yaml":           baseManifest,
		"objects/customer.yaml": "name: customer\nrenamedFrom: account\nfields:\n  full_name: { type: text, renamedFrom: name }\n",
		"objects/ticket.json":   `{"name": "ticket", "renamedFrom": "support_case", "fields": {"subject": {"type": "text", "renamedFrom": "title"}}}`,
	})
	b, res := loadOK(t, dir)
	if !res.Valid {
		t.Fatalf("invalid:%s", dumpIssues(res))
	}
	for _, w := range []struct{ obj, from, field, fieldFrom string }{{"customer", "account", "full_name", "name"}, {"ticket", "support_case", "subject", "title"}} {
		o, ok := b.Object(w.obj)
		if !ok || o.RenamedFrom != w.from {
			t.Fatalf("object %s: %+v", w.obj, o)
		}
		f, ok := o.Field(w.field)
		if !ok || f.RenamedFrom != w.fieldFrom {
			t.Fatalf("field %s.%s: %+v", w.obj, w.field, f)
		}
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var back Object
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if bf, _ := back.Field(w.field); back.RenamedFrom != w.from || bf == nil || bf.RenamedFrom != w.fieldFrom {
			t.Fatalf("round trip lost renamedFrom: %s", raw)
		}
	}
	plain := writeBundle(t, map[string]string{
		"bundle.yaml":           baseManifest,
		"objects/customer.yaml": "name: customer\nfields:\n  full_name: { type: text }\n",
		"objects/ticket.json":   `{"name": "ticket", "renamedFrom": "support_case", "fields": {"subject": {"type": "text", "renamedFrom": "title"}}}`,
	})
	b2, _ := loadOK(t, plain)
	if b2.Checksum == b.Checksum {
		t.Fatal("renamedFrom does not change the checksum")
	}
}
