package reconciler

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// namedBundle is bundles/<name> with one object; extra lines are appended to its fields.
func namedBundle(name, object string, fields ...string) map[string][]byte {
	obj := "name: " + object + "\nlabel: " + object + "\nfields:\n  title: { type: text, label: Title }\n"
	for _, f := range fields {
		obj += "  " + f + "\n"
	}
	return map[string][]byte{
		"bundles/" + name + "/bundle.yaml":                 []byte("name: " + name + "\nversion: 1.0.0\nobjects: [" + object + "]\n"),
		"bundles/" + name + "/objects/" + object + ".yaml": []byte(obj),
	}
}

// namedApp is apps/<name> with one object and optional dependencies.
func namedApp(name, object string, deps ...string) map[string][]byte {
	manifest := "name: " + name + "\nlabel: " + name + "\nversion: 1.0.0\nobjects: [" + object + "]\n"
	if len(deps) > 0 {
		manifest += "dependencies: [" + strings.Join(deps, ", ") + "]\n"
	}
	return map[string][]byte{
		"apps/" + name + "/app.yaml":                    []byte(manifest),
		"apps/" + name + "/objects/" + object + ".yaml": []byte("name: " + object + "\nlabel: " + object + "\nfields:\n  title: { type: text, label: Title }\n"),
	}
}

