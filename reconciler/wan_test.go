package reconciler

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// wanEnv is the production topology on loopback: tenant databases on `objectstack dev` (Turso backend), every
// request crossing a counting proxy, and a local control plane (so every Hrana request counted is a tenant's).
type wanEnv struct {
	*env
	proxy  *wanproxy.Proxy
	ids    []string
	devDir string // the dev server's data folder
}

func newWANEnv(t *testing.T, n int) *wanEnv {
	t.Helper()
	ctx := context.Background()
	const apiToken = "dev-api-token"
	devDir := t.TempDir()
	run, err := devserver.Start(ctx, devserver.Options{DataDir: devDir, APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	px, err := wanproxy.Start(run.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	plat, err := platform.NewTurso(platform.TursoConfig{BaseURL: px.URL(), Organization: "acme", APIToken: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	svc, err := tenant.Open(ctx, tenant.Config{DataDir: dataDir, Platform: plat, SecretKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := database.Open(dataDir+"/"+tenant.ControlFile, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close(); svc.Close() })
	store, err := status.Open(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	w := &wanEnv{env: &env{t: t, dataDir: dataDir, svc: svc, ctl: ctl, store: store, remote: gittest.New(t)}, proxy: px, devDir: devDir}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("wan-%02d", i)
		w.env.provision(tenantSpec{id: id, labels: map[string]string{"env": "prod"}})
		w.ids = append(w.ids, id)
	}
	return w
}

// hranaPerTenant is the Hrana requests each tenant's database received since the last Reset.
func (w *wanEnv) hranaPerTenant() map[string]int64 {
	w.t.Helper()
	snap := w.proxy.Snapshot()
	out := map[string]int64{}
	for _, id := range w.ids {
		tn, err := w.svc.Get(context.Background(), id)
		if err != nil {
			w.t.Fatalf("tenant %s: %v", id, err)
		}
		out[id] = snap.HranaByDatabase[tn.DatabaseName]
	}
	return out
}

func (w *wanEnv) push(files map[string][]byte, msg string) {
	w.remote.Write(files)
	w.remote.Commit(msg)
}

const wanRepoConfig = "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    apps: [addon]\n    selector: {labels: {env: prod}}\n"

// addonApp is apps/addon: one object and seed rows keyed by name.
func addonApp(version, seedMode string, seeds ...string) map[string][]byte {
	files := map[string][]byte{
		"apps/addon/app.yaml":                 []byte("name: addon\nlabel: Addon\nversion: " + version + "\nobjects: [addon_tag]\n"),
		"apps/addon/objects/addon_tag.yaml":   []byte("name: addon_tag\nlabel: Tag\nfields:\n  name: { type: text, label: Name }\n  color: { type: text, label: Color }\n"),
		"apps/addon/seed/addon_tag_seed.yaml": nil,
	}
	seed := "object: addon_tag\nmode: " + seedMode + "\nexternalId: name\nrecords:\n"
	for _, s := range seeds {
		seed += "  - { name: " + s + " }\n"
	}
	files["apps/addon/seed/addon_tag_seed.yaml"] = []byte(seed)
	return files
}

// TestRequestsPerTenantOverHrana: planning a tenant is ONE Hrana request and applying the whole revision to
// it — a bundle and an app with seed rows together — is ONE more, for a first deploy and for a one-column
// change; a no-change reconcile opens no tenant database at all.
func TestRequestsPerTenantOverHrana(t *testing.T) {
	ctx := context.Background()
	w := newWANEnv(t, 4)
	r := w.reconciler(Options{Concurrency: 4})

	w.push(merge(map[string][]byte{"objectstack.yaml": []byte(wanRepoConfig)}, coreBundle("1.0.0"), addonApp("1.0.0", "upsert", "red", "blue")), "first deploy")
	w.proxy.Reset()
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != len(w.ids) {
		t.Fatalf("first deploy: %+v %v", sum, err)
	}
	for id, n := range w.hranaPerTenant() {
		if n != 2 {
			t.Errorf("first deploy: tenant %s took %d Hrana requests, want 2 (one read, one batch)", id, n)
		}
	}
	if p := w.proxy.Snapshot().Platform; p != 0 {
		t.Errorf("first deploy made %d Platform API calls, want 0", p)
	}
	for _, id := range w.ids {
		db := w.db(id)
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM addon_tag`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s seeded %d rows: %v", id, n, err)
		}
	}

	w.push(coreBundle("1.1.0", "priority: { type: number, label: Priority }"), "one column")
	w.proxy.Reset()
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != len(w.ids) {
		t.Fatalf("one-column change: %+v %v", sum, err)
	}
	for id, n := range w.hranaPerTenant() {
		if n != 2 {
			t.Errorf("one-column change: tenant %s took %d Hrana requests, want 2", id, n)
		}
	}

	w.proxy.Reset()
	sum, err = r.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != len(w.ids) {
		t.Fatalf("no-change reconcile: %+v %v", sum, err)
	}
	if s := w.proxy.Snapshot(); s.Hrana != 0 || s.Platform != 0 {
		t.Errorf("no-change reconcile made %d Hrana and %d Platform requests, want none", s.Hrana, s.Platform)
	}
}

// snapshotDB is every schema object and every row of db in a stable order, and the bytes of its files on the
// dev server: two equal snapshots mean the tenant is unchanged, to any client and on disk.
func (w *wanEnv) snapshotDB(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	db := w.db(id)
	var b strings.Builder
	rows, err := db.QueryContext(ctx, `SELECT type, name, COALESCE(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, sqlText string
		if err := rows.Scan(&typ, &name, &sqlText); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", typ, name, sqlText)
		if typ == "table" && !strings.HasPrefix(name, "sqlite_") {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, tbl := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+schema.QuoteIdent(tbl)+" ORDER BY rowid")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v\n", tbl, vals)
		}
		rows.Close()
	}
	tn, err := w.svc.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(filepath.Join(w.devDir, "databases", tn.DatabaseName+".db"+suffix))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "file%s sha256 %x (%d bytes)\n", suffix, sha256.Sum256(data), len(data))
	}
	return b.String()
}

// TestRevisionIsAtomicPerTenant: a revision that changes a bundle and an app, whose app seed fails at one
// tenant (a duplicate in an insert-mode dataset), leaves that tenant exactly as it was — the bundle's new
// column is not there either — while the other tenants get the whole revision; the failed tenant's status
// names the cause.
func TestRevisionIsAtomicPerTenant(t *testing.T) {
	ctx := context.Background()
	w := newWANEnv(t, 3)
	r := w.reconciler(Options{Concurrency: 2})
	// continue: the other tenants must get the revision whatever order the workers take them in.
	w.push(merge(map[string][]byte{"objectstack.yaml": []byte(wanRepoConfig + "failurePolicy: {mode: continue}\n")}, coreBundle("1.0.0"), addonApp("1.0.0", "upsert", "red")), "v1")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("v1: %+v %v", sum, err)
	}
	bad := w.ids[1]
	// A row the next dataset (mode insert) will collide with, at one tenant only.
	if _, err := w.db(bad).ExecContext(ctx, `INSERT INTO addon_tag (id, name) VALUES ('x1', 'green')`); err != nil {
		t.Fatal(err)
	}
	before := w.snapshotDB(t, bad)
	w.push(merge(coreBundle("1.1.0", "priority: { type: number, label: Priority }"), addonApp("1.1.0", "insert", "green", "yellow")), "v2")
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(sum)
	for _, id := range w.ids {
		want := OutcomeApplied
		if id == bad {
			want = OutcomeFailed
		}
		if got[id] != want {
			t.Errorf("tenant %s: outcome %q, want %q (%+v)", id, got[id], want, sum.Results)
		}
	}
	if after := w.snapshotDB(t, bad); after != before {
		t.Errorf("the failed tenant changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	st := w.status(bad)
	if st.Condition != status.Stalled || !strings.Contains(st.Message, "addon") || !strings.Contains(st.Message, "mode insert refuses duplicates") {
		t.Errorf("status does not name the cause: %+v", st)
	}
	for _, id := range w.ids {
		if id == bad {
			continue
		}
		if n := w.deployments(id, schema.BundleOwner("core"), ""); n != 2 {
			t.Errorf("tenant %s has %d core deployments, want 2", id, n)
		}
	}
}
