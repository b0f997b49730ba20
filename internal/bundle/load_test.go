package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExamplesValidateWithoutErrors(t *testing.T) {
	for _, name := range []string{"crm", "crm-v2"} {
		t.Run(name, func(t *testing.T) {
			b, res := loadOK(t, filepath.Join(examplesDir(t), name))
			if !res.Valid || res.ErrorCount != 0 || res.WarningCount != 0 {
				t.Fatalf("want a clean bundle, got %d errors, %d warnings:%s", res.ErrorCount, res.WarningCount, dumpIssues(res))
			}
			if b.Manifest.Name != "crm" {
				t.Errorf("manifest name = %q", b.Manifest.Name)
			}
			if len(b.Checksum) != 64 {
				t.Errorf("checksum = %q", b.Checksum)
			}
			st, ok := b.Object("support_ticket")
			if !ok {
				t.Fatal("support_ticket missing")
			}
			// Declaration order survives loading.
			var keys []string
			for _, f := range st.Fields {
				keys = append(keys, f.Key)
			}
			want := "ticket_number subject description status priority account contact_email due_at escalated labels hours_spent"
			if got := strings.Join(keys, " "); got != want {
				t.Errorf("field order\n got %s\nwant %s", got, want)
			}
			status, _ := st.Field("status")
			if status.DefaultValue != "new" || len(status.Options) != 5 || status.Options[3].Value != "resolved" {
				t.Errorf("status field decoded wrongly: %+v", status)
			}
			if st.Lines["fields.status.options[2].value"] != 18 {
				t.Errorf("line of fields.status.options[2].value = %d, want 18", st.Lines["fields.status.options[2].value"])
			}
			if st.Source != name+"/objects/support_ticket.yaml" {
				t.Errorf("source = %q", st.Source)
			}
			if _, ok := st.Extra["enable"]; !ok {
				t.Errorf("enable (a UI-only protocol key) should be kept in Extra")
			}
			if len(b.SeedData) != 1 || b.SeedData[0].Object != "account" || len(b.SeedData[0].Records) != 3 {
				t.Errorf("seed data = %+v", b.SeedData)
			}
		})
	}
}

func TestCRMv2IsANonDestructiveEvolution(t *testing.T) {
	v1, _ := loadOK(t, filepath.Join(examplesDir(t), "crm"))
	v2, _ := loadOK(t, filepath.Join(examplesDir(t), "crm-v2"))
	if v1.Checksum == v2.Checksum {
		t.Fatal("v1 and v2 have the same checksum")
	}
	newFields, newIndexes := 0, 0
	for _, o1 := range v1.Objects {
		o2, ok := v2.Object(o1.Name)
		if !ok {
			t.Fatalf("v2 drops object %s", o1.Name)
		}
		for _, f1 := range o1.Fields {
			f2, ok := o2.Field(f1.Key)
			if !ok {
				t.Fatalf("v2 drops %s.%s", o1.Name, f1.Key)
			}
			if ObjectChecksum(Object{Name: "x", Fields: []Field{f1}}) != ObjectChecksum(Object{Name: "x", Fields: []Field{*f2}}) {
				t.Errorf("v2 changes %s.%s", o1.Name, f1.Key)
			}
		}
		newFields += len(o2.Fields) - len(o1.Fields)
		newIndexes += len(o2.Indexes) - len(o1.Indexes)
	}
	if newFields != 1 || newIndexes != 1 || len(v2.Objects)-len(v1.Objects) != 1 {
		t.Errorf("want one new field, index and object; got %d, %d, %d", newFields, newIndexes, len(v2.Objects)-len(v1.Objects))
	}
}

func TestLoadPartsWithoutManifest(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		"app.yaml":          "name: helpdesk\n",
		"objects/a.yaml":    "name: a\nfields:\n  title: { type: text }\n",
		"objects/b.json":    `{"name": "b", "fields": {"a": {"type": "lookup", "reference": "a"}}}`,
		"seed/a.yaml":       "- object: a\n  externalId: title\n  records: [{ title: one }]\n- object: b\n  mode: insert\n  records: [{ a: x }]\n",
		"views/list.yaml":   "name: a_list\nobject: a\n",
		"objects/README.md": "ignored",
	})
	p, res, err := LoadParts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Objects) != 2 || len(p.SeedData) != 2 || len(p.Views) != 1 {
		t.Fatalf("parts = %d objects, %d datasets, %d views", len(p.Objects), len(p.SeedData), len(p.Views))
	}
	if is := findIssue(res, CodeIgnoredFile, ""); is == nil || is.File != "b/objects/README.md" {
		t.Errorf("README.md should be reported as ignored:%s", dumpIssues(res))
	}
	if p.RecordFiles["seedData[1]"] != "b/seed/a.yaml" {
		t.Errorf("RecordFiles = %v", p.RecordFiles)
	}
	if p.SeedData[0].Mode != "upsert" || p.SeedData[1].ExternalID != "name" || len(p.SeedData[0].Env) != 3 {
		t.Errorf("dataset defaults not applied: %+v", p.SeedData)
	}
	vr := ValidateParts(p, Context{})
	if !vr.Valid {
		t.Fatalf("parts should be valid:%s", dumpIssues(vr))
	}
}

