package router_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant/router"
)

var errNotFound = errors.New("not found")

// fileSource serves tenants whose databases are SQLite files in a temp dir, counting opens.
type fileSource struct {
	dir     string
	tenants map[string]router.Context // by tenant id
	orgs    map[string]string         // org id → tenant id
	opens   atomic.Int64
	delay   time.Duration
}

func newSource(t *testing.T, ids ...string) *fileSource {
	s := &fileSource{dir: t.TempDir(), tenants: map[string]router.Context{}, orgs: map[string]string{}}
	for _, id := range ids {
		s.tenants[id] = router.Context{TenantID: id, Plan: "free", Region: "us-east", DBURL: "file:" + filepath.Join(s.dir, id+".db"), Status: "active"}
		s.orgs["org-"+id] = id
	}
	return s
}

func (s *fileSource) Resolve(_ context.Context, key string) (router.Context, error) {
	if c, ok := s.tenants[key]; ok {
		return c, nil
	}
	if id, ok := s.orgs[key]; ok {
		return s.tenants[id], nil
	}
	return router.Context{}, fmt.Errorf("%s: %w", key, errNotFound)
}

func (s *fileSource) Open(_ context.Context, id string) (*sql.DB, error) {
	s.opens.Add(1)
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if _, ok := s.tenants[id]; !ok {
		return nil, fmt.Errorf("%s: %w", id, errNotFound)
	}
	return database.Open(filepath.Join(s.dir, id+".db"), "")
}

func newRouter(t *testing.T, src router.Source, cfg router.Config) *router.Router {
	t.Helper()
	r, err := router.New(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func request(target string, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	return r
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolveStrategies(t *testing.T) {
	src := newSource(t, "acme", "beta")
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	r := newRouter(t, src, router.Config{
		Strategies: []router.Strategy{router.Token, router.Header, router.Subdomain, router.Path, router.Lookup},
		BaseDomain: "app.example.com", HMACKey: hmacKey, EdDSAPublicKey: pub,
	})
	future := time.Now().Add(time.Hour).Unix()
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"organizationId": "acme"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name string
		req  *http.Request
		want string
		err  error
	}{
		{"header", request("/", map[string]string{"X-Tenant-ID": "acme"}), "acme", nil},
		{"subdomain", request("/", map[string]string{"Host": "beta.app.example.com:8443"}), "beta", nil},
		{"nested subdomain", request("/", map[string]string{"Host": "api.acme.app.example.com"}), "acme", nil},
		{"path", request("/t/beta/objects/x", nil), "beta", nil},
		{"lookup by org", request("/", map[string]string{"X-Organization-ID": "org-acme"}), "acme", nil},
		{"hs256 claim", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodHS256, hmacKey, jwt.MapClaims{"organizationId": "beta", "exp": future})}), "beta", nil},
		{"eddsa claim", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodEdDSA, priv, jwt.MapClaims{"organizationId": "acme"})}), "acme", nil},
		{"claim is an org id", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodHS256, hmacKey, jwt.MapClaims{"organizationId": "org-beta"})}), "beta", nil},
		{"token wins over header", request("/", map[string]string{"X-Tenant-ID": "acme", "Authorization": "Bearer " + sign(t, jwt.SigningMethodHS256, hmacKey, jwt.MapClaims{"organizationId": "beta"})}), "beta", nil},
		{"unsigned token", request("/", map[string]string{"Authorization": "Bearer " + unsigned, "X-Tenant-ID": "acme"}), "", router.ErrUnauthorized},
		{"wrong hmac key", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-key-another-key-another!!"), jwt.MapClaims{"organizationId": "acme"})}), "", router.ErrUnauthorized},
		{"wrong ed25519 key", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodEdDSA, otherPriv, jwt.MapClaims{"organizationId": "acme"})}), "", router.ErrUnauthorized},
		{"expired", request("/", map[string]string{"Authorization": "Bearer " + sign(t, jwt.SigningMethodHS256, hmacKey, jwt.MapClaims{"organizationId": "acme", "exp": time.Now().Add(-time.Hour).Unix()})}), "", router.ErrUnauthorized},
		{"garbage token", request("/", map[string]string{"Authorization": "Bearer not.a.jwt"}), "", router.ErrUnauthorized},
		{"nothing", request("/other", nil), "", router.ErrNoTenant},
		{"invalid key", request("/", map[string]string{"X-Tenant-ID": "../../etc"}), "", router.ErrNoTenant},
		{"unknown tenant", request("/", map[string]string{"X-Tenant-ID": "gamma"}), "", errNotFound},
		{"foreign domain", request("/", map[string]string{"Host": "acme.evil.com"}), "", router.ErrNoTenant},
	}
	for _, tc := range cases {
		c, err := r.Resolve(tc.req)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || c.TenantID != tc.want || c.Plan != "free" || c.Status != "active" || c.DBURL == "" {
			t.Errorf("%s: %+v, %v; want tenant %s", tc.name, c, err, tc.want)
		}
	}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	src := newSource(t)
	for name, cfg := range map[string]router.Config{
		"token without keys":     {Strategies: []router.Strategy{router.Token}},
		"subdomain without base": {Strategies: []router.Strategy{router.Subdomain}},
		"unknown strategy":       {Strategies: []router.Strategy{"cookie"}},
		"short eddsa key":        {Strategies: []router.Strategy{router.Token}, EdDSAPublicKey: ed25519.PublicKey{1, 2}},
	} {
		if _, err := router.New(src, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConcurrentOpensAreDeduplicated(t *testing.T) {
	src := newSource(t, "acme")
	src.delay = 30 * time.Millisecond
	r := newRouter(t, src, router.Config{})
	var wg sync.WaitGroup
	dbs := make([]*sql.DB, 32)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := r.DB(context.Background(), "acme")
			if err != nil {
				t.Error(err)
			}
			dbs[i] = db
		}()
	}
	wg.Wait()
	if n := src.opens.Load(); n != 1 {
		t.Fatalf("%d opens for 32 concurrent callers, want 1", n)
	}
	for _, db := range dbs {
		if db != dbs[0] {
			t.Fatal("callers got different handles")
		}
	}
}

