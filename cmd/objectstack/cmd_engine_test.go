package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPlanApplyRollbackCLI(t *testing.T) {
	examples := filepath.Join("..", "..", "examples", "bundles")
	v1, v2 := filepath.Join(examples, "crm"), filepath.Join(examples, "crm-v2")
	db := filepath.Join(t.TempDir(), "tenant.db")

	out, errOut, code := runCLI(t, "plan", "--db", db, "--bundle", v1)
	if code != 0 || !strings.Contains(out, `CREATE TABLE "account"`) {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatal("plan created the database file")
	}
	if out, errOut, code = runCLI(t, "apply", "--db", db, "--bundle", v1); code != 0 || !strings.Contains(out, "Applied deployment") {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "plan", "--db", db, "--bundle", v1, "--json")
	var po struct {
		Diff          map[string]any `json:"diff"`
		MigrationPlan struct {
			Statements []any  `json:"statements"`
			Dialect    string `json:"dialect"`
		} `json:"migrationPlan"`
		Destructive []any  `json:"destructive"`
		UpToDate    bool   `json:"upToDate"`
		Checksum    string `json:"checksum"`
	}
	if err := json.Unmarshal([]byte(out), &po); err != nil || code != 0 || !po.UpToDate || po.Checksum == "" || po.Diff["summary"] == nil || po.MigrationPlan.Dialect != "sqlite" {
		t.Fatalf("plan --json after apply: %d %v\n%s", code, err, out)
	}

	out, errOut, code = runCLI(t, "apply", "--db", db, "--bundle", v2, "--json")
	var ao struct {
		DeploymentID string `json:"deploymentId"`
		Status       string `json:"status"`
		Statements   int    `json:"statementsExecuted"`
	}
	if err := json.Unmarshal([]byte(out), &ao); err != nil || code != 0 || ao.Status != "ready" || ao.DeploymentID == "" || ao.Statements == 0 {
		t.Fatalf("apply v2 --json: %d %v\n%s\n%s", code, err, out, errOut)
	}

	// Going back to v1 drops a table and a column: refused, naming both, database untouched.
	before, _ := os.ReadFile(db)
	out, errOut, code = runCLI(t, "apply", "--db", db, "--bundle", v1)
	if code != exitFailed || !strings.Contains(errOut, "drop_table opportunity") || !strings.Contains(errOut, "drop_column contact.title") {
		t.Fatalf("destructive apply: %d\n%s\n%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("refused apply changed the database")
	}

	// An invalid bundle is refused before the database is opened.
	bad := filepath.Join(t.TempDir(), "bad")
	copyDir(t, v1, bad)
	if err := os.WriteFile(filepath.Join(bad, "objects", "account.yaml"), []byte("name: account\nfields:\n  name: { type: nonsense }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "apply", "--db", db, "--bundle", bad, "--allow-destructive", "all")
	if code != exitFailed || !strings.Contains(errOut, "account.yaml") || !strings.Contains(errOut, "nonsense") {
		t.Fatalf("invalid bundle: %d\n%s\n%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("invalid bundle changed the database")
	}

	// Rolling back v2 restores v1 (destructive kinds allowed explicitly).
	if out, errOut, code = runCLI(t, "rollback", "--db", db, "--deployment", ao.DeploymentID); code != exitFailed || !strings.Contains(errOut, "drop_table") {
		t.Fatalf("rollback without allowance: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code = runCLI(t, "rollback", "--db", db, "--deployment", ao.DeploymentID, "--allow-destructive", "drop_table,drop_column"); code != 0 {
		t.Fatalf("rollback: %d\n%s\n%s", code, out, errOut)
	}
	if out, _, code = runCLI(t, "plan", "--db", db, "--bundle", v1); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("plan after rollback: %d\n%s", code, out)
	}
}

func TestEngineCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"plan"},
		{"plan", "--db", "x.db"},
		{"plan", "--db", "x.db", "--bundle", "b", "--repo", "r"},
		{"plan", "--db", "x.db", "--bundle", "b", "--revision", "abc"},
		{"apply", "--bundle", "b"},
		{"apply", "--db", "x.db", "--bundle", "b", "--allow-destructive", "everything"},
		{"rollback", "--db", "x.db"},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

// TestPlanShowsConstraintsARebuildDrops: a table created by hand (with UNIQUE and CHECK) and adopted by a
// bundle loses those clauses when a later change rebuilds it; the human plan says so next to the change.
func TestPlanShowsConstraintsARebuildDrops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("name: people\nversion: 1.0.0\nobjects: [person]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "objects", "person.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "tenant.db")
	conn, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`CREATE TABLE person (id TEXT PRIMARY KEY, created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
		updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), email TEXT UNIQUE, age REAL CHECK (age >= 0))`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	write("name: person\nfields:\n  email: { type: text }\n  age: { type: number }\n")
	if out, errOut, code := runCLI(t, "apply", "--db", path, "--bundle", dir); code != 0 {
		t.Fatalf("adopt: %d\n%s%s", code, out, errOut)
	}
	write("name: person\nfields:\n  email: { type: text }\n  age: { type: number, required: true, defaultValue: 0 }\n")
	out, errOut, code := runCLI(t, "plan", "--db", path, "--bundle", dir)
	if code != 0 || !strings.Contains(out, "drops constraints written by hand") || !strings.Contains(out, "UNIQUE") || !strings.Contains(out, "CHECK") {
		t.Fatalf("plan: %d\n%s%s", code, out, errOut)
	}
}
