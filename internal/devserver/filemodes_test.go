package devserver

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// assertPrivateTree fails for every file under dir that group or others may access and every
// folder that is not 0700.
func assertPrivateTree(t *testing.T, dir string) (files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch perm := fi.Mode().Perm(); {
		case d.IsDir() && perm != 0o700:
			t.Errorf("folder %s has mode %04o, want 0700", p, perm)
		case !d.IsDir() && perm&0o077 != 0:
			t.Errorf("file %s has mode %04o: readable beyond its owner", p, perm)
		case !d.IsDir():
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDataFilesArePrivate: devserver.db holds the Ed25519 seed that signs every database token
// and the database files hold the data; any local user could read both (0644 files in 0755
// folders). Created files are 0600 and folders 0700, and a data folder an older version left
// open is tightened when the server starts.
func TestDataFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	// What an older version left behind: open folders and a world-readable (empty) registry.
	if err := os.MkdirAll(filepath.Join(dir, "databases"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "devserver.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "databases")} {
		if err := os.Chmod(p, 0o755); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	ts := startServer(t, Options{DataDir: dir})
	ts.createDB("shop")
	tok := ts.token("shop", "")
	_, m := ts.pipeline("shop", tok, pipelineBody("", execReq("CREATE TABLE t(x)"), execReq("INSERT INTO t VALUES (1)")))
	for _, r := range results(t, m) {
		stmtResultOf(t, r)
	}
	// A seeded copy is written by SQLite's VACUUM INTO, which creates files 0644 on its own.
	if st, _, raw := ts.apiCall("POST", "/databases", map[string]any{"name": "copy", "group": "default", "seed": map[string]any{"type": "database", "name": "shop"}}); st != 200 {
		t.Fatalf("seeded create: %d %s", st, raw)
	}
	_, m = ts.pipeline("copy", ts.token("copy", ""), pipelineBody("", execReq("INSERT INTO t VALUES (2)")))
	stmtResultOf(t, results(t, m)[0])

	// While the server runs, WAL and shared-memory files exist too.
	if n := assertPrivateTree(t, dir); n < 5 {
		t.Fatalf("only %d files under the data dir; the test did not see the databases", n)
	}
	ts.run.Stop()
	assertPrivateTree(t, dir)
}