func hasTable(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func registered(t *testing.T, db *sql.DB, owner schema.Owner) int {
	t.Helper()
	objs, err := schema.RegisteredObjects(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		if o.Owner == owner {
			n++
		}
	}
	return n
}

// cliDeploy deploys a bundle folder straight through the engine with source "cli", as `objectstack deploy` does.
func cliDeploy(t *testing.T, db *sql.DB, files map[string][]byte, name string) {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		if data == nil {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "bundles/"+name+"/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, res, err := bundle.Load(dir)
	if err != nil || !res.Valid {
		t.Fatalf("load %s: %v %+v", name, err, res)
	}
	ctx := context.Background()
	p, err := schema.PlanOwner(ctx, db, schema.BundleOwner(name), b.Objects, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "cli", Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
}

func lastHistory(t *testing.T, st status.Tenant) status.HistoryEntry {
	t.Helper()
	if len(st.History) == 0 {
		t.Fatalf("%s has no history", st.TenantID)
	}
	return st.History[0] // newest first
}

const pruneTargets = `apiVersion: objectstack.ai/v1
targets:
  - bundles: [core%s]
    selector: {labels: {env: prod}}
`

// TestPruneBundle: a bundle removed from the repository is only reported while prune is off, detached
// (tables and rows kept) once prune is on, and never touched where the CLI deployed it last; a bundle the
// CLI deployed on its own is never considered at all.
func TestPruneBundle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{"t-a", map[string]string{"env": "prod"}}, {"t-b", map[string]string{"env": "prod"}}})
	r := e.reconciler(Options{})
	extra := namedBundle("extra", "gadget")

	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte(strings.Replace(pruneTargets, "%s", ", extra", 1))}, coreBundle("1.0.0"), extra))
	e.remote.Commit("core + extra")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 2 {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	if _, err := e.db("t-a").ExecContext(ctx, `INSERT INTO gadget (id, title) VALUES ('g1', 'kept')`); err != nil {
		t.Fatal(err)
	}
	// The CLI deploys its own bundle to t-a, and takes extra over in t-b (a new field, so a deployment is recorded).
	cliDeploy(t, e.db("t-a"), namedBundle("manual", "widget"), "manual")
	cliDeploy(t, e.db("t-b"), namedBundle("extra", "gadget", "size: { type: number, label: Size }"), "extra")

	// extra leaves the repository (target and folder) with prune off: reported, kept.
	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(strings.Replace(pruneTargets, "%s", "", 1)), "bundles/extra": nil})
	e.remote.Commit("drop extra")
	md := review(t, r)
	mustContain(t, md, "#### Orphaned (prune disabled)")
	mustContain(t, md, "- `t-a`: bundle:extra")
	mustContain(t, md, "#### Not pruned: deployed by another tool")
	mustContain(t, md, "- `t-b`: bundle:extra (foreign: last deployed by cli)")
	if strings.Contains(md, "Will prune") || strings.Contains(md, "manual") {
		t.Fatalf("prune off must plan no prune, and the CLI's own bundle is not the reconciler's business:\n%s", md)
	}
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Pruned != 0 || sum.WithOrphans != 2 {
		t.Fatalf("prune off: %+v %v", sum, err)
	}
	for _, id := range []string{"t-a", "t-b"} {
		if !hasTable(t, e.db(id), "gadget") || registered(t, e.db(id), schema.BundleOwner("extra")) != 1 {
			t.Fatalf("%s: prune off removed extra", id)
		}
	}
	st := e.status("t-a")
	if st.Condition != status.Ready || st.Owners["bundle:extra"] == "" {
		t.Fatalf("t-a status must stay Ready and keep extra recorded: %+v", st)
	}
	mustContain(t, st.Message, "orphaned (prune disabled): bundle:extra")
	mustContain(t, lastHistory(t, st).Message, "orphaned (prune disabled): bundle:extra")
	stB := e.status("t-b")
	if _, ok := stB.Owners["bundle:extra"]; ok {
		t.Fatalf("t-b: extra was last deployed by the CLI, it must leave the reconciler's record: %+v", stB.Owners)
	}
	mustContain(t, stB.Message, "left alone: bundle:extra (foreign: last deployed by cli)")

	// Unchanged revision, prune still off: the fast path holds (no database opened).
	if sum, err := r.Once(ctx); err != nil || sum.Skipped != 2 || len(sum.Results) != 0 {
		t.Fatalf("no-change with orphans: %+v %v", sum, err)
	}

	// prune on: t-a detaches extra (table and row kept, registry rows gone); t-b keeps the CLI's extra.
	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(strings.Replace(pruneTargets, "%s", "", 1) + "prune: true\n")})
	e.remote.Commit("prune on")
	md = review(t, r)
	mustContain(t, md, "#### Will prune")
	mustContain(t, md, "- `t-a`: bundle:extra (detach)")
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Pruned != 1 || outcomes(sum)["t-a"] != OutcomeApplied {
		t.Fatalf("prune on: %+v %v", sum, err)
	}
	dbA := e.db("t-a")
	if registered(t, dbA, schema.BundleOwner("extra")) != 0 || !hasTable(t, dbA, "gadget") {
		t.Fatal("t-a: extra must be detached with its table kept")
	}
	var title string
	if err := dbA.QueryRow(`SELECT title FROM gadget WHERE id = 'g1'`).Scan(&title); err != nil || title != "kept" {
		t.Fatalf("t-a: rows must survive a detach: %q %v", title, err)
	}
	if registered(t, dbA, schema.BundleOwner("manual")) != 1 || registered(t, dbA, core) != 1 {
		t.Fatal("t-a: prune touched an owner it must not")
	}
	deps, err := schema.Deployments(ctx, dbA, schema.BundleOwner("extra"))
	if err != nil || !strings.HasPrefix(deps[len(deps)-1].Source, "reconcile@") {
		t.Fatalf("the detach is recorded as the reconciler's: %+v %v", deps, err)
	}
	if registered(t, e.db("t-b"), schema.BundleOwner("extra")) != 1 {
		t.Fatal("t-b: the CLI's extra was pruned")
	}
	st = e.status("t-a")
	if _, ok := st.Owners["bundle:extra"]; ok || st.Condition != status.Ready {
		t.Fatalf("t-a status after prune: %+v", st)
	}
	mustContain(t, lastHistory(t, st).Message, "pruned bundle:extra (detach)")
	if sum, err := r.Once(ctx); err != nil || sum.Skipped != 2 || len(sum.Results) != 0 {
		t.Fatalf("after prune the fast path holds again: %+v %v", sum, err)
	}
}

