package resources

import (
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func TestSplitImportID(t *testing.T) {
	tenantID, name, err := splitImportID("acme/crm", "bundle name")
	if err != nil || tenantID != "acme" || name != "crm" {
		t.Fatalf("got %q %q %v", tenantID, name, err)
	}
	for _, bad := range []string{"acme", "acme/", "/crm", "acme/crm/x", "Bad_Tenant/crm"} {
		if _, _, err := splitImportID(bad, "bundle name"); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("error for %q does not name it: %v", bad, err)
		}
	}
}

func TestValidationDiagnosticsNameFileLinePathRule(t *testing.T) {
	res := bundle.ValidationResult{Valid: false, Issues: []bundle.Issue{
		{Severity: bundle.SeverityError, Path: "objects.thing.fields.size.type", Message: `unknown field type "strnig"`,
			Code: "unknown_field_type", File: "crm/objects/thing.yaml", Line: 4},
		{Severity: bundle.SeverityWarning, Path: "objects.thing.label", Message: "missing label"},
	}}
	diags := validationDiagnostics("bundle", "crm", res)
	if diags.ErrorsCount() != 1 || diags.WarningsCount() != 1 {
		t.Fatalf("got %d errors, %d warnings", diags.ErrorsCount(), diags.WarningsCount())
	}
	got := diags.Errors()[0].Detail()
	want := `crm/objects/thing.yaml:4: objects.thing.fields.size.type: unknown field type "strnig" (unknown_field_type)`
	if got != want {
		t.Fatalf("detail\n got %s\nwant %s", got, want)
	}
	if w := diags.Warnings()[0].Detail(); !strings.HasPrefix(w, "crm: objects.thing.label") {
		t.Fatalf("warning without a file should name the folder: %s", w)
	}
	// An invalid result without issues still fails.
	if d := validationDiagnostics("bundle", "crm", bundle.ValidationResult{Valid: false}); !d.HasError() {
		t.Fatal("invalid result produced no error")
	}
}

func TestDescribeChange(t *testing.T) {
	for c, want := range map[engine.SchemaChange]string{
		{EntityType: "field", EntityName: "industry", ParentEntity: "account", ChangeType: "added"}: "added field account.industry",
		{EntityType: "object", EntityName: "contact", ChangeType: "removed"}:                        "removed object contact",
	} {
		if got := describeChange(c); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
