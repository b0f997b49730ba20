package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform/platformtest"
)

func newLocal(t *testing.T) *platform.Local {
	t.Helper()
	l, err := platform.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalContract(t *testing.T) {
	platformtest.Run(t, func(t *testing.T) platform.Platform { return newLocal(t) }, platformtest.Options{})
}

func TestLocalFilesOnDisk(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if _, err := l.CreateGroup(ctx, platform.GroupOptions{Name: "eu"}); err != nil {
		t.Fatal(err)
	}
	db, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "acme", Group: "eu", SizeLimitBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if db.URL != filepath.Join(l.Dir(), "acme.db") || db.Group != "eu" || db.SizeLimit != "1048576" || db.DbID == "" {
		t.Fatalf("created %+v", db)
	}
	h, err := database.Open(db.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ExecContext(ctx, `CREATE TABLE t(x)`); err != nil {
		t.Fatal(err)
	}
	h.Close()
	for _, f := range []string{"acme.db", "acme.json"} {
		if _, err := os.Stat(filepath.Join(l.Dir(), f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// Group filter.
	if _, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	eu, err := l.ListDatabases(ctx, "eu")
	if err != nil || len(eu) != 1 || eu[0].Name != "acme" {
		t.Fatalf("list eu = %+v, %v", eu, err)
	}
	def, err := l.ListDatabases(ctx, platform.DefaultGroup)
	if err != nil || len(def) != 1 || def[0].Name != "other" {
		t.Fatalf("list default = %+v, %v", def, err)
	}
	// Sidecar is JSON written whole; a stray temp file from a crash is ignored by List.
	b, err := os.ReadFile(filepath.Join(l.Dir(), "acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	var side map[string]any
	if err := json.Unmarshal(b, &side); err != nil || side["group"] != "eu" {
		t.Fatalf("sidecar %s: %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir(), ".acme.json.123.tmp"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := l.ListDatabases(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("list all = %+v, %v", all, err)
	}
	// Delete removes the database and everything beside it.
	if err := l.DeleteDatabase(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(l.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "acme.") {
			t.Fatalf("left behind %s", e.Name())
		}
	}
}

func TestLocalBlockWritesThroughOpenURL(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	db, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "ro"})
	if err != nil {
		t.Fatal(err)
	}
	u, readOnly, err := l.OpenURL("ro")
	if err != nil || readOnly || !strings.HasPrefix(u, "file:") {
		t.Fatalf("OpenURL = %q, %v, %v", u, readOnly, err)
	}
	h, err := platform.Open(l, db, platform.Token{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ExecContext(ctx, `CREATE TABLE t(x); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	h.Close()

	yes := true
	if err := l.Configure(ctx, "ro", platform.Configuration{BlockWrites: &yes}); err != nil {
		t.Fatal(err)
	}
	u, readOnly, err = l.OpenURL("ro")
	if err != nil || !readOnly || !strings.Contains(u, "query_only") {
		t.Fatalf("OpenURL after block = %q, %v, %v", u, readOnly, err)
	}
	h, err = database.Open(u, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var n int
	if err := h.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("read on blocked db: %d, %v", n, err)
	}
	if _, err := h.ExecContext(ctx, `INSERT INTO t VALUES (2)`); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("write on blocked db: %v, want a readonly error", err)
	}
	// Blocked reads refuse to open at all.
	if err := l.Configure(ctx, "ro", platform.Configuration{BlockReads: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.OpenURL("ro"); err == nil {
		t.Fatal("OpenURL allowed a database with blocked reads")
	}
}

func TestLocalSizeLimitEnforcedOnOpen(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	db, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "small"})
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(64 * 1024)
	if err := l.Configure(ctx, "small", platform.Configuration{SizeLimitBytes: &limit}); err != nil {
		t.Fatal(err)
	}
	got, err := l.GetDatabase(ctx, "small")
	if err != nil || got.SizeLimit != "65536" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	h, err := platform.Open(l, db, platform.Token{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.ExecContext(ctx, `CREATE TABLE blob(b)`); err != nil {
		t.Fatal(err)
	}
	_, err = h.ExecContext(ctx, `INSERT INTO blob VALUES (zeroblob(200000))`)
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("insert past the size limit: %v, want database or disk is full", err)
	}
	neg := int64(-1)
	if err := l.Configure(ctx, "small", platform.Configuration{SizeLimitBytes: &neg}); err == nil {
		t.Fatal("negative size limit accepted")
	}
}

func TestLocalCreateRepairsMissingSidecar(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	// A creator that died between creating the file and writing the sidecar.
	if err := os.WriteFile(l.Path("half"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "half"})
	if !errors.Is(err, platform.ErrAlreadyExists) || db == nil || db.DbID == "" {
		t.Fatalf("create over half-created = %+v, %v", db, err)
	}
	again, err := l.GetDatabase(ctx, "half")
	if err != nil || again.DbID != db.DbID {
		t.Fatalf("get = %+v, %v", again, err)
	}
}

func TestLocalContextCancelled(t *testing.T) {
	l := newLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("create with cancelled context: %v", err)
	}
	if _, err := l.GetDatabase(context.Background(), "x"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("cancelled create left a database: %v", err)
	}
}

func TestNewLocalRequiresDir(t *testing.T) {
	if _, err := platform.NewLocal(""); err == nil {
		t.Fatal("empty data dir accepted")
	}
}

// Two Local values on one folder stand in for two processes: creators still agree on one
// database and one id — also when every one of them copies a seed database (odd rounds), where
// each makes its own copy and only one is linked into place.
func TestLocalConcurrentCreateAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	src, err := platform.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateDatabase(ctx, platform.CreateOptions{Name: "tmpl"}); err != nil {
		t.Fatal(err)
	}
	execLocal(t, src, "tmpl", `CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO account (name) VALUES ('Initech'), ('Globex')`)
	for round := range 20 {
		name := "shared-" + string(rune('a'+round))
		var seed *platform.Seed
		if round%2 == 1 {
			seed = &platform.Seed{Type: platform.SeedTypeDatabase, Database: "tmpl"}
		}
		var ls []*platform.Local
		for range 4 {
			l, err := platform.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		type result struct {
			db  *platform.Database
			err error
		}
		results := make(chan result, len(ls))
		for _, l := range ls {
			go func() {
				db, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: name, Seed: seed})
				results <- result{db, err}
			}()
		}
		winners, id := 0, ""
		for range ls {
			r := <-results
			if r.err == nil {
				winners++
			} else if !errors.Is(r.err, platform.ErrAlreadyExists) {
				t.Fatal(r.err)
			}
			if id == "" {
				id = r.db.DbID
			}
			if r.db.DbID != id || id == "" {
				t.Fatalf("round %d: ids %q and %q", round, id, r.db.DbID)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners", round, winners)
		}
		if seed != nil {
			if n := countRows(t, src, name, "account"); n != 2 {
				t.Fatalf("round %d: the seeded copy holds %d accounts, want 2", round, n)
			}
		}
	}
	// The losers' copies are gone: nothing hidden is left behind.
	entries, err := os.ReadDir(src.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// A creator killed while copying a seed database or writing a sidecar leaves a hidden temporary file (never
// a database under the name): the next NewLocal removes it once it is an hour old, and keeps a fresh one,
// which another process may still be writing.
func TestNewLocalRemovesStaleStagingFiles(t *testing.T) {
	dataDir := t.TempDir()
	l, err := platform.NewLocal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	stale := []string{".acme.db.123.tmp", ".acme.json.456.tmp"}
	fresh := ".globex.db.789.tmp"
	for _, n := range append(stale, fresh, "keep.db") {
		if err := os.WriteFile(filepath.Join(l.Dir(), n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, n := range append(stale, "keep.db") {
		if err := os.Chtimes(filepath.Join(l.Dir(), n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := platform.NewLocal(dataDir); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(l.Dir(), n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stale %s was kept (%v)", n, err)
		}
	}
	for _, n := range []string{fresh, "keep.db"} {
		if _, err := os.Stat(filepath.Join(l.Dir(), n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}

// execLocal runs the ';'-separated statements in database name of l.
func execLocal(t *testing.T, l *platform.Local, name, stmts string) {
	t.Helper()
	db, err := database.Open(l.Path(name), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range strings.Split(stmts, ";") {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// countRows counts the rows of table in database name of l.
func countRows(t *testing.T, l *platform.Local, name, table string) int {
	t.Helper()
	db, err := database.Open(l.Path(name), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
