package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// snapshotDB returns the bytes of a SQLite database file and its -wal/-shm companions, so a test can
// assert that a refused apply left the tenant database byte-for-byte as it was.
func snapshotDB(t *testing.T, path string) map[string][]byte {
	t.Helper()
	snap := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			snap[suffix] = b
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return snap
}

func sameSnapshot(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestMalformedBundleLeavesDatabaseUntouched is issue 2's bad-input table, end to end through
// `objectstack apply`: every malformed bundle is refused with an error naming the file, the path inside
// it and the rule, and the tenant database (already holding the CRM bundle) is byte-for-byte unchanged.
func TestMalformedBundleLeavesDatabaseUntouched(t *testing.T) {
	v1 := filepath.Join("..", "..", "examples", "bundles", "crm")
	db := filepath.Join(t.TempDir(), "tenant.db")
	if out, errOut, code := runCLI(t, "apply", "--db", db, "--bundle", v1); code != 0 {
		t.Fatalf("seed apply: %d\n%s\n%s", code, out, errOut)
	}
	huge := "name: account\nfields:\n  name: { type: text, description: \"" + strings.Repeat("x", 5<<20) + "\" }\n"
	cases := []struct {
		name, file, body string
		want             []string // substrings of the error output: file, path, rule
	}{
		{"broken yaml", "objects/account.yaml", "name: account\nfields:\n  name: { type: text\n  phone: { type: phone }\n",
			[]string{"account.yaml:", "invalid YAML"}},
		{"wrong type for required", "objects/account.yaml", "name: account\nfields:\n  name: { type: text, required: \"yes\" }\n",
			[]string{"account.yaml:3", "objects.account.fields.name.required", "true or false"}},
		{"unknown field type", "objects/account.yaml", "name: account\nfields:\n  name: { type: string }\n",
			[]string{"account.yaml:3", "objects.account.fields.name.type", "unknown_field_type"}},
		{"injection in object name", "objects/account.yaml", "name: 'account\"; DROP TABLE contact; --'\nfields:\n  name: { type: text }\n",
			[]string{"account.yaml:1", "objects[", "invalid_identifier"}},
		{"injection in field key", "objects/account.yaml", "name: account\nfields:\n  'name\" TEXT); DROP TABLE contact; --': { type: text }\n",
			[]string{"account.yaml:3", "objects.account.fields[", "invalid_identifier"}},
		{"injection in partial index", "objects/account.yaml", "name: account\nfields:\n  name: { type: text }\nindexes:\n  - { fields: [name], partial: \"name = 1; DROP TABLE contact\" }\n",
			[]string{"account.yaml:5", "objects.account.indexes[0].partial", "unsafe_expression"}},
		{"default that does not fit", "objects/account.yaml", "name: account\nfields:\n  name: { type: text }\n  employees: { type: number, defaultValue: many }\n",
			[]string{"account.yaml:4", "objects.account.fields.employees.defaultValue", "invalid_default"}},
		{"duplicate keys", "objects/account.yaml", "name: account\nfields:\n  name: { type: text }\n  name: { type: email }\n",
			[]string{"account.yaml:4", "defined twice"}},
		{"dangling lookup", "objects/account.yaml", "name: account\nfields:\n  name: { type: text }\n  parent: { type: lookup, reference: nowhere }\n",
			[]string{"account.yaml:4", "objects.account.fields.parent.reference", "dangling_reference"}},
		{"huge file", "objects/account.yaml", huge,
			[]string{"account.yaml", "file_too_large"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad")
			copyDir(t, v1, bad)
			if err := os.WriteFile(filepath.Join(bad, filepath.FromSlash(tc.file)), []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshotDB(t, db)
			// Every destructive kind is allowed: the refusal must come from validation, not from the guard.
			out, errOut, code := runCLI(t, "apply", "--db", db, "--bundle", bad, "--allow-destructive", "all")
			if code != exitFailed {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, out, errOut)
			}
			all := out + errOut
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output does not mention %q:\n%s", w, all)
				}
			}
			if !sameSnapshot(before, snapshotDB(t, db)) {
				t.Fatal("the refused apply changed the database")
			}
		})
	}
}

// TestInjectionInDefaultIsStoredAsData: a default value is data, not SQL. A text default that looks like
// an injection is valid, is quoted as a literal, and no other table is touched.
func TestInjectionInDefaultIsStoredAsData(t *testing.T) {
	const evil = `x"; DROP TABLE victim; --' ); DROP TABLE victim; --`
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bundle.yaml", "name: inj\nversion: 1.0.0\nobjects: [note]\n")
	write("objects/note.yaml", "name: note\nfields:\n  body: { type: text, defaultValue: '"+strings.ReplaceAll(evil, "'", "''")+"' }\n")

	path := filepath.Join(t.TempDir(), "tenant.db")
	conn, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE victim(id INTEGER PRIMARY KEY); INSERT INTO victim VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	if out, errOut, code := runCLI(t, "apply", "--db", path, "--bundle", dir); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	conn, err = database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM victim`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("victim table: n=%d err=%v", n, err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO note(id) VALUES ('n1')`); err != nil {
		t.Fatal(err)
	}
	var body sql.NullString
	if err := conn.QueryRowContext(ctx, `SELECT body FROM note WHERE id = 'n1'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if body.String != evil {
		t.Fatalf("default stored as %q, want %q", body.String, evil)
	}
}
