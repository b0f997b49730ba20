package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
)

// TestGroupCLI drives group create/get/list/delete/locations, region placement with
// --region-groups, the refused region move, tenant configure (delete protection stops destroy,
// naming the setting) and the blast-radius note of a suspend, on both backends.
func TestGroupCLI(t *testing.T) {
	const apiToken = "osk-cli-group-api-token-1234567890"
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
	t.Setenv("OBJECTSTACK_REGION_GROUPS", "")

	for _, backend := range []string{"local", "dev"} {
		t.Run(backend, func(t *testing.T) {
			flags := []string{"--data-dir", t.TempDir()}
			if backend == "dev" {
				flags = append(flags, "--api-url", dev.URL, "--org", "acme")
			}
			run := func(wantCode int, args ...string) (string, string) {
				t.Helper()
				out, errOut, code := runCLI(t, append(args, flags...)...)
				if code != wantCode {
					t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out, errOut)
				}
				return out, errOut
			}
			run(0, "group", "create", "eu", "--location", "aws-eu-west-1")
			_, errOut := run(1, "group", "create", "eu", "--location", "aws-eu-west-1")
			if !strings.Contains(errOut, "already exists") {
				t.Fatalf("second create: %s", errOut)
			}
			_, errOut = run(2, "group", "create", "mars", "--location", "mars-1")
			if !strings.Contains(errOut, "invalid location") {
				t.Fatalf("bad location: %s", errOut)
			}
			out, _ := run(0, "group", "locations")
			if !strings.Contains(out, "aws-eu-west-1") {
				t.Fatalf("locations: %s", out)
			}
			run(0, "group", "add-location", "eu", "aws-us-west-2")
			out, _ = run(0, "group", "list", "--json")
			if !strings.Contains(out, `"aws-us-west-2"`) || !strings.Contains(out, `"default"`) {
				t.Fatalf("list: %s", out)
			}

			rg := "--region-groups=eu-west=eu"
			run(0, "tenant", "create", "lille", "--org-id", "o", "--region", "eu-west", rg)
			run(0, "tenant", "create", "nantes", "--org-id", "o", "--region", "eu-west", rg)
			out, _ = run(0, "group", "get", "eu", "--json")
			var g map[string]any
			if err := json.Unmarshal([]byte(out), &g); err != nil {
				t.Fatal(err)
			}
			if dbs, _ := g["databases"].([]any); len(dbs) != 2 || dbs[0] != "lille" || dbs[1] != "nantes" {
				t.Fatalf("group get: %s", out)
			}
			// Moving to another region is refused with the reason, not silently ignored.
			_, errOut = run(1, "tenant", "create", "lille", "--org-id", "o", "--region", "us-east", rg)
			if !strings.Contains(errOut, "cannot move to region us-east") || !strings.Contains(errOut, "group eu") {
				t.Fatalf("region move: %s", errOut)
			}
			_, errOut = run(1, "tenant", "update", "lille", "--region", "us-east", rg)
			if !strings.Contains(errOut, "cannot move") {
				t.Fatalf("update --region: %s", errOut)
			}
			_, errOut = run(2, "tenant", "list", "--region-groups=mars=eu")
			if !strings.Contains(errOut, "mars") {
				t.Fatalf("bad region map: %s", errOut)
			}
			// The group with databases is not deleted.
			_, errOut = run(1, "group", "delete", "eu")
			if !strings.Contains(errOut, "still has databases") {
				t.Fatalf("delete non-empty group: %s", errOut)
			}

			// Protection: destroy fails naming delete_protection and changes nothing.
			out, _ = run(0, "tenant", "configure", "lille", "--delete-protection", "--size-limit", "8mb", "--json")
			if !strings.Contains(out, `"deleteProtection": true`) || !strings.Contains(out, `"sizeLimitBytes": 8000000`) {
				t.Fatalf("configure: %s", out)
			}
			_, errOut = run(1, "tenant", "destroy", "lille", "--immediate", "--no-backup")
			if !strings.Contains(errOut, "delete_protection") {
				t.Fatalf("protected destroy: %s", errOut)
			}
			out, _ = run(0, "tenant", "get", "lille", "--json")
			if !strings.Contains(out, `"status": "active"`) {
				t.Fatalf("after refused destroy: %s", out)
			}
			run(0, "tenant", "configure", "lille", "--delete-protection=false")

			// Suspending a tenant of a shared group names the others first.
			_, errOut = run(0, "tenant", "suspend", "lille")
			if !strings.Contains(errOut, "group eu") || !strings.Contains(errOut, "nantes") {
				t.Fatalf("suspend note: %s", errOut)
			}
			_, errOut = run(1, "tenant", "configure", "lille", "--block-writes=false")
			if !strings.Contains(errOut, "resume it first") {
				t.Fatalf("unblock writes while suspended: %s", errOut)
			}
			run(0, "tenant", "destroy", "lille", "--immediate", "--no-backup")
			run(0, "tenant", "destroy", "nantes", "--immediate", "--no-backup")
			if _, errOut = run(2, "group", "protect", "eu"); !strings.Contains(errOut, "--delete-protection=true|false is required") {
				t.Fatalf("protect without the flag: %s", errOut)
			}
			run(0, "group", "protect", "eu", "--delete-protection")
			_, errOut = run(1, "group", "delete", "eu")
			if !strings.Contains(errOut, "delete_protection") {
				t.Fatalf("protected group delete: %s", errOut)
			}
			run(0, "group", "protect", "eu", "--delete-protection=false")
			run(0, "group", "delete", "eu")
			run(1, "group", "get", "eu")
		})
	}
}
