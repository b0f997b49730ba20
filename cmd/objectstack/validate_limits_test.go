package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wideBundle writes a bundle whose object "wide" declares n text fields (f0 … f<n-1>), one per line after the
// "fields:" line (line 3), so field i sits on line 4+i.
func wideBundle(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("name: wide\nlabel: Wide\nfields:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  f%d: { type: text }\n", i)
	}
	writeTree(t, dir, map[string]string{"bundle.yaml": "name: wide\nversion: 1.0.0\nobjects: [wide]\n", "objects/wide.yaml": b.String()})
	return dir
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 15 item 7: an object with more columns than SQLite allows (2,000 with id, created_at, updated_at) used to
// pass `bundle validate` and `plan` and fail at apply with the whole CREATE TABLE in the error; a default holding a
// NUL byte passed validate and failed at plan. Both must be validation errors naming file, line and path.
func TestBundleValidateCatchesWhatApplyWouldRefuse(t *testing.T) {
	// 1,997 declared fields + 3 system columns is exactly SQLite's limit: valid, and it really applies.
	fits := wideBundle(t, 1997)
	if out, errOut, code := runCLI(t, "bundle", "validate", fits); code != 0 {
		t.Fatalf("1,997 fields: exit %d\n%s%s", code, out, errOut)
	}
	db := filepath.Join(t.TempDir(), "tenant.db")
	if out, errOut, code := runCLI(t, "apply", "--db", db, "--bundle", fits); code != 0 {
		t.Fatalf("apply of 2,000 columns: exit %d\n%.2000s%.2000s", code, out, errOut)
	}

	over := wideBundle(t, 1998)
	out, errOut, code := runCLI(t, "bundle", "validate", over)
	all := out + errOut
	if code != exitFailed {
		t.Fatalf("1,998 fields: exit %d\n%.3000s", code, all)
	}
	for _, want := range []string{"too_many_columns", "objects/wide.yaml:2001", "fields.f1997", "2000 columns"} {
		if !strings.Contains(all, want) {
			t.Errorf("validate output lacks %q:\n%.3000s", want, all)
		}
	}
	if len(all) > 4000 {
		t.Errorf("validate output is %d bytes; one issue should do", len(all))
	}
	// plan refuses the invalid bundle too, before it builds any SQL.
	if out, errOut, code := runCLI(t, "plan", "--db", db, "--bundle", over); code == 0 || !strings.Contains(out+errOut, "too_many_columns") {
		t.Errorf("plan of 2,001 columns: exit %d\n%.3000s%.3000s", code, out, errOut)
	}

	nul := t.TempDir()
	writeTree(t, nul, map[string]string{
		"bundle.yaml":       "name: nul\nversion: 1.0.0\nobjects: [memo]\n",
		"objects/memo.yaml": "name: memo\nfields:\n  title: { type: text }\n  body:\n    type: text\n    defaultValue: \"ab\\0cd\"\n",
	})
	out, errOut, code = runCLI(t, "bundle", "validate", nul)
	all = out + errOut
	if code != exitFailed {
		t.Fatalf("NUL default: exit %d\n%s", code, all)
	}
	for _, want := range []string{"invalid_default", "objects/memo.yaml:6", "fields.body.defaultValue", "NUL byte"} {
		if !strings.Contains(all, want) {
			t.Errorf("validate output lacks %q:\n%s", want, all)
		}
	}
}
