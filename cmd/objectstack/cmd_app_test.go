package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

func TestAppCommands(t *testing.T) {
	examples := filepath.Join("..", "..", "examples", "apps")
	db := filepath.Join(t.TempDir(), "tenant.db")

	out, _, code := runCLI(t, "app", "check", "--db", db, "--app", filepath.Join(examples, "helpdesk-sla"), "--json")
	var chk apps.AppCompatibilityCheck
	if code != exitFailed || json.Unmarshal([]byte(out), &chk) != nil || chk.Compatible || chk.Issues[0].Category != "dependency_missing" {
		t.Fatalf("check: code %d\n%s", code, out)
	}

	out, _, code = runCLI(t, "app", "install", "--db", db, "--app", filepath.Join(examples, "helpdesk-sla"), "--catalog", examples, "--json")
	var res apps.AppInstallResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Success || res.AppID != "helpdesk_sla" || res.SeededRecords != 3 {
		t.Fatalf("install with catalog: code %d\n%s", code, out)
	}

	out, _, code = runCLI(t, "app", "list", "--db", db, "--json")
	var list []apps.InstalledApp
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].Name != "helpdesk" || list[1].Name != "helpdesk_sla" {
		t.Fatalf("list: code %d\n%s", code, out)
	}

	out, errOut, code := runCLI(t, "app", "uninstall", "--db", db, "--name", "helpdesk")
	if code != exitFailed || !strings.Contains(out+errOut, "helpdesk_sla") {
		t.Errorf("uninstall with dependent: code %d\n%s%s", code, out, errOut)
	}
	if _, _, code = runCLI(t, "app", "list", "--db", filepath.Join(t.TempDir(), "typo.db")); code != exitUsage {
		t.Errorf("list of a missing database file: code %d", code)
	}
	if _, _, code = runCLI(t, "app", "install", "--db", db); code != exitUsage {
		t.Errorf("missing --app: code %d", code)
	}
	if out, errOut, code = runCLI(t, "app", "install", "--db", db, "--app", filepath.Join(examples, "helpdesk"), "--config", "colour=red"); code != exitUsage || !strings.Contains(out+errOut, `"colour"`) {
		t.Errorf("bad --config: code %d\n%s%s", code, out, errOut)
	}
	if out, _, code = runCLI(t, "app", "uninstall", "--db", db, "--app", filepath.Join(examples, "helpdesk-sla"), "--purge"); code != 0 || !strings.Contains(out, "dropped") {
		t.Errorf("purge: code %d\n%s", code, out)
	}
	if out, _, code = runCLI(t, "app", "uninstall", "--db", db, "--name", "helpdesk"); code != 0 || !strings.Contains(out, "kept") {
		t.Errorf("uninstall: code %d\n%s", code, out)
	}
	h, err := database.Open(db, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var n int
	if err := h.QueryRow(`SELECT count(*) FROM helpdesk_category`).Scan(&n); err != nil || n != 4 {
		t.Errorf("kept rows = %d, %v", n, err)
	}
}
