package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// TestPlanAndApplyPreflight: `objectstack plan` (text and --json) and `objectstack apply` check the rows the
// migration touches. Duplicate keys for a new unique index fail the plan (exit 1) with the rule, object, field,
// count and samples, and apply writes nothing; a text → number change whose values all survive is reported
// lossless and applies without --allow-destructive.
func TestPlanAndApplyPreflight(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("name: shop\nversion: 1.0.0\nobjects: [item]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "objects", "item.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "tenant.db")
	write("name: item\nfields:\n  sku: { type: text }\n  price: { type: text }\n")
	if out, errOut, code := runCLI(t, "apply", "--db", path, "--bundle", dir); code != 0 {
		t.Fatalf("v1: %d\n%s%s", code, out, errOut)
	}
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO item (id, sku, price) VALUES ('i1','A-1','10'),('i2','A-1','12.5'),('i3','B-7','3')`); err != nil {
		t.Fatal(err)
	}
	write("name: item\nfields:\n  sku: { type: text, unique: true }\n  price: { type: number }\n")

	out, errOut, code := runCLI(t, "plan", "--db", path, "--bundle", dir)
	if code != exitFailed {
		t.Fatalf("plan with duplicates: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Pre-flight (2 check(s) of the existing rows): 1 would fail the apply; 1 type change(s) lossless for this data",
		"✗ bundle:shop [unique] item.sku: 1 duplicate key(s) (2 rows) in table item would fail the new unique index uq_item_sku on (sku), e.g. sku='A-1' (2 rows)",
		"✓ bundle:shop [type_change] item.price: every value of column item.price survives the cast TEXT → REAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "pre-flight: the data would fail 1 check(s)") {
		t.Errorf("stderr: %s", errOut)
	}

	out, _, code = runCLI(t, "plan", "--db", path, "--bundle", dir, "--json")
	var js struct {
		Preflight schema.PreflightReport `json:"preflight"`
	}
	if code != exitFailed || json.Unmarshal([]byte(out), &js) != nil || len(js.Preflight.Failures) != 1 ||
		js.Preflight.Failures[0].Rule != schema.RuleUnique || js.Preflight.Failures[0].Count != 1 || js.Preflight.Failures[0].Field != "sku" ||
		len(js.Preflight.Failures[0].Samples) != 1 || len(js.Preflight.Lossless) != 1 {
		t.Fatalf("plan --json: exit %d\n%s", code, out)
	}

	if out, errOut, code := runCLI(t, "apply", "--db", path, "--bundle", dir); code != exitFailed || !strings.Contains(errOut, "nothing was applied") {
		t.Fatalf("apply with duplicates: exit %d\n%s%s", code, out, errOut)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'uq_item_sku'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("index after the refused apply: %d %v", n, err)
	}

	if _, err := db.Exec(`UPDATE item SET sku = 'A-2' WHERE id = 'i2'`); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runCLI(t, "apply", "--db", path, "--bundle", dir); code != 0 || !strings.Contains(out, "✓ bundle:shop [type_change] item.price") {
		t.Fatalf("apply of clean data without --allow-destructive: exit %d\n%s%s", code, out, errOut)
	}
}
