package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
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

// holdLeaseEnv makes the test binary a process that takes a database's migration lease the way an
// older `objectstack apply` did (holder cli:HOST:PID, ten-minute TTL) and waits to be killed.
const holdLeaseEnv = "OBJECTSTACK_TEST_HOLD_LEASE"

func holdLease(path string) {
	db, err := database.Open(path, "")
	if err == nil {
		err = schema.AcquireLock(context.Background(), db, cliHolder(), 10*time.Minute)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold lease:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	select {} // until SIGKILL
}

// TestKilledLeaseHolderAndUnlock (issue 15 item 4): a CLI process killed (SIGKILL) while it held a
// database's migration lease does not block the next apply on the same host — its pid is provably gone;
// a lease of a holder that cannot be proven gone (another machine's reconciler) is shown by
// `objectstack unlock`, which clears it only when given its lock id and writes nothing otherwise; the
// reconciler's tenant leases are shown and cleared the same way.
func TestKilledLeaseHolderAndUnlock(t *testing.T) {
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	examples := filepath.Join("..", "..", "examples", "bundles")
	v1, v2 := filepath.Join(examples, "crm"), filepath.Join(examples, "crm-v2")
	dbPath := filepath.Join(t.TempDir(), "tenant.db")
	if out, errOut, code := runCLIProcess(t, nil, "apply", "--db", dbPath, "--bundle", v1); code != 0 {
		t.Fatalf("apply v1: %d\n%s\n%s", code, out, errOut)
	}

	// A process holding the lease is killed with SIGKILL.
	holder := exec.Command(os.Args[0])
	holder.Env = append(os.Environ(), holdLeaseEnv+"="+dbPath)
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		_ = holder.Process.Kill()
		t.Fatalf("lease holder: %q %v", line, err)
	}
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	out, errOut, code := runCLIProcess(t, nil, "apply", "--db", dbPath, "--bundle", v2)
	if code != 0 || !strings.Contains(errOut, "Took over the migration lease of cli:") {
		t.Fatalf("apply after the lease holder was killed: exit %d\n%s\n%s", code, out, errOut)
	}

	// A lease of a replica on another machine: apply is refused, unlock shows it and its lock id.
	ctx := context.Background()
	db, err := database.Open(dbPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.AcquireLock(ctx, db, "replica-x", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, errOut, code := runCLIProcess(t, nil, "apply", "--db", dbPath, "--bundle", v1, "--allow-destructive", "all"); code == 0 || !strings.Contains(errOut, "locked for migration by replica-x") {
		t.Fatalf("apply under another holder's lease: exit %d\n%s", code, errOut)
	}
	before := dbFiles(t, dbPath)
	out, errOut, code = runCLIProcess(t, nil, "unlock", "--db", dbPath)
	if code != 0 || !strings.Contains(out, "Migration lease held by replica-x") || !strings.Contains(out, "Lock id: replica-x") {
		t.Fatalf("unlock without a lock id: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code = runCLIProcess(t, nil, "unlock", "--db", dbPath, "replica-y"); code != exitFailed || !strings.Contains(errOut, `held by "replica-x"`) {
		t.Fatalf("unlock with the wrong lock id: exit %d\n%s", code, errOut)
	}
	if !sameFiles(before, dbFiles(t, dbPath)) {
		t.Fatal("unlock without the right lock id wrote to the database")
	}
	if out, errOut, code = runCLIProcess(t, nil, "unlock", "--db", dbPath, "replica-x"); code != 0 || !strings.Contains(out, "Cleared 1 lease(s) held by replica-x") {
		t.Fatalf("unlock replica-x: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code = runCLIProcess(t, nil, "rollback", "--db", dbPath, "--deployment", latestDeployment(t, dbPath), "--allow-destructive", "all"); code != 0 {
		t.Fatalf("rollback after unlock: exit %d\n%s\n%s", code, out, errOut)
	}

	// Reconciler leases in the control plane: shown with their holders, cleared by holder.
	data := t.TempDir()
	if _, stderr, code := runCLI(t, "tenant", "create", "acme", "--org-id", "o1", "--data-dir", data); code != 0 {
		t.Fatalf("tenant create: %s", stderr)
	}
	ctl, err := database.Open(filepath.Join(data, "control.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	store, err := status.Open(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := store.AcquireLeases(ctx, "replica-dead", []string{"acme"}, 10*time.Minute); err != nil || !got["acme"] {
		t.Fatalf("lease: %v %v", got, err)
	}
	ctl.Close()
	out, _, code = runCLIProcess(t, nil, "unlock", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "replica-dead") {
		t.Fatalf("unlock --data-dir: exit %d\n%s", code, out)
	}
	if out, _, code = runCLIProcess(t, nil, "status", "--data-dir", data, "--json"); code != 0 || !strings.Contains(out, `"holder": "replica-dead"`) {
		t.Fatalf("status does not show the lease: exit %d\n%s", code, out)
	}
	if out, errOut, code = runCLIProcess(t, nil, "unlock", "--data-dir", data, "--tenant", "acme", "replica-dead"); code != 0 || !strings.Contains(out, "Cleared 1") {
		t.Fatalf("unlock --tenant acme replica-dead: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, _, _ = runCLIProcess(t, nil, "unlock", "--data-dir", data); !strings.Contains(out, "Nothing is locked") {
		t.Fatalf("leases after unlock:\n%s", out)
	}
}

// latestDeployment is the newest deployment id recorded in a tenant database.
func latestDeployment(t *testing.T, path string) string {
	t.Helper()
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id string
	if err := db.QueryRow(`SELECT id FROM _objectstack_deployments WHERE status = 'ready' ORDER BY rowid DESC LIMIT 1`).Scan(&id); err != nil {
		t.Fatalf("latest deployment of %s: %v", path, err)
	}
	return id
}
