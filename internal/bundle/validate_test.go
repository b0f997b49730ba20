package bundle

import (
	"strings"
	"testing"
)

// ruleCase is one broken rule: the object files to load, the issue expected (code, path, severity, line) and a
// fragment of its message.
type ruleCase struct {
	name     string
	files    map[string]string // extra files; "x" is shorthand for objects/x.yaml
	code     string
	path     string
	severity Severity
	line     int
	msg      string
}

// x builds objects/x.yaml with the given fields and extra top-level YAML.
func x(fields string, extra ...string) map[string]string {
	return map[string]string{"x": "name: x\nfields:\n" + fields + strings.Join(extra, "")}
}

func with(m map[string]string, k, v string) map[string]string {
	m[k] = v
	return m
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"bundle.yaml": baseManifest}
			for k, v := range tc.files {
				if !strings.Contains(k, "/") && !strings.Contains(k, ".") {
					k = "objects/" + k + ".yaml"
				}
				files[k] = v
			}
			_, res := loadOK(t, writeBundle(t, files))
			is := findIssue(res, tc.code, tc.path)
			if is == nil {
				t.Fatalf("want %s at %s:%s", tc.code, tc.path, dumpIssues(res))
			}
			sev := tc.severity
			if sev == "" {
				sev = SeverityError
			}
			if is.Severity != sev {
				t.Errorf("severity = %s, want %s", is.Severity, sev)
			}
			if sev == SeverityError && res.Valid {
				t.Error("result is valid despite an error")
			}
			if tc.line != 0 && is.Line != tc.line {
				t.Errorf("line = %d, want %d (%s)", is.Line, tc.line, is)
			}
			if is.File == "" {
				t.Errorf("issue has no file: %s", is)
			}
			if !strings.Contains(is.Message, tc.msg) {
				t.Errorf("message %q does not mention %q", is.Message, tc.msg)
			}
		})
	}
}

func TestObjectRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"upper-case object name", map[string]string{"x": "name: Account\nfields: {}\n"}, CodeInvalidIdentifier, "objects[0].name", "", 1, "^[a-z_][a-z0-9_]*$"},
		{"object name with dash", map[string]string{"x": "name: my-object\nfields: {}\n"}, CodeInvalidIdentifier, "objects[0].name", "", 1, ""},
		{"object name missing", map[string]string{"x": "label: X\nfields: {}\n"}, CodeMissingRequired, "objects[0].name", "", 0, "empty"},
		{"fields missing", map[string]string{"x": "name: x\n"}, CodeMissingRequired, "objects.x", "", 1, "no fields"},
		{"reserved word object", map[string]string{"x": "name: select\nfields: {}\n"}, CodeReservedName, "objects.select.name", "", 1, "reserved word"},
		{"sqlite_ object", map[string]string{"x": "name: sqlite_stat1\nfields: {}\n"}, CodeReservedName, "objects.sqlite_stat1.name", "", 1, "sqlite_"},
		{"_objectstack object", map[string]string{"x": "name: _objectstack_objects\nfields: {}\n"}, CodeReservedName, "objects._objectstack_objects.name", "", 1, "_objectstack"},
		{"overlong object name", map[string]string{"x": "name: " + strings.Repeat("a", 64) + "\nfields: {}\n"}, CodeInvalidIdentifier, "objects." + strings.Repeat("a", 64) + ".name", "", 1, "longer than"},
		{"duplicate object across files", map[string]string{"x": "name: x\nfields: {}\n", "y": "name: x\nfields: {}\n"}, CodeDuplicateName, "objects.x.name", "", 1, "defined twice"},
		{"qualified name to reserved table", map[string]string{"x": "name: crm__order\nfields: {}\n"}, CodeReservedName, "objects.crm__order.name", "", 1, "table \"order\""},
		{"qualified name to digit table", map[string]string{"x": "name: crm__1x\nfields: {}\n"}, CodeInvalidIdentifier, "objects.crm__1x.name", "", 1, "not a valid identifier"},
		{"two objects one table", map[string]string{"x": "name: account\nfields: {}\n", "y": "name: crm__account\nfields: {}\n"}, CodeDuplicateName, "objects.crm__account.name", "", 1, "table"},
		{"soft delete field", x("  a: { type: text }\n", "softDelete: { enabled: true, field: Deleted }\n"), CodeInvalidIdentifier, "objects.x.softDelete.field", "", 4, ""},
		{"unknown object key", x("  a: { type: text }\n", "workflows: []\n"), CodeUnknownKey, "objects.x.workflows", SeverityWarning, 4, "unknown key"},
	})
}

func TestFieldRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"field key upper-case", x("  Title: { type: text }\n"), CodeInvalidIdentifier, "objects.x.fields.Title", "", 3, ""},
		{"field key digit first", x("  1st: { type: text }\n"), CodeInvalidIdentifier, "objects.x.fields.1st", "", 3, ""},
		{"field key reserved", x("  order: { type: number }\n"), CodeReservedName, "objects.x.fields.order", "", 3, "reserved word"},
		{"field key sqlite_", x("  sqlite_x: { type: text }\n"), CodeReservedName, "objects.x.fields.sqlite_x", "", 3, ""},
		{"field name invalid", x("  a: { type: text, name: 'A b' }\n"), CodeInvalidIdentifier, "objects.x.fields.a.name", "", 3, ""},
		{"column name invalid", x("  a: { type: text, columnName: Col }\n"), CodeInvalidIdentifier, "objects.x.fields.a.columnName", "", 3, ""},
		{"column name reserved", x("  a: { type: text, columnName: group }\n"), CodeReservedName, "objects.x.fields.a.columnName", "", 3, ""},
		{"system column id ignored", x("  id: { type: text }\n"), CodeSystemField, "objects.x.fields.id", SeverityWarning, 3, "ignored"},
		{"system column created_at ignored", x("  created_at: { type: datetime }\n"), CodeSystemField, "objects.x.fields.created_at", SeverityWarning, 3, "ignored"},
		{"system column conflicting type", x("  created_at:\n    type: number\n"), CodeSystemConflict, "objects.x.fields.created_at.type", "", 4, "system column"},
		{"system column via columnName", x("  ident: { type: number, columnName: id }\n"), CodeSystemConflict, "objects.x.fields.ident.type", "", 3, ""},
		{"two fields one column", x("  a: { type: text, columnName: b }\n  b: { type: text }\n"), CodeDuplicateName, "objects.x.fields.b", "", 4, "column"},
		{"unknown type", x("  a: { type: integer }\n"), CodeUnknownFieldType, "objects.x.fields.a.type", "", 3, "unknown field type"},
		{"unknown type suggestion", x("  a: { type: txt }\n"), CodeUnknownFieldType, "objects.x.fields.a.type", "", 3, "did you mean text?"},
		{"driver spelling auto_number", x("  a: { type: auto_number }\n"), CodeUnknownFieldType, "objects.x.fields.a.type", "", 3, "did you mean autonumber?"},
		{"missing type", x("  a: { label: A }\n"), CodeMissingRequired, "objects.x.fields.a.type", "", 3, "no type"},
		{"typo key", x("  a: { type: text, requred: true }\n"), CodeUnknownKey, "objects.x.fields.a.requred", SeverityWarning, 3, "did you mean required?"},
		{"maxLength negative", x("  a: { type: text, maxLength: -1 }\n"), CodeInvalidValue, "objects.x.fields.a.maxLength", "", 3, "≥ 0"},
		{"minLength negative", x("  a: { type: text, minLength: -2 }\n"), CodeInvalidValue, "objects.x.fields.a.minLength", "", 3, "≥ 0"},
		{"minLength above maxLength", x("  a: { type: text, minLength: 5, maxLength: 2 }\n"), CodeInvalidValue, "objects.x.fields.a.minLength", "", 3, "greater than"},
		{"min above max", x("  a: { type: number, min: 10, max: 1 }\n"), CodeInvalidValue, "objects.x.fields.a.min", "", 3, "greater than"},
		{"scale above precision", x("  a: { type: number, precision: 2, scale: 4 }\n"), CodeInvalidValue, "objects.x.fields.a.scale", "", 3, ""},
		{"deleteBehavior enum", x("  a: { type: lookup, reference: x, deleteBehavior: nullify }\n"), CodeInvalidEnum, "objects.x.fields.a.deleteBehavior", "", 3, "set_null, cascade, restrict"},
		{"lookup without reference", x("  a: { type: lookup }\n"), CodeMissingRequired, "objects.x.fields.a.reference", "", 3, "needs a reference"},
		{"lookup to nothing", x("  owner: { type: lookup, reference: sys_user }\n"), CodeDanglingReference, "objects.x.fields.owner.reference", "", 3, "field owner references object sys_user"},
		{"master_detail to nothing", x("  parent:\n    type: master_detail\n    reference: ghost\n"), CodeDanglingReference, "objects.x.fields.parent.reference", "", 5, "ghost"},
		{"lookup to abstract", with(x("  a: { type: lookup, reference: base }\n"), "base", "name: base\nabstract: true\nfields: {}\n"), CodeDanglingReference, "objects.x.fields.a.reference", "", 3, "abstract"},
		{"required set_null", x("  a: { type: lookup, reference: x, required: true }\n"), CodeIgnoredSetting, "objects.x.fields.a.deleteBehavior", SeverityWarning, 3, "set_null"},
		{"formula without expression", x("  a: { type: formula }\n"), CodeMissingRequired, "objects.x.fields.a.expression", "", 3, ""},
		{"summary to nothing", x("  total: { type: summary, summaryOperations: { object: ghost, field: amount, function: sum } }\n"), CodeDanglingReference, "objects.x.fields.total.summaryOperations.object", "", 3, "ghost"},
		{"summary field missing", with(x("  total: { type: summary, summaryOperations: { object: y, field: amount, function: sum } }\n"), "y", "name: y\nfields:\n  a: { type: number }\n"), CodeDanglingReference, "objects.x.fields.total.summaryOperations.field", "", 3, "no field amount"},
		{"summary function enum", x("  total: { type: summary, summaryOperations: { object: x, function: median } }\n"), CodeInvalidEnum, "objects.x.fields.total.summaryOperations.function", "", 3, ""},
		{"vector without config", x("  v: { type: vector }\n"), CodeMissingRequired, "objects.x.fields.v.vectorConfig", "", 3, ""},
		{"vector zero dims", x("  v: { type: vector, vectorConfig: { dimensions: 0 } }\n"), CodeInvalidValue, "objects.x.fields.v.vectorConfig.dimensions", "", 3, "between 1 and 10000"},
		{"vector too many dims", x("  v:\n    type: vector\n    vectorConfig:\n      dimensions: 10001\n"), CodeInvalidValue, "objects.x.fields.v.vectorConfig.dimensions", "", 6, ""},
		{"vector metric", x("  v: { type: vector, vectorConfig: { dimensions: 3, distanceMetric: hamming } }\n"), CodeInvalidEnum, "objects.x.fields.v.vectorConfig.distanceMetric", "", 3, ""},
		{"currency precision", x("  c: { type: currency, currencyConfig: { precision: 11 } }\n"), CodeInvalidValue, "objects.x.fields.c.currencyConfig.precision", "", 3, ""},
		{"currency mode", x("  c: { type: currency, currencyConfig: { currencyMode: floating } }\n"), CodeInvalidEnum, "objects.x.fields.c.currencyConfig.currencyMode", "", 3, ""},
		{"autonumber format key", x("  n: { type: autonumber, format: 'N-{0000}' }\n"), CodeUnknownKey, "objects.x.fields.n.format", SeverityWarning, 3, "autonumberFormat"},
		{"options on text", x("  a: { type: text, options: [ { label: A, value: aa } ] }\n"), CodeIgnoredSetting, "objects.x.fields.a.options", SeverityWarning, 3, ""},
	})
}

