package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConcurrentTenantCreateOneWinner (issue 15 item 5): several `objectstack tenant create` processes
// start at once for one tenant id against one data dir. Exactly one provisions it; the others report it
// (they wait for the winner when it is still provisioning); every process exits 0, and the tenant is
// active — never failed — with its bundle deployed exactly once.
func TestConcurrentTenantCreateOneWinner(t *testing.T) {
	const procs, rounds = 6, 3
	bundle := filepath.Join("..", "..", "examples", "bundles", "crm")
	env := []string{"OBJECTSTACK_SECRET_KEY="}
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for round := range rounds {
		data := t.TempDir()
		id := fmt.Sprintf("race-%d", round)
		ps := make([]*cliProcess, procs)
		for i := range ps {
			ps[i] = startCLI(t, env, "tenant", "create", id, "--org-id", "o1", "--bundle", bundle, "--data-dir", data, "--json")
		}
		for i, p := range ps {
			if code := p.wait(t, 2*time.Minute); code != 0 {
				t.Fatalf("round %d: create #%d exited %d\nstdout:\n%s\nstderr:\n%s", round, i, code, p.stdout.String(), p.stderr.String())
			}
			var res struct{ Status string }
			if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil || res.Status != "active" {
				t.Fatalf("round %d: create #%d reported %q (%v):\n%s", round, i, res.Status, err, p.stdout.String())
			}
		}
		out, stderr, code := runCLI(t, "tenant", "get", id, "--data-dir", data, "--json")
		if code != 0 || !strings.Contains(out, `"status": "active"`) {
			t.Fatalf("round %d: tenant get: %d %s\n%s", round, code, stderr, out)
		}
		if n := deploymentsOf(t, filepath.Join(data, "databases", id+".db"), "bundle:crm"); n != 1 {
			t.Fatalf("round %d: %d deployments of bundle:crm, want exactly 1", round, n)
		}
	}
}
