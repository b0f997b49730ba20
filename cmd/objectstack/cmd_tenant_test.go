package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
)

var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.eyJ`)

// TestTenantCLI drives create/get/list/suspend/resume/destroy against both backends with --debug
// on, and checks exit codes, JSON field names and that no token appears in stdout or stderr.
func TestTenantCLI(t *testing.T) {
	const apiToken = "osk-cli-secret-api-token-1234567890"
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
	bundleDir := writeTenantBundle(t)

	for _, backend := range []string{"local", "dev"} {
		t.Run(backend, func(t *testing.T) {
			var all strings.Builder
			flags := []string{"--data-dir", t.TempDir(), "--debug"}
			if backend == "dev" {
				flags = append(flags, "--api-url", dev.URL, "--org", "acme")
			}
			run := func(wantCode int, args ...string) string {
				t.Helper()
				out, errOut, code := runCLI(t, append(append([]string{"tenant"}, args...), flags...)...)
				all.WriteString(out + errOut)
				if code != wantCode {
					t.Fatalf("tenant %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out, errOut)
				}
				return out
			}
			out := run(0, "create", "Acme_Co", "--org-id", "org-1", "--plan", "pro", "--region", "eu-west",
				"--labels", "env=prod,tier=gold", "--quota", "maxObjects=10,maxStorageBytes=1048576", "--bundle", bundleDir, "--json")
			var res map[string]any
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("create --json: %v\n%s", err, out)
			}
			if res["tenantId"] != "acme-co" || res["status"] != "active" || res["plan"] != "pro" || res["region"] != "eu-west" {
				t.Fatalf("create result %v", res)
			}
			if steps, _ := res["steps"].([]any); len(steps) != 6 {
				t.Fatalf("steps %v", res["steps"])
			}
			out = run(0, "get", "acme-co")
			for _, want := range []string{"active", "env=prod,tier=gold", "maxObjects"} {
				if !strings.Contains(out, want) {
					t.Fatalf("get output lacks %q:\n%s", want, out)
				}
			}
			out = run(0, "list", "--label", "tier=gold", "--json")
			var list []map[string]any
			if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0]["id"] != "acme-co" {
				t.Fatalf("list: %v %s", err, out)
			}
			run(0, "suspend", "acme-co")
			if out := run(0, "get", "acme-co", "--json"); !strings.Contains(out, `"status": "suspended"`) {
				t.Fatalf("after suspend: %s", out)
			}
			run(0, "resume", "acme-co")
			run(0, "update", "acme-co", "--plan", "enterprise")
			run(0, "destroy", "acme-co", "--grace-period", "1h")
			run(0, "resume", "acme-co")
			if out := run(0, "destroy", "acme-co", "--immediate"); !strings.Contains(out, "archived") || !strings.Contains(out, "backup:") {
				t.Fatalf("destroy --immediate: %s", out)
			}
			run(0, "purge")

			// Bad input: exit 2, nothing created.
			run(2, "create", "1bad", "--org-id", "o")
			run(2, "create", "fine", "--org-id", "o", "--plan", "gold")
			run(2, "create", "fine", "--org-id", "o", "--quota", "maxObjects=0")
			run(2, "create", "fine", "--org-id", "o", "--labels", "novalue")
			run(1, "get", "nope")
			if out := run(0, "list", "--json"); strings.Count(out, `"id"`) != 1 {
				t.Fatalf("refused creates left rows: %s", out)
			}

			text := all.String()
			if !strings.Contains(text, "level=DEBUG") {
				t.Fatal("--debug produced no debug log; the leak check would prove nothing")
			}
			if strings.Contains(text, apiToken) || jwtLike.MatchString(text) {
				t.Fatalf("a token leaked into CLI output:\n%s", text)
			}
		})
	}
	_, errOut, code := runCLI(t, "tenant", "list")
	if code != exitUsage || !strings.Contains(errOut, "--data-dir") {
		t.Fatalf("no backend: exit %d, %s", code, errOut)
	}
}

func writeTenantBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"bundle.yaml": "name: crm\nversion: 1.0.0\n",
		"objects/account.yaml": `name: account
label: Account
fields:
  name:
    type: text
    label: Name
    required: true
  revenue:
    type: currency
    label: Revenue
`,
		"seed/accounts.yaml": `object: account
records:
  - name: Initech
    revenue: 10
  - name: Globex
    revenue: 20
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTenantIDArgumentOrFlag: every per-tenant command takes the id as its argument or as --id,
// and refuses two different ids or none as bad usage.
func TestTenantIDArgumentOrFlag(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runCLI(t, "tenant", "create", "--data-dir", dir, "--id", "acme", "--org-id", "o"); code != 0 {
		t.Fatalf("create: %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"tenant", "get", "--data-dir", dir, "--id", "acme"},
		{"tenant", "suspend", "--data-dir", dir, "--id", "acme"},
		{"tenant", "resume", "--data-dir", dir, "acme"},
		{"tenant", "update", "--data-dir", dir, "--id", "acme", "--plan", "pro"},
	} {
		if out, errOut, code := runCLI(t, args...); code != 0 || !strings.Contains(out, "acme") {
			t.Fatalf("%v: %d\n%s%s", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"tenant", "get", "--data-dir", dir},
		{"tenant", "suspend", "--data-dir", dir, "--id", "acme", "globex"},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitUsage || !strings.Contains(errOut, "tenant id") {
			t.Fatalf("%v: want usage error naming the tenant id, got %d\n%s", args, code, errOut)
		}
	}
}
