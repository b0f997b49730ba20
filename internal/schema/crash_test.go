package schema

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

const (
	crashEnvDB   = "OBJECTSTACK_SCHEMA_CRASH_DB"
	crashRows    = 200_000
	crashBegun   = "MIGRATION-BEGUN"
	crashApplied = "MIGRATION-APPLIED"
	untilApplied = time.Duration(-1)
)

// crashV1 and crashV2 differ by a type change (number → text, a rebuild), a field that becomes
// required with a default (COALESCE) and a new index.
func crashV1() []bundle.Object {
	return []bundle.Object{obj("big", fld("a", bundle.TypeText), fld("n", bundle.TypeNumber), fld("b", bundle.TypeBoolean))}
}

func crashV2() []bundle.Object {
	return []bundle.Object{obj("big", fld("a", bundle.TypeText, required, def("none")), fld("n", bundle.TypeText, indexed), fld("b", bundle.TypeBoolean))}
}

// fillBig inserts rows rows into big with one statement (a recursive CTE), so setup stays fast.
func fillBig(t testing.TB, path string, rows int) {
	t.Helper()
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	execT(t, db, fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
INSERT INTO big (id, a, n, b) SELECT 'r' || i, CASE WHEN i %% 10 = 0 THEN NULL ELSE 'text ' || i END, i * 0.5, i %% 2 FROM s`, rows))
	execT(t, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
}

// TestCrashChild is the child half of TestCrashSafetyKillMidRebuild: it only runs when re-executed by
// it with the database path in the environment.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		t.Skip("helper process for TestCrashSafetyKillMidRebuild")
	}
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanOwner(context.Background(), db, BundleOwner("crash"), crashV2(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	testHookBeforeStatement = func(int) { once.Do(func() { fmt.Fprintln(os.Stdout, crashBegun) }) }
	if _, err := Apply(context.Background(), db, p, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, crashApplied)
}

// TestCrashSafetyKillMidRebuild starts a rebuild of a 200,000-row table in a child process, SIGKILLs it
// at different moments after the migration has begun, and checks that the database is then either
// entirely the old schema with the old registry or entirely the new one — with every row present.
func TestCrashSafetyKillMidRebuild(t *testing.T) {
	dir := t.TempDir()
	template := filepath.Join(dir, "template.db")
	tdb, err := database.Open(template, "")
	if err != nil {
		t.Fatal(err)
	}
	owner := BundleOwner("crash")
	p1 := mustApply(t, tdb, owner, nil, crashV1()...)
	tdb.Close()
	fillBig(t, template, crashRows)
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}

	// The expected shapes, from fresh databases.
	oldDB, _ := openDB(t, "old.db")
	mustApply(t, oldDB, owner, nil, crashV1()...)
	newDB, _ := openDB(t, "new.db")
	p2 := mustApply(t, newDB, owner, nil, crashV2()...)
	oldShape, newShape := describeSchema(t, oldDB), describeSchema(t, newDB)

	delays := []time.Duration{0, 10 * time.Millisecond, 40 * time.Millisecond, 120 * time.Millisecond, 400 * time.Millisecond, 1200 * time.Millisecond, untilApplied}
	killedMidway, completed := 0, 0
	for i, delay := range delays {
		path := filepath.Join(dir, fmt.Sprintf("run%d.db", i))
		if err := os.WriteFile(path, tmpl, 0o600); err != nil {
			t.Fatal(err)
		}
		applied := runAndKill(t, path, delay)
		db, err := database.Open(path, "")
		if err != nil {
			t.Fatal(err)
		}
		shape := describeSchema(t, db)
		sum, err := OwnerChecksum(context.Background(), db, owner)
		if err != nil {
			t.Fatal(err)
		}
		var count, nulls int
		if err := db.QueryRow(`SELECT count(*), count(*) - count(a) FROM big`).Scan(&count, &nulls); err != nil {
			t.Fatal(err)
		}
		var state string
		switch shape {
		case oldShape:
			state = "old"
			if sum != p1.Checksum {
				t.Fatalf("run %d: old schema but registry checksum %s (want %s)", i, sum, p1.Checksum)
			}
			if nulls != crashRows/10 {
				t.Fatalf("run %d: old schema with %d NULLs in a", i, nulls)
			}
			killedMidway++
		case newShape:
			state = "new"
			completed++
			if sum != p2.Checksum {
				t.Fatalf("run %d: new schema but registry checksum %s (want %s)", i, sum, p2.Checksum)
			}
			var wrong int
			if err := db.QueryRow(`SELECT count(*) FROM big WHERE n IS NOT CAST(CAST(substr(id, 2) AS INTEGER) * 0.5 AS TEXT) OR typeof(n) <> 'text'`).Scan(&wrong); err != nil {
				t.Fatal(err)
			}
			if nulls != 0 || wrong != 0 {
				t.Fatalf("run %d: new schema with %d NULLs in a and %d wrongly converted n", i, nulls, wrong)
			}
		default:
			t.Fatalf("run %d: schema is neither old nor new:\n%s", i, shape)
		}
		if count != crashRows {
			t.Fatalf("run %d (%s schema): %d rows, want %d", i, state, count, crashRows)
		}
		var integrity string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
			t.Fatalf("run %d: integrity_check %q %v", i, integrity, err)
		}
		db.Close()
		t.Logf("kill %v after the migration began: %s schema, %d rows (child finished first: %v)", delay, state, count, applied)
	}
	if killedMidway == 0 || completed == 0 {
		t.Fatalf("want runs ending in both states; old %d, new %d", killedMidway, completed)
	}
}

// runAndKill runs the child migration on path and SIGKILLs it delay after it reports the first
// statement. It reports whether the child had already printed that it committed.
func runAndKill(t *testing.T, path string, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	begun := false
	deadline := time.After(60 * time.Second)
	for !begun {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child exited before the migration began: %s", stderr.String())
			}
			begun = l == crashBegun
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("child did not begin the migration within 60s")
		}
	}
	applied := false
	if delay == untilApplied {
		// The control run: killed only after it reported its commit, so it must show the new schema.
		for l := range lines {
			if l == crashApplied {
				applied = true
				break
			}
		}
	} else {
		time.Sleep(delay)
	}
	_ = cmd.Process.Kill()
	for l := range lines {
		if l == crashApplied {
			applied = true
		}
	}
	_ = cmd.Wait()
	_, _ = io.Copy(io.Discard, out)
	return applied
}