func TestCacheCapTTLAndInvalidate(t *testing.T) {
	src := newSource(t, "t1", "t2", "t3")
	r := newRouter(t, src, router.Config{MaxCached: 2, TTL: 150 * time.Millisecond, CloseDelay: -1})
	ctx := context.Background()
	h1, _ := r.DB(ctx, "t1")
	r.DB(ctx, "t2")
	r.DB(ctx, "t3") // evicts t1 (least recently used) and closes it
	if r.Len() != 2 {
		t.Fatalf("cache holds %d handles, want the cap 2", r.Len())
	}
	waitClosed(t, h1)
	if n := src.opens.Load(); n != 3 {
		t.Fatalf("opens %d", n)
	}
	h1b, _ := r.DB(ctx, "t1")
	if h1b == h1 || src.opens.Load() != 4 {
		t.Fatal("an evicted tenant was not reopened")
	}

	// TTL: an idle handle expires and is closed.
	time.Sleep(400 * time.Millisecond)
	if r.Len() != 0 {
		t.Fatalf("%d handles survived their TTL", r.Len())
	}
	waitClosed(t, h1b)

	// Invalidate closes at once and the next call reopens.
	h2, _ := r.DB(ctx, "t2")
	r.Invalidate("t2")
	if err := h2.PingContext(ctx); err == nil {
		t.Fatal("an invalidated handle still works")
	}
	h2b, err := r.DB(ctx, "t2")
	if err != nil || h2b == h2 {
		t.Fatalf("reopen after invalidate: %v", err)
	}
	if err := h2b.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDelayedCloseKeepsEvictedHandleUsable(t *testing.T) {
	src := newSource(t, "t1", "t2")
	r := newRouter(t, src, router.Config{MaxCached: 1, CloseDelay: time.Hour})
	ctx := context.Background()
	h1, _ := r.DB(ctx, "t1")
	r.DB(ctx, "t2") // evicts t1, whose caller may still be mid-work
	if err := h1.PingContext(ctx); err != nil {
		t.Fatalf("evicted handle closed before its grace: %v", err)
	}
	r.Close()
	if err := h1.PingContext(ctx); err == nil {
		t.Fatal("Close left a pending handle open")
	}
}

func waitClosed(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if err := db.PingContext(context.Background()); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("evicted handle was never closed")
}

func TestMiddleware(t *testing.T) {
	src := newSource(t, "acme")
	r := newRouter(t, src, router.Config{})
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, ok := router.FromContext(req.Context())
		if !ok {
			t.Error("no tenant in context")
			return
		}
		fmt.Fprint(w, c.TenantID)
	}), func(err error) bool { return errors.Is(err, errNotFound) })
	for hdr, want := range map[string]int{"acme": 200, "": 400, "nope": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request("/", map[string]string{"X-Tenant-ID": hdr}))
		if rec.Code != want {
			t.Errorf("X-Tenant-ID %q: %d, want %d", hdr, rec.Code, want)
		}
	}
}

