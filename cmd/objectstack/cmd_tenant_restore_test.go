package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
)

// TestTenantTemplateAndRestoreCLI drives create-template, create --seed-database, an apply that drops a
// column (which prints the restore point), restore --before-deployment, --list and --purge-old against
// both backends, and checks the dropped column's data is back and no token is printed.
func TestTenantTemplateAndRestoreCLI(t *testing.T) {
	const apiToken = "osk-cli-restore-api-token-1234567890"
	dev, err := devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Stop)
	t.Setenv("TURSO_API_TOKEN", apiToken)
	t.Setenv("OBJECTSTACK_DATA_DIR", "")
	t.Setenv("OBJECTSTACK_API_URL", "")
	t.Setenv("OBJECTSTACK_ORG", "")
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	v1 := writeTenantBundle(t)
	// v2 drops account.revenue.
	v2 := t.TempDir()
	for name, body := range map[string]string{
		"bundle.yaml":          "name: crm\nversion: 2.0.0\n",
		"objects/account.yaml": "name: account\nlabel: Account\nfields:\n  name:\n    type: text\n    label: Name\n    required: true\n",
	} {
		p := filepath.Join(v2, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, backend := range []string{"local", "dev"} {
		t.Run(backend, func(t *testing.T) {
			var all strings.Builder
			dataDir := t.TempDir()
			flags := []string{"--data-dir", dataDir}
			if backend == "dev" {
				flags = append(flags, "--api-url", dev.URL, "--org", "acme")
			}
			run := func(wantCode int, args ...string) string {
				t.Helper()
				out, errOut, code := runCLI(t, append(args, flags...)...)
				all.WriteString(out + errOut)
				if code != wantCode {
					t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out, errOut)
				}
				return out + errOut
			}
			run(0, "tenant", "create-template", "tmpl-crm-v1", "--bundle", v1)
			run(1, "tenant", "create-template", "tmpl-crm-v1", "--bundle", v1)
			run(0, "tenant", "create", "acme", "--org-id", "org-1", "--bundle", v1, "--seed-database", "tmpl-crm-v1")
			out := run(0, "apply", "--tenant", "acme", "--bundle", v2, "--allow-destructive", "drop_column")
			m := regexp.MustCompile(`undo with: objectstack tenant restore acme --before-deployment (dep-\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("apply did not print the restore point:\n%s", out)
			}
			out = run(0, "tenant", "restore", "acme", "--before-deployment", m[1], "--json")
			var rec struct{ OldDatabase, NewDatabase, RestorePoint string }
			if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.OldDatabase != "acme" || !strings.HasPrefix(rec.NewDatabase, "acme-r") {
				t.Fatalf("restore --json: %v\n%s", err, out)
			}
			// The tenant's database holds the dropped column's values again.
			out = run(0, "tenant", "get", "acme", "--json")
			var tn struct{ DatabaseName, DatabaseURL string }
			if err := json.Unmarshal([]byte(out), &tn); err != nil || tn.DatabaseName != rec.NewDatabase {
				t.Fatalf("tenant get after restore: %v\n%s", err, out)
			}
			if backend == "local" {
				db, err := database.Open(tn.DatabaseURL, "")
				if err != nil {
					t.Fatal(err)
				}
				var sum float64
				err = db.QueryRow(`SELECT SUM(revenue) FROM account`).Scan(&sum)
				db.Close()
				if err != nil || sum != 30 {
					t.Fatalf("restored revenue: %v %v; want 30", sum, err)
				}
			}
			run(2, "tenant", "restore", "acme")
			run(1, "tenant", "restore", "acme", "--before-deployment", "dep-nope")
			if out := run(0, "tenant", "restore", "acme", "--list"); !strings.Contains(out, "acme -> "+rec.NewDatabase+", old kept") {
				t.Fatalf("restore --list:\n%s", out)
			}
			if out := run(0, "tenant", "restore", "acme", "--purge-old"); !strings.Contains(out, "deleted acme") {
				t.Fatalf("restore --purge-old:\n%s", out)
			}
			if jwtLike.MatchString(all.String()) || strings.Contains(all.String(), apiToken) {
				t.Fatal("a token was printed")
			}
		})
	}
}
