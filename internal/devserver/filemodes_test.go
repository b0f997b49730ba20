package devserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/filemodetest"
)

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
	if n := filemodetest.AssertPrivateTree(t, dir); n < 5 {
		t.Fatalf("only %d files under the data dir; the test did not see the databases", n)
	}
	ts.run.Stop()
	filemodetest.AssertPrivateTree(t, dir)
}