const statusField = `  status:
    type: select
    defaultValue: open
    options:
      - { label: Open, value: open }
      - { label: Closed, value: closed }
`

func TestOptionRules(t *testing.T) {
	opts := func(third string) map[string]string {
		return x(statusField + "      - " + third + "\n")
	}
	runRuleCases(t, []ruleCase{
		{"upper-case value", opts("{ label: New, value: New }"), CodeInvalidOptionValue, "objects.x.fields.status.options[2].value", "", 9, "^[a-z][a-z0-9_.]*$"},
		{"one-char value", opts("{ label: A, value: a }"), CodeInvalidOptionValue, "objects.x.fields.status.options[2].value", "", 9, "at least 2"},
		{"value starting with digit", opts("{ label: A, value: 1st }"), CodeInvalidOptionValue, "objects.x.fields.status.options[2].value", "", 9, ""},
		{"value with dash", opts("{ label: A, value: on-hold }"), CodeInvalidOptionValue, "objects.x.fields.status.options[2].value", "", 9, ""},
		{"numeric value", opts("{ label: A, value: 12 }"), CodeInvalidType, "objects.x.fields.status.options[2].value", "", 9, "string"},
		{"duplicate value", opts("{ label: Open again, value: open }"), CodeDuplicateName, "objects.x.fields.status.options[2].value", "", 9, "repeats options[0]"},
		{"missing value", opts("{ label: A }"), CodeMissingRequired, "objects.x.fields.status.options[2].value", "", 9, ""},
		{"missing label", opts("{ value: pending }"), CodeMissingRequired, "objects.x.fields.status.options[2].label", "", 9, ""},
		{"unknown option key", opts("{ label: A, value: pending, colour: red }"), CodeUnknownKey, "objects.x.fields.status.options[2].colour", SeverityWarning, 9, "did you mean color?"},
		{"no options", x("  s: { type: radio }\n"), CodeMissingRequired, "objects.x.fields.s.options", SeverityWarning, 3, "no options"},
	})
}

