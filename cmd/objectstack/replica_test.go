package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// waitUntil polls cond until it holds or ctx ends; what it waits for is named in the failure.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// exited fails the test when a replica that should keep running has exited (a refused flag, a crash).
func exited(t *testing.T, p *cliProcess) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("objectstack %v exited with %d; stderr:\n%s", p.cmd.Args[1:], p.code, p.stderr.String())
	default:
	}
}

// leaseDoc is the part of `objectstack status --json` this test reads.
type leaseDoc struct {
	Tenants []struct {
		TenantID, Condition, LastAppliedRevision string
	}
	Leases []struct {
		TenantID, Holder string
		Expired          bool
	}
}

func readLeaseDoc(t *testing.T, data string) (leaseDoc, bool) {
	t.Helper()
	out, _, code := runCLI(t, "status", "--data-dir", data, "--json")
	var doc leaseDoc
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
		return doc, false // the control plane may be busy with a replica's write: the caller polls again
	}
	return doc, true
}

// deploymentsOf counts a tenant database's deployments of owner (read straight from its SQLite file).
func deploymentsOf(t *testing.T, path, owner string) int {
	t.Helper()
	db, err := database.Open(path, "")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	var n int
	// A database nothing was deployed to has no registry yet: zero deployments.
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = '_objectstack_deployments'`).Scan(&n); err != nil || n == 0 {
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return 0
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM _objectstack_deployments WHERE owner = ? AND status = 'ready'`, owner).Scan(&n); err != nil && err != sql.ErrNoRows {
		t.Fatalf("count deployments in %s: %v", path, err)
	}
	return n
}

