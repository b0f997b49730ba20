package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dbFiles reads a SQLite database with its journal files: together they are everything a write could touch.
func dbFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func sameFiles(a, b map[string][]byte) bool {
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

// TestRefusedRollbackWritesNothing (issue 15 item 4): a rollback refused because it would drop a table
// and a column must leave the database file byte for byte as it was — no migration lease written and
// cleared around it (a one-request apply re-checks everything inside its own transaction). Each command
// runs as its own process, as a user runs them.
func TestRefusedRollbackWritesNothing(t *testing.T) {
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	examples := filepath.Join("..", "..", "examples", "bundles")
	v1, v2 := filepath.Join(examples, "crm"), filepath.Join(examples, "crm-v2")
	db := filepath.Join(t.TempDir(), "tenant.db")
	if out, errOut, code := runCLIProcess(t, nil, "apply", "--db", db, "--bundle", v1); code != 0 {
		t.Fatalf("apply v1: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := runCLIProcess(t, nil, "apply", "--db", db, "--bundle", v2, "--json")
	var ao struct {
		DeploymentID string `json:"deploymentId"`
	}
	if err := json.Unmarshal([]byte(out), &ao); err != nil || code != 0 || ao.DeploymentID == "" {
		t.Fatalf("apply v2: %d %v\n%s\n%s", code, err, out, errOut)
	}
	before := dbFiles(t, db)
	out, errOut, code = runCLIProcess(t, nil, "rollback", "--db", db, "--deployment", ao.DeploymentID)
	if code != exitFailed || !strings.Contains(errOut, "drop_table") {
		t.Fatalf("rollback without allowance: exit %d, want %d naming drop_table\n%s\n%s", code, exitFailed, out, errOut)
	}
	if after := dbFiles(t, db); !sameFiles(before, after) {
		t.Fatal("the refused rollback wrote to the database file")
	}
	// A rollback of a deployment that does not exist is refused too, and writes nothing either.
	if _, errOut, code = runCLIProcess(t, nil, "rollback", "--db", db, "--deployment", "dep-nope"); code == 0 {
		t.Fatalf("rollback of an unknown deployment succeeded: %s", errOut)
	}
	if after := dbFiles(t, db); !sameFiles(before, after) {
		t.Fatal("the refused rollback of an unknown deployment wrote to the database file")
	}
}
