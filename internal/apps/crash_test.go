package apps

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

const (
	crashDBEnv  = "OBJECTSTACK_APPS_CRASH_DB"
	crashAppEnv = "OBJECTSTACK_APPS_CRASH_APP"
)

// TestCrashChildInstall is the child half of TestCrashMidInstall: it installs an app and, inside the install
// transaction after half of the seed rows are written, tells the parent and blocks until it is killed.
func TestCrashChildInstall(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("helper process for TestCrashMidInstall")
	}
	app := mustLoad(t, os.Getenv(crashAppEnv))
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	seedHook = func(written, total int) {
		if written*2 >= total {
			fmt.Printf("READY %d/%d\n", written, total)
			_ = os.Stdout.Sync()
			time.Sleep(time.Minute) // the parent SIGKILLs us long before this ends
			os.Exit(3)
		}
	}
	_, err = Install(context.Background(), db, app, InstallOptions{})
	t.Fatalf("install returned instead of blocking: %v", err)
}

// crashInstall runs TestCrashChildInstall on the database at path with appDir and SIGKILLs it once it reports
// that it is inside the install transaction with half of the seed rows written.
func crashInstall(t *testing.T, path, appDir string) {
	t.Helper()
	run := func(ctx context.Context) string {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChildInstall$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashAppEnv+"="+appDir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "READY") {
					ready <- sc.Text()
					return
				}
			}
			close(ready)
		}()
		var line string
		select {
		case l, ok := <-ready:
			if !ok {
				_ = cmd.Wait()
				t.Fatal("child exited without reaching the seed step")
			}
			line = l
		case <-ctx.Done():
			t.Fatal("child never reached the seed step")
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup, no rollback
			t.Fatal(err)
		}
		_ = cmd.Wait()
		return line
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	line := run(ctx)
	t.Logf("child killed at %s", line)
}

// TestCrashMidInstall kills an installer process (SIGKILL) while its install transaction is open, after the DDL
// and half of the seed rows; the tenant database must then hold nothing of the app, and a new install must work.
func TestCrashMidInstall(t *testing.T) {
	if os.Getenv(crashDBEnv) != "" {
		t.Skip("running as the helper")
	}
	_, path := newDB(t)
	appDir := exampleDir("helpdesk")
	crashInstall(t, path, appDir)
	ctx := context.Background()

	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if tables := tableNames(t, db); len(tables) != 0 {
		t.Errorf("tables after a crashed install: %v", tables)
	}
	if list, err := Installed(ctx, db); err != nil || len(list) != 0 {
		t.Errorf("apps registered after a crashed install: %+v, %v", list, err)
	}
	if reg, err := schema.RegisteredObjects(ctx, db); err != nil || len(reg) != 0 {
		t.Errorf("objects registered after a crashed install: %+v, %v", reg, err)
	}
	if deps, err := schema.Deployments(ctx, db, schema.AppOwner("helpdesk")); err != nil || len(deps) != 0 {
		t.Errorf("deployments after a crashed install: %+v, %v", deps, err)
	}

	// Nothing is stuck: the next install succeeds completely.
	res := install(t, db, mustLoad(t, appDir), InstallOptions{})
	if res.SeededRecords != 10 || len(res.CreatedTables) != 3 {
		t.Errorf("install after crash = %+v", res)
	}
}

// TestCrashMidUpgrade kills an upgrade (1.0.0 → 1.1.0) mid-transaction: the old version must be intact.
func TestCrashMidUpgrade(t *testing.T) {
	if os.Getenv(crashDBEnv) != "" {
		t.Skip("running as the helper")
	}
	db, path := newDB(t)
	install(t, db, mustLoad(t, exampleDir("helpdesk")), InstallOptions{})
	db.Close()
	crashInstall(t, path, exampleDir("helpdesk-1.1.0"))

	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inst, ok, err := IsInstalled(context.Background(), db, "helpdesk")
	if err != nil || !ok || inst.Version != "1.0.0" {
		t.Fatalf("installed after a crashed upgrade: %+v %v %v", inst, ok, err)
	}
	if tables := tableNames(t, db); strings.Join(tables, ",") != "helpdesk_agent,helpdesk_category,helpdesk_ticket" {
		t.Errorf("tables = %v", tables)
	}
	if hasColumn(t, db, "helpdesk_ticket", "channel") {
		t.Error("the crashed upgrade's column survived")
	}
	if n := count(t, db, `SELECT (SELECT count(*) FROM helpdesk_category) + (SELECT count(*) FROM helpdesk_agent) + (SELECT count(*) FROM helpdesk_ticket)`); n != 10 {
		t.Errorf("rows = %d, want the 10 of 1.0.0", n)
	}
	res := install(t, db, mustLoad(t, exampleDir("helpdesk-1.1.0")), InstallOptions{})
	if res.Action != ActionUpgrade {
		t.Errorf("upgrade after crash = %+v", res)
	}
}
