package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// TestTenantCreateKilledMidCopyIsFinishedByARerun is a user's story: `tenant create --seed-database`
// copies a live tenant's database (staging, still being written, so its newest rows sit in its write-ahead
// log and the copy goes page by page through VACUUM INTO); the process is killed half-way through the copy
// (OOM killer, a preempted node). Running the same command again must finish the tenant — at once, not
// after the dead run's provisioning claim runs out — with every row of the template, rather than adopt
// the torn half-copy and fail on it for good.
func TestTenantCreateKilledMidCopyIsFinishedByARerun(t *testing.T) {
	t.Setenv("OBJECTSTACK_DATA_DIR", "")
	t.Setenv("OBJECTSTACK_API_URL", "")
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	dataDir := t.TempDir()
	bundleDir := writeTenantBundle(t)
	flags := []string{"--data-dir", dataDir}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, append(args, flags...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out, errOut)
		}
		return out + errOut
	}
	getTenant := func(id string) (tn struct{ Status, DatabaseName, DatabaseURL string }) {
		t.Helper()
		if err := json.Unmarshal([]byte(run(0, "tenant", "get", id, "--json")), &tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}

	run(0, "tenant", "create", "staging", "--org-id", "org-1", "--bundle", bundleDir)
	staging := getTenant("staging")
	// Staging keeps being written while it is copied: a connection that never checkpoints holds ~40 MB
	// of new rows in its log.
	live, err := database.Open(staging.DatabaseURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	live.SetMaxOpenConns(1)
	const rows = 40_000
	for _, q := range []string{`PRAGMA wal_autocheckpoint = 0`,
		`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40000)
INSERT INTO account (id, name, revenue) SELECT 'r' || i, printf('%.1000c', 'x') || i, i FROM s`} {
		if _, err := live.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	want := rows + 2 // the bundle's two seed accounts

	create := []string{"tenant", "create", "acme", "--org-id", "org-1", "--bundle", bundleDir, "--seed-database", staging.DatabaseName}
	p := startCLI(t, nil, append(create, flags...)...)
	dbDir := filepath.Dir(staging.DatabaseURL)
	if !waitForPartialCopy(dbDir, "acme", p.done) {
		t.Fatalf("the copy finished (or never started) before it could be killed\nstderr: %s", p.stderr.String())
	}
	_ = p.cmd.Process.Kill()
	<-p.done

	out := run(0, append(create, "--debug")...)
	if !strings.Contains(out, "no longer runs") {
		t.Errorf("the re-run did not take over the killed run's provisioning claim at once:\n%s", out)
	}
	acme := getTenant("acme")
	if acme.Status != "active" {
		t.Fatalf("acme is %s after the re-run", acme.Status)
	}
	db, err := database.Open(acme.DatabaseURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var check string
	if err := db.QueryRow(`SELECT count(*) FROM account`).Scan(&n); err != nil || n != want {
		t.Fatalf("acme holds %d accounts (%v), want %d: the copy is not the template's", n, err, want)
	}
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
}

// waitForPartialCopy waits until a file of database name's copy in dir (under its own name or a hidden
// temporary one) holds at least 2 MB, and reports whether that happened before done closed.
func waitForPartialCopy(dir, name string, done <-chan struct{}) bool {
	for {
		select {
		case <-done:
			return false
		default:
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			n := e.Name()
			if n != name+".db" && !strings.HasPrefix(n, "."+name+".db.") {
				continue
			}
			if fi, err := e.Info(); err == nil && fi.Mode()&fs.ModeType == 0 && fi.Size() >= 2<<20 {
				return true
			}
		}
		time.Sleep(time.Millisecond)
	}
}