func TestLoadMissingFolderIsAnIOError(t *testing.T) {
	if _, _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

// TestMalformedBundles: every malformed input yields a clear, positioned error issue; Load never panics and
// never returns an I/O error for content problems.
func TestMalformedBundles(t *testing.T) {
	huge := "name: big\nfields:\n  a: { type: text, description: \"" + strings.Repeat("x", MaxFileSize) + "\" }\n"
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	bomb.WriteString("name: bomb\nfields: {}\n")
	deep := "name: deep\nfields:\n  a: { type: json, defaultValue: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + " }\n"

	cases := []struct {
		name       string
		file, body string
		code, path string
		line       int
		msg        string
	}{
		{"broken yaml", "objects/x.yaml", "name: x\nfields:\n  a: { type: text\n  b: { type: text }\n", CodeParseError, "", -1, "invalid YAML"},
		{"broken yaml indentation", "objects/x.yaml", "name: x\nfields:\n  a:\n    type: text\n   b: 1\n", CodeParseError, "", -1, "invalid YAML"},
		{"broken json", "objects/x.json", "{\n  \"name\": \"x\",\n  \"fields\": {\n    \"a\": {\"type\": \"text\",}\n  }\n}\n", CodeParseError, "", 4, "invalid JSON"},
		{"truncated json", "objects/x.json", "{\n  \"name\": \"x\",\n  \"fields\": {\n", CodeParseError, "", 0, "unexpected end"},
		{"trailing json", "objects/x.json", "{\"name\": \"x\", \"fields\": {}}\n{}", CodeParseError, "", 2, "after the top-level value"},
		{"required yes string", "objects/x.yaml", "name: x\nfields:\n  a: { type: text, required: \"yes\" }\n", CodeInvalidType, "objects.x.fields.a.required", 3, "must be true or false"},
		{"maxLength string", "objects/x.yaml", "name: x\nfields:\n  a:\n    type: text\n    maxLength: long\n", CodeInvalidType, "objects.x.fields.a.maxLength", 5, "whole number"},
		{"fields as list", "objects/x.yaml", "name: x\nfields:\n  - { name: a, type: text }\n", CodeInvalidType, "objects.x.fields", 2, "mapping"},
		{"field as scalar", "objects/x.yaml", "name: x\nfields:\n  a: text\n", CodeInvalidType, "objects.x.fields.a", 3, "mapping"},
		{"object name number", "objects/x.yaml", "name: 12\nfields: {}\n", CodeInvalidType, "objects[0].name", 1, "must be a string"},
		{"top-level list", "objects/x.yaml", "- name: x\n", CodeInvalidType, "objects[0]", 1, "one object definition per file"},
		{"injection object name", "objects/x.yaml", "name: 'x\"; DROP TABLE y; --'\nfields:\n  a: { type: text }\n", CodeInvalidIdentifier, "objects[0].name", 1, "must match"},
		{"injection field key", "objects/x.yaml", "name: x\nfields:\n  'x\"; DROP TABLE y; --': { type: text }\n", CodeInvalidIdentifier, `objects.x.fields["x\"; DROP TABLE y; --"]`, 3, "must match"},
		{"injection index name", "objects/x.yaml", "name: x\nfields:\n  a: { type: text }\nindexes:\n  - { name: 'i\"; DROP TABLE y; --', fields: [a] }\n", CodeInvalidIdentifier, "objects.x.indexes[0].name", 5, "must match"},
		{"injection column name", "objects/x.yaml", "name: x\nfields:\n  a: { type: text, columnName: 'a\" TEXT); DROP TABLE y; --' }\n", CodeInvalidIdentifier, "objects.x.fields.a.columnName", 3, "must match"},
		{"injection reference", "objects/x.yaml", "name: x\nfields:\n  a: { type: lookup, reference: 'y\"(id)); DROP TABLE y; --' }\n", CodeInvalidIdentifier, "objects.x.fields.a.reference", 3, "not a valid object name"},
		{"injection partial index", "objects/x.yaml", "name: x\nfields:\n  a: { type: text }\nindexes:\n  - { fields: [a], partial: \"a = 1; DROP TABLE y\" }\n", CodeUnsafeExpression, "objects.x.indexes[0].partial", 5, "';'"},
		{"injection partial comment", "objects/x.yaml", "name: x\nfields:\n  a: { type: text }\nindexes:\n  - { fields: [a], partial: \"a = 1) --\" }\n", CodeUnsafeExpression, "objects.x.indexes[0].partial", 5, ""},
		{"duplicate yaml key", "objects/x.yaml", "name: x\nfields:\n  a: { type: text }\n  a: { type: number }\n", CodeDuplicateKey, "", 4, `"a" is defined twice (first at line 3)`},
		{"duplicate yaml top key", "objects/x.yaml", "name: x\nname: y\nfields: {}\n", CodeDuplicateKey, "", 2, "defined twice"},
		{"duplicate json key", "objects/x.json", "{\n  \"name\": \"x\",\n  \"fields\": {\n    \"a\": {\"type\": \"text\"},\n    \"a\": {\"type\": \"number\"}\n  }\n}\n", CodeDuplicateKey, "", 5, `"a" is defined twice (first at line 4)`},
		{"non utf8", "objects/x.yaml", "name: x\nfields:\n  a: { type: text, label: \"caf\xe9\" }\n", CodeInvalidEncoding, "", 3, "UTF-8"},
		{"huge file", "objects/big.yaml", huge, CodeFileTooLarge, "", 0, "4 MiB"},
		{"empty file", "objects/x.yaml", "", CodeParseError, "", 1, "empty"},
		{"comment only", "objects/x.yaml", "# nothing\n", CodeParseError, "", 1, "empty"},
		{"two documents", "objects/x.yaml", "name: x\nfields: {}\n---\nname: y\nfields: {}\n", CodeParseError, "", 3, "more than one YAML document"},
		{"alias bomb", "objects/x.yaml", bomb.String(), CodeTooLarge, "", 0, "alias"},
		{"deep nesting", "objects/x.yaml", deep, CodeParseError, "", 3, "nested deeper"},
		{"merge key", "objects/x.yaml", "base: &b { type: text }\nname: x\nfields:\n  a: { <<: *b }\n", CodeParseError, "", 4, "merge keys"},
		{"nan", "objects/x.yaml", "name: x\nfields:\n  a: { type: number, min: .nan }\n", CodeInvalidType, "", 3, "NaN"},
		{"huge number json", "objects/x.json", "{\"name\": \"x\", \"fields\": {\"a\": {\"type\": \"number\", \"max\": 1e999}}}", CodeInvalidType, "", 1, "out of range"},
		{"option plain strings", "objects/x.yaml", "name: x\nfields:\n  s: { type: select, options: [open, closed] }\n", CodeInvalidType, "objects.x.fields.s.options[0]", 3, "plain strings"},
		{"manifest version float", "bundle.yaml", "name: t\nversion: 1.0\n", CodeInvalidType, "manifest.version", 2, "quote it"},
		{"manifest broken", "bundle.yaml", "name: [t\n", CodeParseError, "", 0, "invalid YAML"},
		{"seed not a mapping", "seed/x.yaml", "- 1\n", CodeInvalidType, "seedData[0]", 1, "dataset mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"bundle.yaml": baseManifest, tc.file: tc.body}
			dir := writeBundle(t, files)
			b, res := loadOK(t, dir)
			if b == nil || res.Valid {
				t.Fatalf("want an invalid result:%s", dumpIssues(res))
			}
			var hit *Issue
			for i, is := range res.Issues {
				if is.Code == tc.code && is.Severity == SeverityError && (tc.path == "" || is.Path == tc.path) {
					hit = &res.Issues[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("want error %s at %q:%s", tc.code, tc.path, dumpIssues(res))
			}
			if want := "b/" + tc.file; hit.File != want {
				t.Errorf("file = %q, want %q", hit.File, want)
			}
			switch {
			case tc.line == -1 && hit.Line <= 0:
				t.Errorf("want a line number: %s", hit)
			case tc.line > 0 && hit.Line != tc.line:
				t.Errorf("line = %d, want %d (%s)", hit.Line, tc.line, hit)
			}
			if !strings.Contains(hit.Message, tc.msg) {
				t.Errorf("message %q does not mention %q", hit.Message, tc.msg)
			}
		})
	}
}

func TestBundleWideLimits(t *testing.T) {
	t.Run("file count", func(t *testing.T) {
		old := limitFiles
		limitFiles = 5
		t.Cleanup(func() { limitFiles = old })
		files := map[string]string{"bundle.yaml": baseManifest}
		for i := 0; i < 8; i++ {
			files[fmt.Sprintf("objects/o%d.yaml", i)] = fmt.Sprintf("name: o%d\nfields: {}\n", i)
		}
		_, res := loadOK(t, writeBundle(t, files))
		if res.Valid || !hasCode(res, CodeTooLarge) {
			t.Fatalf("want %s:%s", CodeTooLarge, dumpIssues(res))
		}
	})
	t.Run("total size", func(t *testing.T) {
		old := limitTotalSize
		limitTotalSize = 1000
		t.Cleanup(func() { limitTotalSize = old })
		files := map[string]string{"bundle.yaml": baseManifest}
		for i := 0; i < 4; i++ {
			files[fmt.Sprintf("objects/o%d.yaml", i)] = fmt.Sprintf("name: o%d\ndescription: %s\nfields: {}\n", i, strings.Repeat("x", 400))
		}
		_, res := loadOK(t, writeBundle(t, files))
		if res.Valid || !hasCode(res, CodeTooLarge) {
			t.Fatalf("want %s:%s", CodeTooLarge, dumpIssues(res))
		}
	})
}

func hasCode(res ValidationResult, code string) bool {
	for _, is := range res.Issues {
		if is.Code == code {
			return true
		}
	}
	return false
}

func TestManifestProblems(t *testing.T) {
	obj := "name: a\nfields:\n  t: { type: text }\n"
	cases := []struct {
		name     string
		files    map[string]string
		code     string
		path     string
		severity Severity
		line     int
	}{
		{"no manifest", map[string]string{"objects/a.yaml": obj}, CodeMissingManifest, "manifest", SeverityError, 0},
		{"two manifests", map[string]string{"bundle.yaml": baseManifest, "bundle.json": `{"name":"t","version":"1.0.0"}`, "objects/a.yaml": obj}, CodeAmbiguousManifest, "manifest", SeverityError, 0},
		{"no version", map[string]string{"bundle.yaml": "name: t\n", "objects/a.yaml": obj}, CodeMissingRequired, "manifest.version", SeverityError, 0},
		{"short version", map[string]string{"bundle.yaml": "name: t\nversion: \"1.0\"\n"}, CodeInvalidVersion, "manifest.version", SeverityError, 2},
		{"v prefix", map[string]string{"bundle.yaml": "name: t\nversion: v1.0.0\n"}, CodeInvalidVersion, "manifest.version", SeverityError, 2},
		{"not semver", map[string]string{"bundle.yaml": "name: t\nversion: latest\n"}, CodeInvalidVersion, "manifest.version", SeverityError, 2},
		{"no name", map[string]string{"bundle.yaml": "version: 1.0.0\n"}, CodeMissingRequired, "manifest.name", SeverityError, 0},
		{"bad name", map[string]string{"bundle.yaml": "name: 'My CRM'\nversion: 1.0.0\n"}, CodeInvalidIdentifier, "manifest.name", SeverityError, 1},
		{"bad createdAt", map[string]string{"bundle.yaml": baseManifest + "createdAt: yesterday\n"}, CodeInvalidValue, "manifest.createdAt", SeverityError, 3},
		{"listed but missing", map[string]string{"bundle.yaml": baseManifest + "objects: [a, b]\n", "objects/a.yaml": obj}, CodeMissingContent, "manifest.objects[1]", SeverityError, 3},
		{"present but unlisted", map[string]string{"bundle.yaml": baseManifest + "objects: []\n", "objects/a.yaml": obj}, CodeUnlistedContent, "objects.a.name", SeverityWarning, 1},
		{"view listed but missing", map[string]string{"bundle.yaml": baseManifest + "views:\n  - a_list\n"}, CodeMissingContent, "manifest.views[0]", SeverityError, 4},
		{"view unlisted", map[string]string{"bundle.yaml": baseManifest, "views/v.yaml": "name: a_list\n"}, CodeUnlistedContent, "views[0]", SeverityWarning, 0},
		{"listed twice", map[string]string{"bundle.yaml": baseManifest + "objects: [a, a]\n", "objects/a.yaml": obj}, CodeDuplicateName, "manifest.objects[1]", SeverityWarning, 3},
		{"unknown manifest key", map[string]string{"bundle.yaml": baseManifest + "objets: [a]\n"}, CodeUnknownKey, "manifest.objets", SeverityWarning, 3},
		{"checksum not hex", map[string]string{"bundle.yaml": baseManifest + "checksum: abc\n"}, CodeInvalidValue, "manifest.checksum", SeverityError, 3},
		{"checksum mismatch", map[string]string{"bundle.yaml": baseManifest + "checksum: \"" + strings.Repeat("0", 64) + "\"\n"}, CodeChecksumMismatch, "manifest.checksum", SeverityError, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, res := loadOK(t, writeBundle(t, tc.files))
			is := findIssue(res, tc.code, tc.path)
			if is == nil {
				t.Fatalf("want %s at %s:%s", tc.code, tc.path, dumpIssues(res))
			}
			if is.Severity != tc.severity {
				t.Errorf("severity = %s, want %s", is.Severity, tc.severity)
			}
			if tc.line != 0 && is.Line != tc.line {
				t.Errorf("line = %d, want %d", is.Line, tc.line)
			}
		})
	}
}

