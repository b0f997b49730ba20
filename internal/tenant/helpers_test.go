package tenant_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// testAPIToken is the Platform API token the dev server is started with; the secret-leak test
// looks for it everywhere.
const testAPIToken = "osk-test-api-token-7f3c9a1b2d4e6f80"

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one backend under test: a platform plus what a service needs around it.
type env struct {
	name    string
	plat    platform.Platform
	devURL  string // dev backend only
	dataDir string // the tenant service's data dir
	logs    *syncBuffer
	logger  *slog.Logger
	clock   *fakeClock
}

type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

var backendNames = []string{"local", "dev"}

// newEnv starts a backend: "local" (SQLite files) or "dev" (the Turso client against an
// `objectstack dev` server on loopback, databases reached through libsql-client-go over HTTP).
func newEnv(t testing.TB, backend string) *env {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{name: backend, dataDir: t.TempDir(), logs: logs, logger: logger, clock: &fakeClock{}}
	switch backend {
	case "local":
		l, err := platform.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e.plat = l
	case "dev":
		r, err := devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), APIToken: testAPIToken, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		e.devURL = r.URL
		e.plat = newTurso(t, r.URL, logger, 0)
	default:
		t.Fatalf("unknown backend %s", backend)
	}
	return e
}

func newTurso(t testing.TB, baseURL string, logger *slog.Logger, maxRetries int) *platform.Turso {
	t.Helper()
	p, err := platform.NewTurso(platform.TursoConfig{
		BaseURL: baseURL, Organization: "acme", APIToken: testAPIToken, Logger: logger,
		MaxRetries: maxRetries, RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond,
		MaxRetryAfter: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) config() tenant.Config {
	return tenant.Config{DataDir: e.dataDir, Platform: e.plat, Logger: e.logger, Now: e.clock.now}
}

func (e *env) service(t testing.TB, mutate ...func(*tenant.Config)) *tenant.Service {
	t.Helper()
	cfg := e.config()
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := tenant.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testBundle builds a bundle of n objects (each with a handful of typed fields, every object after
// the first looking up its predecessor), plus seed data for the first object when seed is set.
func testBundle(n int, seed bool) *bundle.Bundle {
	b := &bundle.Bundle{Manifest: bundle.Manifest{Name: "crm", Version: "1.0.0"}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("obj_%02d", i)
		o := bundle.Object{Name: name, Label: fmt.Sprintf("Object %d", i), Fields: []bundle.Field{
			{Key: "name", Type: bundle.TypeText, Label: "Name", Required: true, Unique: true},
			{Key: "amount", Type: bundle.TypeNumber, Label: "Amount"},
			{Key: "active", Type: bundle.TypeBoolean, Label: "Active"},
			{Key: "due", Type: bundle.TypeDate, Label: "Due"},
			{Key: "stage", Type: bundle.TypeSelect, Label: "Stage", Options: []bundle.Option{{Label: "New", Value: "new"}, {Label: "Won", Value: "won"}}},
		}}
		if i > 0 {
			o.Fields = append(o.Fields, bundle.Field{Key: "parent", Type: bundle.TypeLookup, Label: "Parent", Reference: fmt.Sprintf("obj_%02d", i-1)})
		}
		b.Objects = append(b.Objects, o)
	}
	if seed {
		b.SeedData = []bundle.Dataset{{Object: "obj_00", Records: []map[string]any{
			{"name": "alpha", "amount": 1.5, "active": true, "stage": "new"},
			{"name": "beta", "amount": 2, "active": false, "stage": "won"},
		}}}
	}
	b.Checksum = bundle.Checksum(b) // as bundle.Load sets it
	return b
}

func req(id string) tenant.Request {
	return tenant.Request{ID: id, OrgID: "org-1", DisplayName: "Tenant " + id, Labels: map[string]string{"tier": "gold"}}
}

func mustProvision(t testing.TB, ctx context.Context, s *tenant.Service, r tenant.Request) *tenant.Result {
	t.Helper()
	res, err := s.Provision(ctx, r)
	if err != nil {
		t.Fatalf("provision %s: %v", r.ID, err)
	}
	if res.Status != tenant.StatusActive {
		t.Fatalf("provision %s: status %s, want active (error %q)", r.ID, res.Status, res.Error)
	}
	return res
}

func databaseNames(t testing.TB, ctx context.Context, p platform.Platform) []string {
	t.Helper()
	dbs, err := p.ListDatabases(ctx, "")
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	var out []string
	for _, d := range dbs {
		out = append(out, d.Name)
	}
	return out
}

// foreignDatabase creates database name on e's platform directly (no tenant service) and runs the
// ';'-separated statements in it: what someone else left under a name a tenant will want.
func foreignDatabase(t testing.TB, ctx context.Context, e *env, name, stmts string) {
	t.Helper()
	d, err := e.plat.CreateDatabase(ctx, platform.CreateOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	db := openDirect(t, ctx, e, d)
	defer db.Close()
	for _, st := range strings.Split(stmts, ";") {
		if strings.TrimSpace(st) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
}

// openDirect opens database d straight through e's platform with a full-access token of its own, as
// a client outside the tenant service would. The caller closes it.
func openDirect(t testing.TB, ctx context.Context, e *env, d *platform.Database) *sql.DB {
	t.Helper()
	tok, err := e.plat.CreateToken(ctx, d.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	db, err := platform.Open(e.plat, d, tok)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
