package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// editFile replaces old with new in path, failing when old is not there.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRenameCLI: on the example CRM, renaming contact.phone without renamedFrom is refused with the line that
// would keep the data; with it (and the object ticket_comment renamed to ticket_note) plan shows the RENAME
// statements, apply keeps the value, the next plan is empty, and rollback renames both back.
func TestRenameCLI(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "crm"), filepath.Join(dir, "crm2")
	copyDir(t, filepath.Join("..", "..", "examples", "bundles", "crm"), v1)
	copyDir(t, v1, v2)
	dbPath := filepath.Join(dir, "tenant.db")
	if out, errOut, code := runCLI(t, "apply", "--db", dbPath, "--bundle", v1); code != 0 {
		t.Fatalf("apply v1: %d\n%s\n%s", code, out, errOut)
	}
	db, err := database.Open(dbPath, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO contact (id, last_name, phone) VALUES ('c1', 'Lovelace', '+47 1234')`); err != nil {
		t.Fatal(err)
	}

	contact := filepath.Join(v2, "objects", "contact.yaml")
	editFile(t, contact, "  phone:      { type: phone, label: Phone }", "  mobile:     { type: phone, label: Mobile }")
	out, errOut, code := runCLI(t, "apply", "--db", dbPath, "--bundle", v2)
	if code != exitFailed || !strings.Contains(errOut, "drop_column contact.phone") ||
		!strings.Contains(errOut, `declare "renamedFrom: phone" on field mobile (objects.contact.fields.mobile.renamedFrom)`) {
		t.Fatalf("drop+add without renamedFrom: %d\n%s\n%s", code, out, errOut)
	}

	editFile(t, contact, "label: Mobile }", "label: Mobile, renamedFrom: phone }")
	if err := os.Rename(filepath.Join(v2, "objects", "ticket_comment.yaml"), filepath.Join(v2, "objects", "ticket_note.yaml")); err != nil {
		t.Fatal(err)
	}
	editFile(t, filepath.Join(v2, "objects", "ticket_note.yaml"), "name: ticket_comment\n", "name: ticket_note\nrenamedFrom: ticket_comment\n")
	editFile(t, filepath.Join(v2, "bundle.yaml"), "ticket_comment]", "ticket_note]")
	out, errOut, code = runCLI(t, "plan", "--db", dbPath, "--bundle", v2)
	for _, want := range []string{`ALTER TABLE "ticket_comment" RENAME TO "ticket_note";`, `ALTER TABLE "contact" RENAME COLUMN "phone" TO "mobile";`,
		"~ field contact.mobile\n      renamed from phone (data kept)", "~ object ticket_note\n      renamed from ticket_comment (data kept)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("plan does not show %q: %d\n%s\n%s", want, code, out, errOut)
		}
	}
	if strings.Contains(out, "Destructive") || strings.Contains(out, "DROP TABLE") || strings.Contains(out, "DROP COLUMN") {
		t.Fatalf("rename plan drops something:\n%s", out)
	}
	out, errOut, code = runCLI(t, "apply", "--db", dbPath, "--bundle", v2, "--json")
	var ao struct {
		DeploymentID string `json:"deploymentId"`
		Status       string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &ao); err != nil || code != 0 || ao.Status != "ready" {
		t.Fatalf("apply v2: %d %v\n%s\n%s", code, err, out, errOut)
	}
	var mobile string
	if err := db.QueryRow(`SELECT mobile FROM contact WHERE id = 'c1'`).Scan(&mobile); err != nil || mobile != "+47 1234" {
		t.Fatalf("mobile %q %v", mobile, err)
	}
	if out, _, code = runCLI(t, "plan", "--db", dbPath, "--bundle", v2); code != 0 || !strings.Contains(out, "is up to date") {
		t.Fatalf("second plan: %d\n%s", code, out)
	}

	if out, errOut, code = runCLI(t, "rollback", "--db", dbPath, "--deployment", ao.DeploymentID); code != 0 {
		t.Fatalf("rollback: %d\n%s\n%s", code, out, errOut)
	}
	var phone string
	if err := db.QueryRow(`SELECT phone FROM contact WHERE id = 'c1'`).Scan(&phone); err != nil || phone != "+47 1234" {
		t.Fatalf("phone after rollback %q %v", phone, err)
	}
	if out, _, code = runCLI(t, "plan", "--db", dbPath, "--bundle", v1); code != 0 || !strings.Contains(out, "is up to date") {
		t.Fatalf("plan of v1 after rollback: %d\n%s", code, out)
	}

	// A tenant that has both names: the error names both, and the file, line and path of the renamedFrom.
	if _, err := db.Exec(`ALTER TABLE contact ADD COLUMN mobile TEXT`); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "apply", "--db", dbPath, "--bundle", v2)
	if code != exitFailed || !strings.Contains(errOut, "has both column phone (field phone) and column mobile (field mobile)") ||
		!regexp.MustCompile(`objects/contact\.yaml:\d+ objects\.contact\.fields\.mobile\.renamedFrom`).MatchString(errOut) {
		t.Fatalf("both names: %d\n%s\n%s", code, out, errOut)
	}
}