func TestBrokenObjectFileDoesNotAlsoReportMissingContent(t *testing.T) {
	_, res := loadOK(t, writeBundle(t, map[string]string{
		"bundle.yaml":    baseManifest + "objects: [a]\n",
		"objects/a.yaml": "name: a\nfields: {\n",
	}))
	if res.ErrorCount != 1 || !hasCode(res, CodeParseError) {
		t.Fatalf("want exactly the parse error:%s", dumpIssues(res))
	}
}

func TestDeclaredChecksumThatMatchesIsValid(t *testing.T) {
	src := filepath.Join(examplesDir(t), "crm")
	b, _ := loadOK(t, src)
	dir := copyDir(t, src)
	manifest := filepath.Join(dir, "bundle.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("checksum: "+b.Checksum+"\n")...)
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b2, res := loadOK(t, dir)
	if !res.Valid {
		t.Fatalf("declared matching checksum should validate:%s", dumpIssues(res))
	}
	if b2.Checksum != b.Checksum {
		t.Fatalf("declaring the checksum changed it: %s vs %s", b2.Checksum, b.Checksum)
	}
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestIssueStringFormat(t *testing.T) {
	is := Issue{Severity: SeverityError, Path: "objects.a.fields.b.type", Message: "unknown field type \"x\"", Code: CodeUnknownFieldType, File: "crm/objects/a.yaml", Line: 7}
	want := `crm/objects/a.yaml:7: error objects.a.fields.b.type: unknown field type "x" [unknown_field_type]`
	if got := is.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var buf bytes.Buffer
	buf.WriteString(Result([]Issue{is}).Err().Error())
	if !strings.Contains(buf.String(), want) {
		t.Errorf("Err() = %s", buf.String())
	}
	if Result(nil).Err() != nil || Result(nil).Issues == nil {
		t.Error("an empty result is valid with a non-nil issue list")
	}
}

func TestSpecialFilesAreNotRead(t *testing.T) {
	dir := writeBundle(t, map[string]string{"bundle.yaml": baseManifest})
	objs := filepath.Join(dir, "objects")
	if err := os.MkdirAll(filepath.Join(objs, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscallMkfifo(filepath.Join(objs, "pipe.yaml")); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(objs, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	_, res := loadOK(t, dir) // would block forever on the FIFO or read /dev/zero without limit
	// The link to /dev/zero leads outside the bundle folder: refused before anything is opened.
	if n, m := countCode(res, CodeIgnoredFile), countCode(res, CodeUnsafeLink); n != 2 || m != 1 {
		t.Fatalf("want 2 ignored files and 1 refused link:%s", dumpIssues(res))
	}
}

func countCode(res ValidationResult, code string) int {
	n := 0
	for _, is := range res.Issues {
		if is.Code == code {
			n++
		}
	}
	return n
}

func TestByteOrderMarkAndCRLFAreAccepted(t *testing.T) {
	bom := "\xef\xbb\xbf"
	dir := writeBundle(t, map[string]string{
		"bundle.yaml":    bom + "name: t\r\nversion: 1.0.0\r\nobjects: [a, b]\r\n",
		"objects/a.yaml": bom + "name: a\r\nfields:\r\n  t: { type: text }\r\n  n: { type: nope }\r\n",
		"objects/b.json": bom + "{\r\n\"name\": \"b\",\r\n\"fields\": {\"t\": {\"type\": \"text\"}}}",
	})
	_, res := loadOK(t, dir)
	if res.ErrorCount != 1 {
		t.Fatalf("want only the unknown type:%s", dumpIssues(res))
	}
	if is := findIssue(res, CodeUnknownFieldType, "objects.a.fields.n.type"); is == nil || is.Line != 4 {
		t.Fatalf("line numbers with CRLF:%s", dumpIssues(res))
	}
}
