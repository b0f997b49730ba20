package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBundleValidateValidExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "bundles", "crm")
	out, _, code := runCLI(t, "bundle", "validate", dir)
	if code != 0 || !strings.Contains(out, "bundle crm 1.0.0 is valid: 4 object(s)") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}

	out, _, code = runCLI(t, "bundle", "validate", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	var res struct {
		Valid        bool     `json:"valid"`
		Issues       []any    `json:"issues"`
		ErrorCount   int      `json:"errorCount"`
		WarningCount int      `json:"warningCount"`
		Checksum     string   `json:"checksum"`
		Version      string   `json:"version"`
		Objects      []string `json:"objects"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if !res.Valid || res.Issues == nil || res.ErrorCount != 0 || len(res.Checksum) != 64 || res.Version != "1.0.0" ||
		strings.Join(res.Objects, ",") != "account,contact,support_ticket,ticket_comment" {
		t.Fatalf("unexpected result: %+v", res)
	}
}

func TestBundleValidateInvalidBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "objects"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("name: shop\nversion: \"1.0\"\nobjects: [order_line]\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "objects", "order_line.yaml"), []byte(
		"name: order_line\nfields:\n  qty: { type: integer }\n  product: { type: lookup, reference: product, requred: true }\n"), 0o644))

	out, _, code := runCLI(t, "bundle", "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1; output:\n%s", code, out)
	}
	for _, want := range []string{
		"shop/bundle.yaml:2: error manifest.version: ",
		"shop/objects/order_line.yaml:3: error objects.order_line.fields.qty.type: unknown field type \"integer\"",
		"shop/objects/order_line.yaml:4: error objects.order_line.fields.product.reference: field product references object product",
		"shop/objects/order_line.yaml:4: warning objects.order_line.fields.product.requred: unknown key \"requred\"",
		"bundle shop is invalid: 3 error(s), 1 warning(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runCLI(t, "bundle", "validate", "--json", dir)
	if code != 1 {
		t.Fatalf("--json exit %d, want 1", code)
	}
	var res struct {
		Valid  bool `json:"valid"`
		Issues []struct {
			Severity, Path, Code, File string
			Line                       int
		} `json:"issues"`
		ErrorCount int `json:"errorCount"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if res.Valid || res.ErrorCount != 3 {
		t.Fatalf("unexpected result: %+v", res)
	}
	found := false
	for _, is := range res.Issues {
		if is.Code == "unknown_field_type" && is.Path == "objects.order_line.fields.qty.type" && is.Line == 3 && is.File == "shop/objects/order_line.yaml" {
			found = true
		}
	}
	if !found {
		t.Errorf("unknown_field_type issue missing or unpositioned: %+v", res.Issues)
	}
}

func TestBundleValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bundle", "validate"},
		{"bundle", "validate", "a", "b"},
		{"bundle", "validate", "--nope", "a"},
		{"bundle"},
		{"bundle", "frobnicate"},
	} {
		if out, errOut, code := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
	if out, errOut, code := runCLI(t, "bundle", "validate", filepath.Join(t.TempDir(), "missing")); code != exitFailed || !strings.Contains(out+errOut, "open bundle folder") {
		t.Errorf("missing folder: exit %d\n%s%s", code, out, errOut)
	}
}