// gatedSource holds Open until released, so a test can act while an open is in flight.
type gatedSource struct {
	*fileSource
	entered, release chan struct{}
}

func (g *gatedSource) Open(ctx context.Context, id string) (*sql.DB, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.fileSource.Open(ctx, id)
}

// TestAdoptDuringOpenNeverLeaksAHandle: a handle adopted while another caller's open is in flight
// belongs to the router; the open finishing afterwards must not push it out of the cache without
// closing it (the LRU replaces a value without calling the eviction callback).
func TestAdoptDuringOpenNeverLeaksAHandle(t *testing.T) {
	src := newSource(t, "acme")
	g := &gatedSource{fileSource: src, entered: make(chan struct{}), release: make(chan struct{})}
	r := newRouter(t, g, router.Config{CloseDelay: -1})
	ctx := context.Background()
	got := make(chan *sql.DB, 1)
	go func() {
		db, err := r.DB(ctx, "acme")
		if err != nil {
			t.Error(err)
		}
		got <- db
	}()
	<-g.entered
	adopted, err := database.Open(filepath.Join(src.dir, "acme.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adopted.Close() })
	if !r.Adopt("acme", adopted) {
		t.Fatal("Adopt refused with nothing cached")
	}
	close(g.release)
	db := <-got
	if db == nil {
		t.FailNow()
	}
	cached, err := r.DB(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if db != cached {
		t.Error("the caller got a handle the cache does not hold")
	}
	r.Close()
	for name, h := range map[string]*sql.DB{"adopted": adopted, "opened": db} {
		if err := h.PingContext(ctx); err == nil {
			t.Errorf("the %s handle is still open after the router closed: leaked", name)
		}
	}
}

// TestAdoptAtRefusesAfterInvalidate: a handle opened from state read before an Invalidate (a suspend, a
// token rotation) is never cached, so the next DB opens from the new state.
func TestAdoptAtRefusesAfterInvalidate(t *testing.T) {
	src := newSource(t, "acme")
	r := newRouter(t, src, router.Config{CloseDelay: -1})
	open := func() *sql.DB {
		db, err := database.Open(filepath.Join(src.dir, "acme.db"), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	gen := r.Generation("acme")
	r.Invalidate("acme")
	if r.AdoptAt("acme", open(), gen) || r.Cached("acme") {
		t.Fatal("AdoptAt cached a handle opened before an invalidation")
	}
	if !r.AdoptAt("acme", open(), r.Generation("acme")) || !r.Cached("acme") {
		t.Fatal("AdoptAt refused a current handle with nothing cached")
	}
	if src.opens.Load() != 0 {
		t.Fatalf("the source opened %d handles; the adopted one should serve", src.opens.Load())
	}
}