// TestPruneDropsTablesOfUntargetedTenant: a tenant no target selects any more is still pruned, and with
// drop_table allowed the bundle's tables are dropped through the engine.
func TestPruneDropsTablesOfUntargetedTenant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{"t-a", map[string]string{"env": "prod"}}, {"t-x", map[string]string{"env": "stage"}}})
	r := e.reconciler(Options{})
	cfg := "apiVersion: objectstack.ai/v1\nprune: true\nallowDestructive: [drop_table]\ntargets:\n  - bundles: [core]\n    selector: {labels: {env: prod}}\n"
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte(cfg + "  - bundles: [extra]\n    tenants: [t-x]\n")}, coreBundle("1.0.0"), namedBundle("extra", "gadget")))
	e.remote.Commit("extra for t-x")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 2 {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(cfg)})
	e.remote.Commit("t-x leaves")
	mustContain(t, review(t, r), "- `t-x`: bundle:extra (drop)")
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Targeted != 1 || sum.Pruned != 1 || outcomes(sum)["t-x"] != OutcomeApplied {
		t.Fatalf("untargeted prune: %+v %v", sum, err)
	}
	if db := e.db("t-x"); hasTable(t, db, "gadget") || registered(t, db, schema.BundleOwner("extra")) != 0 {
		t.Fatal("t-x: extra's table must be dropped")
	}
	if st := e.status("t-x"); len(st.Owners) != 0 || st.Condition != status.Ready {
		t.Fatalf("t-x status: %+v", st)
	}
	// Nothing is recorded for t-x any more: it is not considered again.
	if sum, err := r.Once(ctx); err != nil || sum.Skipped != 1 || len(sum.Results) != 0 {
		t.Fatalf("after prune: %+v %v", sum, err)
	}
}

// TestPruneApps: removed apps are uninstalled, dependents first; an app another installed app (here one
// the CLI installed) depends on is refused before anything is applied.
func TestPruneApps(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{"t-a", map[string]string{"env": "prod"}}, {"t-b", map[string]string{"env": "prod"}}})
	r := e.reconciler(Options{})
	head := "apiVersion: objectstack.ai/v1\nprune: true\nfailurePolicy: {mode: continue}\ntargets:\n  - bundles: [core]\n    selector: {labels: {env: prod}}\n"
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte(head + "  - apps: [addon]\n    selector: {labels: {env: prod}}\n")},
		coreBundle("1.0.0"), namedApp("base", "base_item"), namedApp("addon", "addon_item", "base")))
	e.remote.Commit("apps")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 2 {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	// The CLI installs its own app on t-b that depends on base.
	dir := t.TempDir()
	for p, data := range namedApp("ext", "ext_item", "base") {
		full := filepath.Join(dir, strings.TrimPrefix(p, "apps/ext/"))
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ext, vr, err := apps.Load(dir)
	if err != nil || !vr.Valid {
		t.Fatalf("load ext: %v %+v", err, vr)
	}
	if out, err := apps.Install(ctx, e.db("t-b"), ext, apps.InstallOptions{Source: "cli"}); err != nil || !out.Success {
		t.Fatalf("cli install: %+v %v", out, err)
	}

	e.remote.Write(map[string][]byte{"objectstack.yaml": []byte(head), "apps": nil})
	e.remote.Commit("apps removed")
	md := review(t, r)
	mustContain(t, md, "- `t-a`: app:addon (uninstall), app:base (uninstall)")
	mustContain(t, md, "other installed apps depend on it: ext")
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oc := outcomes(sum)
	if oc["t-a"] != OutcomeApplied || oc["t-b"] != OutcomeRefused || sum.Pruned != 2 {
		t.Fatalf("app prune: %+v", sum)
	}
	inst, err := apps.Installed(ctx, e.db("t-a"))
	if err != nil || len(inst) != 0 {
		t.Fatalf("t-a: apps left installed: %+v %v", inst, err)
	}
	if !hasTable(t, e.db("t-a"), "base_item") {
		t.Fatal("t-a: uninstall without drop_table must keep the tables")
	}
	inst, err = apps.Installed(ctx, e.db("t-b"))
	if err != nil || len(inst) != 3 {
		t.Fatalf("t-b: a refused prune must change nothing: %+v %v", inst, err)
	}
	st := e.status("t-b")
	if st.Condition != status.Stalled || st.Reason != status.ReasonDestructiveRefused {
		t.Fatalf("t-b status: %+v", st)
	}
	mustContain(t, st.Message, "prune app:base")
	mustContain(t, st.Message, "ext")
}
