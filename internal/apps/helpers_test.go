package apps

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

func exampleDir(name string) string { return filepath.Join("..", "..", "examples", "apps", name) }

// newDB opens a fresh tenant database file in the test's temp dir.
func newDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenant.db")
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// writeFiles creates files (relative path → content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mustLoad loads an app folder and fails the test on any validation error.
func mustLoad(t testing.TB, dir string) *App {
	t.Helper()
	app, res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid {
		t.Fatalf("app %s invalid:\n%s", dir, FormatIssues(dir, res))
	}
	return app
}

// simpleApp writes a minimal valid app (one object per name, no seed) and loads it.
func simpleApp(t testing.TB, root, name, version string, deps []string, objects ...string) *App {
	t.Helper()
	dir := filepath.Join(root, name+"-"+version)
	var b strings.Builder
	b.WriteString("name: " + name + "\nlabel: " + name + "\nversion: " + version + "\nobjects: [" + strings.Join(objects, ", ") + "]\n")
	if len(deps) > 0 {
		b.WriteString("dependencies:\n")
		for _, d := range deps {
			b.WriteString("  - \"" + d + "\"\n")
		}
	}
	files := map[string]string{"app.yaml": b.String()}
	for _, o := range objects {
		files["objects/"+o+".yaml"] = "name: " + o + "\nfields:\n  name: { type: text }\n"
	}
	writeFiles(t, dir, files)
	return mustLoad(t, dir)
}

func install(t testing.TB, db *sql.DB, app *App, opts InstallOptions) *AppInstallResult {
	t.Helper()
	res, err := Install(context.Background(), db, app, opts)
	if err != nil {
		t.Fatalf("install %s %s: %v", app.Manifest.Name, app.Manifest.Version, err)
	}
	if !res.Success {
		t.Fatalf("install %s: success=false: %s", app.Manifest.Name, res.Error)
	}
	return res
}

func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func tableNames(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\_objectstack\_%' ESCAPE '\' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func hasColumn(t testing.TB, db *sql.DB, table, col string) bool {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col) == 1
}

func issuesOf(c AppCompatibilityCheck, category string) []CompatibilityIssue {
	var out []CompatibilityIssue
	for _, is := range c.Issues {
		if is.Category == category {
			out = append(out, is)
		}
	}
	return out
}

func hasIssue(res bundle.ValidationResult, code, substr string) bool {
	for _, is := range res.Issues {
		if (code == "" || is.Code == code) && strings.Contains(is.Message, substr) {
			return true
		}
	}
	return false
}

func ptr(n int64) *int64 { return &n }