func TestDefaultValueRules(t *testing.T) {
	d := func(def string) map[string]string { return x("  f: { " + def + " }\n") }
	runRuleCases(t, []ruleCase{
		{"number from string", d("type: number, defaultValue: abc"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "must be a number"},
		{"currency from bool", d("type: currency, defaultValue: true"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "number"},
		{"rating below min", d("type: rating, min: 1, max: 5, defaultValue: 0"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "below min"},
		{"percent above max", d("type: percent, max: 100, defaultValue: 101"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "above max"},
		{"boolean from yes", d("type: boolean, defaultValue: 'yes'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "true or false"},
		{"toggle from number", d("type: toggle, defaultValue: 1"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "true or false"},
		{"select not an option", x(strings.Replace(statusField, "defaultValue: open", "defaultValue: archived", 1)), CodeInvalidDefault, "objects.x.fields.status.defaultValue", "", 5, "not one of the options"},
		{"radio not a string", x("  r: { type: radio, defaultValue: 3, options: [ { label: A, value: aa } ] }\n"), CodeInvalidDefault, "objects.x.fields.r.defaultValue", "", 3, ""},
		{"multiselect scalar", x("  m: { type: multiselect, defaultValue: aa, options: [ { label: A, value: aa } ] }\n"), CodeInvalidDefault, "objects.x.fields.m.defaultValue", "", 3, "list of option values"},
		{"checkboxes unknown option", x("  m: { type: checkboxes, defaultValue: [aa, zz], options: [ { label: A, value: aa } ] }\n"), CodeInvalidDefault, "objects.x.fields.m.defaultValue", "", 3, "defaultValue[1]"},
		{"tags of numbers", d("type: tags, defaultValue: [1, 2]"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "string"},
		{"date invalid month", d("type: date, defaultValue: '2024-13-01'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "YYYY-MM-DD"},
		{"date as datetime", d("type: date, defaultValue: '2024-01-01T00:00:00Z'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, ""},
		{"datetime word", d("type: datetime, defaultValue: yesterday"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "RFC 3339"},
		{"datetime NOW()", d("type: datetime, defaultValue: 'NOW()'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, ""},
		{"time out of range", d("type: time, defaultValue: '25:00:00'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "HH:MM:SS"},
		{"text from number", d("type: text, defaultValue: 5"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "string"},
		{"text too long", d("type: text, maxLength: 3, defaultValue: abcd"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "maxLength is 3"},
		{"email from list", d("type: email, defaultValue: [a]"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, ""},
		{"formula default", d("type: formula, expression: 'a + 1', defaultValue: 1"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "computed"},
		{"autonumber default", d("type: autonumber, defaultValue: 'A-1'"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "computed"},
		{"multiple text scalar", d("type: text, multiple: true, defaultValue: a"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "list"},
		{"vector wrong length", d("type: vector, vectorConfig: { dimensions: 3 }, defaultValue: [1, 2]"), CodeInvalidDefault, "objects.x.fields.f.defaultValue", "", 3, "3 dimensions"},
	})
}

func TestValidDefaultsAndInjectionAsData(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		"bundle.yaml": baseManifest + "objects: [x]\n",
		"objects/x.yaml": `name: x
fields:
  t:   { type: text, defaultValue: 'x"; DROP TABLE y; --' }
  q:   { type: textarea, defaultValue: "it's; -- fine" }
  n:   { type: number, defaultValue: 1.5 }
  i:   { type: number, min: 0, max: 10, defaultValue: 10 }
  b:   { type: boolean, defaultValue: true }
  tg:  { type: toggle, defaultValue: false }
  d:   { type: date, defaultValue: 2024-02-29 }
  dt:  { type: datetime, defaultValue: "2024-02-29T10:00:00Z" }
  tm:  { type: time, defaultValue: "23:59:59" }
  s:   { type: select, defaultValue: open, options: [ { label: Open, value: open } ] }
  ms:  { type: multiselect, defaultValue: [open], options: [ { label: Open, value: open } ] }
  tags: { type: tags, defaultValue: [a, b] }
  j:   { type: json, defaultValue: { a: [1, 2, { b: null }] } }
  v:   { type: vector, vectorConfig: { dimensions: 2 }, defaultValue: [0.5, 1] }
  r:   { type: rating, defaultValue: 3 }
  mt:  { type: text, multiple: true, defaultValue: [a, b] }
  pct: { type: percent, defaultValue: 0 }
`,
	})
	b, res := loadOK(t, dir)
	if !res.Valid || res.WarningCount != 0 {
		t.Fatalf("want a clean bundle:%s", dumpIssues(res))
	}
	f, _ := b.Objects[0].Field("t")
	if f.DefaultValue != `x"; DROP TABLE y; --` {
		t.Errorf("text default not kept verbatim: %#v", f.DefaultValue)
	}
	d, _ := b.Objects[0].Field("d")
	if d.DefaultValue != "2024-02-29" {
		t.Errorf("an unquoted YAML date must stay the text the author wrote, got %#v", d.DefaultValue)
	}
	i, _ := b.Objects[0].Field("i")
	if i.DefaultValue != int64(10) {
		t.Errorf("integer default = %#v, want int64(10)", i.DefaultValue)
	}
}

func TestIndexRules(t *testing.T) {
	base := "  a: { type: text }\n  calc: { type: formula, expression: 'a' }\n"
	idx := func(lines string) map[string]string { return x(base, "indexes:\n"+lines) }
	runRuleCases(t, []ruleCase{
		{"index field missing", idx("  - { fields: [a] }\n  - { fields: [nope] }\n"), CodeDanglingReference, "objects.x.indexes[1].fields[0]", "", 7, "not a field of x"},
		{"index field typo", idx("  - fields:\n      - created_a\n"), CodeDanglingReference, "objects.x.indexes[0].fields[0]", "", 7, "did you mean created_at?"},
		{"index of formula", idx("  - { fields: [calc] }\n"), CodeInvalidValue, "objects.x.indexes[0].fields[0]", "", 6, "formula"},
		{"index without fields", idx("  - { name: idx_x_none }\n"), CodeMissingRequired, "objects.x.indexes[0].fields", "", 6, ""},
		{"index field twice", idx("  - { fields: [a, a] }\n"), CodeDuplicateName, "objects.x.indexes[0].fields[1]", "", 6, "twice"},
		{"index name invalid", idx("  - { name: Idx, fields: [a] }\n"), CodeInvalidIdentifier, "objects.x.indexes[0].name", "", 6, ""},
		{"index name reserved", idx("  - { name: sqlite_autoindex_x_1, fields: [a] }\n"), CodeReservedName, "objects.x.indexes[0].name", "", 6, ""},
		{"index name duplicate", idx("  - { name: idx_a, fields: [a] }\n  - { name: idx_a, fields: [created_at] }\n"), CodeDuplicateName, "objects.x.indexes[1].name", "", 7, "already used"},
		{"index name across objects", with(idx("  - { name: idx_a, fields: [a] }\n"), "y", "name: y\nfields:\n  a: { type: text }\nindexes:\n  - { name: idx_a, fields: [a] }\n"), CodeDuplicateName, "objects.y.indexes[0].name", "", 5, "already used"},
		{"index name equals a table", with(idx("  - { name: y, fields: [a] }\n"), "y", "name: y\nfields: {}\n"), CodeDuplicateName, "objects.x.indexes[0].name", "", 6, "namespace"},
		{"index type enum", idx("  - { fields: [a], type: bitmap }\n"), CodeInvalidEnum, "objects.x.indexes[0].type", "", 6, "btree"},
		{"index type ignored", idx("  - { fields: [a], type: gin }\n"), CodeIgnoredSetting, "objects.x.indexes[0].type", SeverityWarning, 6, "btree"},
		{"partial unbalanced", idx("  - { fields: [a], partial: 'a = 1)' }\n"), CodeUnsafeExpression, "objects.x.indexes[0].partial", "", 6, "unbalanced"},
		{"partial unterminated quote", idx("  - { fields: [a], partial: \"a = 'x\" }\n"), CodeUnsafeExpression, "objects.x.indexes[0].partial", "", 6, "unterminated"},
		{"unknown index key", idx("  - { fields: [a], uniq: true }\n"), CodeUnknownKey, "objects.x.indexes[0].uniq", SeverityWarning, 6, "did you mean unique?"},
	})
}

func TestPartialIndexThatIsSafe(t *testing.T) {
	for _, p := range []string{"a IS NOT NULL", "status = 'it''s; fine -- really'", "(a > 1) AND (b < 2)", `"a" = 'x'`} {
		if msg := unsafeSQL(p); msg != "" {
			t.Errorf("unsafeSQL(%q) = %q, want accepted", p, msg)
		}
	}
}

func TestSeedRules(t *testing.T) {
	obj := map[string]string{"x": "name: x\nfields:\n  name: { type: text, required: true }\n" + strings.Replace(statusField, "defaultValue: open", "required: true", 1) + "  calc: { type: formula, expression: name }\n  n: { type: number }\n"}
	seed := func(body string) map[string]string {
		m := map[string]string{}
		for k, v := range obj {
			m[k] = v
		}
		m["seed/x.yaml"] = body
		return m
	}
	recs := "records:\n  - { name: a, status: open }\n  - { name: b, status: closed }\n  - { name: c, status: open }\n"
	runRuleCases(t, []ruleCase{
		{"unknown object", seed("object: ghost\n" + recs), CodeDanglingReference, "seedData[0].object", "", 1, "ghost"},
		{"invalid object", seed("object: 'x; DROP'\n" + recs), CodeInvalidIdentifier, "seedData[0].object", "", 1, ""},
		{"mode enum", seed("object: x\nmode: merge\n" + recs), CodeInvalidEnum, "seedData[0].mode", "", 2, "upsert"},
		{"env enum", seed("object: x\nenv: [prod, staging]\n" + recs), CodeInvalidEnum, "seedData[0].env[1]", "", 2, ""},
		{"externalId not a field", seed("object: x\nexternalId: code\n" + recs), CodeDanglingReference, "seedData[0].externalId", "", 2, "not a field"},
		{"record bad option", seed("object: x\n" + recs + "  - { name: d, status: archived }\n"), CodeInvalidRecord, "seedData[0].records[3].status", "", 6, "not one of the options"},
		{"record unknown field", seed("object: x\n" + recs + "  - { name: d, status: open, statsu: open }\n"), CodeInvalidRecord, "seedData[0].records[3].statsu", "", 6, "did you mean status?"},
		{"record wrong type", seed("object: x\nrecords:\n  - { name: a, status: open, n: many }\n"), CodeInvalidRecord, "seedData[0].records[0].n", "", 3, "number"},
		{"record formula", seed("object: x\nrecords:\n  - { name: a, status: open, calc: 1 }\n"), CodeInvalidRecord, "seedData[0].records[0].calc", "", 3, "computed"},
		{"record system column", seed("object: x\nrecords:\n  - { name: a, status: open, created_at: '2024-01-01' }\n"), CodeInvalidRecord, "seedData[0].records[0].created_at", "", 3, "set by the engine"},
		{"record missing required", seed("object: x\nrecords:\n  - { name: a }\n"), CodeInvalidRecord, "seedData[0].records[0]", "", 3, "required field status"},
		{"record missing externalId", seed("object: x\nrecords:\n  - { status: open }\n"), CodeInvalidRecord, "seedData[0].records[0]", "", 3, "no name"},
		{"record duplicate externalId", seed("object: x\n" + recs + "  - { name: a, status: open }\n"), CodeInvalidRecord, "seedData[0].records[3].name", "", 6, "repeats records[0]"},
		{"record null required", seed("object: x\nrecords:\n  - { name: a, status: null }\n"), CodeInvalidRecord, "seedData[0].records[0].status", "", 3, "may not be null"},
		{"unknown dataset key", seed("object: x\nrecods: []\n" + recs), CodeUnknownKey, "seedData[0].recods", SeverityWarning, 2, "did you mean records?"},
	})
}

func TestKnownObjectsSatisfyReferences(t *testing.T) {
	objs := []Object{{Name: "ticket", Fields: []Field{{Key: "owner", Type: TypeLookup, Reference: "sys_user"}}}}
	res := ValidateObjects(objs, Context{})
	is := findIssue(res, CodeDanglingReference, "objects.ticket.fields.owner.reference")
	if is == nil {
		t.Fatalf("want dangling_reference:%s", dumpIssues(res))
	}
	if res := ValidateObjects(objs, Context{KnownObjects: []string{"sys_user"}}); !res.Valid {
		t.Fatalf("a known object satisfies the lookup:%s", dumpIssues(res))
	}
	// Datasets may target objects owned elsewhere too.
	p := &Parts{Objects: objs, SeedData: []Dataset{{Object: "sys_user", Records: []map[string]any{{"name": "a"}}}}}
	if res := ValidateParts(p, Context{KnownObjects: []string{"sys_user"}}); !res.Valid {
		t.Fatalf("dataset for a known object:%s", dumpIssues(res))
	}
}

func TestObjectsBuiltInCodeValidate(t *testing.T) {
	ml := 5
	objs := []Object{{Name: "a", Fields: []Field{
		{Key: "n", Type: TypeNumber, DefaultValue: 3},          // a Go int
		{Key: "f", Type: TypeNumber, DefaultValue: float32(1)}, // a float32
		{Key: "t", Type: TypeText, MaxLength: &ml, DefaultValue: "abc"},
		{Key: "tags", Type: TypeTags, DefaultValue: []string{"a"}},
	}}}
	if res := ValidateObjects(objs, Context{}); !res.Valid {
		t.Fatalf("want valid:%s", dumpIssues(res))
	}
	objs[0].Fields = append(objs[0].Fields, Field{Key: "", Type: TypeText}, Field{Key: "z", Type: "strng"})
	res := ValidateObjects(objs, Context{})
	if findIssue(res, CodeMissingRequired, `objects.a.fields[""]`) == nil || findIssue(res, CodeUnknownFieldType, "objects.a.fields.z.type") == nil {
		t.Fatalf("want an empty-key and an unknown-type error:%s", dumpIssues(res))
	}
}

func TestEveryFieldTypeIsAccepted(t *testing.T) {
	var fields []Field
	for _, ft := range AllFieldTypes {
		f := Field{Key: "f_" + string(ft), Type: ft}
		switch {
		case isReference(ft):
			f.Reference = "a"
		case ft == TypeFormula:
			f.Expression = "1"
		case ft == TypeSummary:
			f.SummaryOperations = &SummaryOperations{Object: "a", Function: "count"}
		case ft == TypeVector:
			f.VectorConfig = &VectorConfig{Dimensions: 4}
		case isChoice(ft):
			f.Options = []Option{{Label: "A", Value: "aa"}}
		}
		fields = append(fields, f)
	}
	if len(fields) != 44 {
		t.Fatalf("%d field types, want 44", len(fields))
	}
	res := ValidateObjects([]Object{{Name: "a", Fields: fields}}, Context{})
	if !res.Valid || res.WarningCount != 0 {
		t.Fatalf("every protocol type must validate:%s", dumpIssues(res))
	}
}

func TestIssueCap(t *testing.T) {
	var fields []Field
	for i := 0; i < MaxIssues+50; i++ {
		fields = append(fields, Field{Key: "f", Type: "nope"})
	}
	res := ValidateObjects([]Object{{Name: "a", Fields: fields}}, Context{})
	if len(res.Issues) != MaxIssues+1 || res.Valid {
		t.Fatalf("got %d issues, valid=%v", len(res.Issues), res.Valid)
	}
	last := res.Issues[len(res.Issues)-1]
	if last.Code != CodeTooManyIssues || last.Severity != SeverityError {
		t.Fatalf("last issue = %s", last)
	}
}
