package reconciler

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// testKey is a fixed secret key so parent and re-executed child processes share one control plane.
var testKey = []byte("0123456789abcdef0123456789abcdef")

type tenantSpec struct {
	id     string
	labels map[string]string
}

// env is a data folder with a tenant service (local platform), the reconciler's status store, and a Git
// remote on disk.
type env struct {
	t       testing.TB
	dataDir string
	svc     *tenant.Service
	ctl     *sql.DB
	store   *status.Store
	remote  *gittest.Remote
}

func openEnv(t testing.TB, dataDir string) *env {
	t.Helper()
	return openEnvWith(t, dataDir, "", "")
}

// openEnvWith is openEnv with the control plane at controlURL (a libSQL URL) instead of DATA_DIR/control.db.
func openEnvWith(t testing.TB, dataDir, controlURL, controlToken string) *env {
	t.Helper()
	ctx := context.Background()
	plat := testPlatform(t, dataDir)
	svc, err := tenant.Open(ctx, tenant.Config{DataDir: dataDir, Platform: plat, SecretKey: testKey, ControlURL: controlURL, ControlToken: controlToken})
	if err != nil {
		t.Fatal(err)
	}
	// The status tables on the tenant service's own control-plane handle, as cmd/objectstack opens them:
	// the reconciler then reads the registry and the status in one request.
	ctl := svc.ControlDB()
	store, err := status.Open(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dataDir: dataDir, svc: svc, ctl: ctl, store: store}
	t.Cleanup(func() { svc.Close() })
	return e
}

// testPlatformEnv, when set, puts the tenants of openEnvWith on that `objectstack dev` (Turso backend, reached
// over Hrana) instead of SQLite files in the data folder; re-executed child processes inherit it.
const testPlatformEnv = "OBJECTSTACK_TEST_PLATFORM_URL"

func testPlatform(t testing.TB, dataDir string) platform.Platform {
	t.Helper()
	if u := os.Getenv(testPlatformEnv); u != "" {
		p, err := platform.NewTurso(platform.TursoConfig{BaseURL: u, Organization: "acme", APIToken: "dev-api-token"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := platform.NewLocal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(t testing.TB, tenants []tenantSpec) *env {
	t.Helper()
	return newEnvWith(t, tenants, "", "")
}

func newEnvWith(t testing.TB, tenants []tenantSpec, controlURL, controlToken string) *env {
	t.Helper()
	e := openEnvWith(t, t.TempDir(), controlURL, controlToken)
	for _, ts := range tenants {
		e.provision(ts)
	}
	e.remote = gittest.New(t)
	return e
}

func (e *env) provision(ts tenantSpec) {
	e.t.Helper()
	res, err := e.svc.Provision(context.Background(), tenant.Request{ID: ts.id, OrgID: "org-test", Labels: ts.labels})
	if err != nil {
		e.t.Fatalf("provision %s: %v", ts.id, err)
	}
	if res.Status != tenant.StatusActive {
		e.t.Fatalf("provision %s: status %s %s", ts.id, res.Status, res.Error)
	}
}

func (e *env) reconciler(opts Options) *Reconciler {
	e.t.Helper()
	if opts.Source == nil {
		src, err := source.New(source.Options{URL: e.remote.Bare, DataDir: e.dataDir})
		if err != nil {
			e.t.Fatal(err)
		}
		opts.Source = src
	}
	opts.Tenants, opts.Store = e.svc, e.store
	if opts.DriftInterval == 0 {
		opts.DriftInterval = -1
	}
	r, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) db(id string) *sql.DB {
	e.t.Helper()
	db, err := e.svc.DB(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

// deployments counts the tenant's deployments of owner recorded with source reconcile@rev.
func (e *env) deployments(id string, owner schema.Owner, rev string) int {
	e.t.Helper()
	deps, err := schema.Deployments(context.Background(), e.db(id), owner)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, d := range deps {
		if rev == "" || d.Source == "reconcile@"+rev {
			n++
		}
	}
	return n
}

func (e *env) status(id string) status.Tenant {
	e.t.Helper()
	st, ok, err := e.store.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if !ok {
		e.t.Fatalf("no status for %s", id)
	}
	return st
}

// coreBundle writes bundles/core with a note object; extra lines are appended to its fields.
func coreBundle(version string, fields ...string) map[string][]byte {
	obj := "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title, required: true, maxLength: 200 }\n  body: { type: textarea, label: Body }\n"
	if len(fields) > 0 && fields[0] == "-body" {
		obj = "name: note\nlabel: Note\nfields:\n  title: { type: text, label: Title, required: true, maxLength: 200 }\n"
		fields = fields[1:]
	}
	for _, f := range fields {
		obj += "  " + f + "\n"
	}
	return map[string][]byte{
		"bundles/core/bundle.yaml":       []byte(fmt.Sprintf("name: core\nversion: %s\nobjects: [note]\n", version)),
		"bundles/core/objects/note.yaml": []byte(obj),
	}
}

func repoConfig(extra string) []byte {
	return []byte(`apiVersion: objectstack.ai/v1
targets:
  - name: core-prod
    bundles: [core]
    selector: {labels: {env: prod}}
rollout:
  waves:
    - name: canary
      tenants: [t-canary]
      maxParallel: 1
    - name: rest
      maxParallel: 4
` + extra)
}

func merge(ms ...map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func outcomes(s *Summary) map[string]string {
	m := map[string]string{}
	for _, r := range s.Results {
		m[r.TenantID] = r.Outcome
	}
	return m
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// schemaDeployments counts the deployments of the core bundle in db.
func schemaDeployments(ctx context.Context, db *sql.DB) (int, error) {
	deps, err := schema.Deployments(ctx, db, core)
	return len(deps), err
}