// TestReplicaKilledMidRolloutSurvivorTakesOver (issue 15 item 4): two `objectstack reconcile` replicas
// (separate processes, --lease-ttl 2s, the default one-minute poll) share a control plane; replica a is
// SIGKILLed mid-rollout while it holds leases. The survivor takes a's tenants over once their leases run
// out — without waiting for its poll — and every tenant ends Ready with exactly one deployment of the
// revision. The time bound is a generous upper limit (the old behaviour was ten minutes).
//
// The rollout is an index on a column every tenant holds rows in, so each tenant takes a while to migrate
// and both replicas have tenants to take whichever starts first (with empty tables a replica that started
// a little late, on a busy machine, could find the other had already migrated everyone).
func TestReplicaKilledMidRolloutSurvivorTakesOver(t *testing.T) {
	const tenants, ttl, rows = 40, 2 * time.Second, 10000
	data := t.TempDir()
	env := []string{"OBJECTSTACK_SECRET_KEY="}
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for i := range tenants {
		if _, stderr, code := runCLI(t, "tenant", "create", fmt.Sprintf("t-%02d", i), "--org-id", "o1", "--labels", "env=prod", "--data-dir", data); code != 0 {
			t.Fatalf("tenant create: %d %s", code, stderr)
		}
	}
	repo := filepath.Join(t.TempDir(), "gitops")
	gitRun(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	note := "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title, index: true }\n  body: { type: textarea, label: Body%s }\n"
	writeFiles(t, repo, map[string]string{
		"objectstack.yaml":               "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [core]\n    selector: {labels: {env: prod}}\n",
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.0.0\nobjects: [note, tag]\n",
		"bundles/core/objects/note.yaml": fmt.Sprintf(note, ""),
		"bundles/core/objects/tag.yaml":  "name: tag\nlabel: Tag\nfields:\n  name: { type: text, label: Name, unique: true }\n",
	})
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "core 1.0.0")
	if _, stderr, code := runCLI(t, "reconcile", "--once", "--repo", repo, "--data-dir", data); code != 0 {
		t.Fatalf("first rollout: %d %s", code, stderr)
	}
	dbPath := func(i int) string { return filepath.Join(data, "databases", fmt.Sprintf("t-%02d.db", i)) }
	for i := range tenants {
		db, err := database.Open(dbPath(i), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO note (id, title, body) SELECT 'n' || i, 'note ' || i, hex(randomblob(16)) FROM n`, rows)
		db.Close()
		if err != nil {
			t.Fatalf("fill t-%02d: %v", i, err)
		}
	}
	writeFiles(t, repo, map[string]string{
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.1.0\nobjects: [note, tag]\n",
		"bundles/core/objects/note.yaml": fmt.Sprintf(note, ", index: true"),
	})
	gitRun(t, repo, "commit", "-q", "-am", "core 1.1.0: index note.body")
	head := gitRun(t, repo, "rev-parse", "HEAD")

	replica := func(id string) *cliProcess {
		return startCLI(t, env, "reconcile", "--repo", repo, "--data-dir", data, "--replica-id", id, "--lease-ttl", ttl.String(),
			"--concurrency", "1", "--drift-interval", "0", "--log-format", "json")
	}
	a := replica("replica-a")
	b := replica("replica-b")

	// Kill a as soon as it has migrated two tenants: it then holds leases on the rest of its group.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitUntil(ctx, t, "replica a to migrate two tenants", func() bool {
		exited(t, a)
		exited(t, b)
		return strings.Count(a.stderr.String(), `"msg":"tenant reconciled"`) >= 2
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.done
	if strings.Contains(a.stderr.String(), `"msg":"reconcile finished"`) {
		t.Fatalf("replica a finished its rollout before it was killed; stderr:\n%s", a.stderr.String())
	}

	// The survivor converges everyone.
	var last leaseDoc
	waitUntil(ctx, t, "every tenant Ready at HEAD with no lease of the dead replica", func() bool {
		exited(t, b)
		doc, ok := readLeaseDoc(t, data)
		if !ok {
			return false
		}
		last = doc
		ready := 0
		for _, tn := range doc.Tenants {
			if tn.Condition == "Ready" && strings.Contains(tn.LastAppliedRevision, head) {
				ready++
			}
		}
		for _, l := range doc.Leases {
			if l.Holder == "replica-a" && !l.Expired {
				return false
			}
		}
		return ready == tenants
	})
	took := time.Since(killed)
	t.Logf("survivor converged every tenant %v after the kill (lease TTL %v)", took, ttl)
	if limit := 15 * ttl; took > limit {
		t.Fatalf("the survivor needed %v after the kill, more than the generous limit %v for a %v lease", took, limit, ttl)
	}
	if !strings.Contains(b.stderr.String(), `"msg":"tenant reconciled"`) {
		t.Fatalf("the survivor migrated nothing; its log:\n%s", b.stderr.String())
	}
	for i := range tenants {
		if n := deploymentsOf(t, dbPath(i), "bundle:core"); n != 2 {
			t.Fatalf("t-%02d has %d deployments of bundle:core, want exactly 2 (1.0.0 and 1.1.0; status %+v)", i, n, last)
		}
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("survivor exit %d; stderr:\n%s", code, b.stderr.String())
	}
}

// TestReplicasOnOneHostAreDistinctHolders (issue 15 item 4, the two-replica stall): two reconcile
// replicas on one host started without --replica-id used to share one lease holder — the host name — so
// leases did not keep them apart: both took the same tenants and migrated them at once, each waiting on
// the other's table rebuild. Here a replica on this host (holder = the host name, as the old default made
// it) holds tenant acme mid-rollout; a second replica started without --replica-id must leave acme alone.
func TestReplicasOnOneHostAreDistinctHolders(t *testing.T) {
	data := t.TempDir()
	t.Setenv("OBJECTSTACK_SECRET_KEY", "")
	for _, id := range []string{"acme", "globex"} {
		if _, stderr, code := runCLI(t, "tenant", "create", id, "--org-id", "o1", "--labels", "env=prod", "--data-dir", data); code != 0 {
			t.Fatalf("tenant create %s: %s", id, stderr)
		}
	}
	repo := filepath.Join(t.TempDir(), "gitops")
	gitRun(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	writeFiles(t, repo, map[string]string{
		"objectstack.yaml":               "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [core]\n    selector: {labels: {env: prod}}\n",
		"bundles/core/bundle.yaml":       "name: core\nversion: 1.0.0\nobjects: [note]\n",
		"bundles/core/objects/note.yaml": "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title }\n",
	})
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "core")

	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ctl, err := database.Open(filepath.Join(data, "control.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	store, err := status.Open(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := store.AcquireLeases(ctx, host, []string{"acme"}, 10*time.Minute); err != nil || !got["acme"] {
		t.Fatalf("lease acme for the first replica: %v %v", got, err)
	}
	ctl.Close()

	out, stderr, _ := runCLIProcess(t, []string{"OBJECTSTACK_SECRET_KEY="}, "reconcile", "--repo", repo, "--data-dir", data, "--once")
	if n := deploymentsOf(t, filepath.Join(data, "databases", "acme.db"), "bundle:core"); n != 0 {
		t.Fatalf("the second replica migrated acme, which the first replica on this host holds (%d deployments)\n%s\n%s", n, out, stderr)
	}
	if n := deploymentsOf(t, filepath.Join(data, "databases", "globex.db"), "bundle:core"); n != 1 {
		t.Fatalf("globex has %d deployments, want 1\n%s\n%s", n, out, stderr)
	}
}
