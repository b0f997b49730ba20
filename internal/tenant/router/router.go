// Package router owns per-request tenant resolution and the per-tenant database handle cache: it finds
// the tenant a request is for (header, subdomain, path prefix, signed JWT claim, or a control-plane
// lookup of the organization), returns the protocol's ResolvedTenantContext, and hands out one
// *sql.DB per tenant from an LRU cache with a size cap and a TTL, de-duplicating concurrent opens and
// closing evicted handles. It knows nothing about how tenants are stored: a Source (the tenant
// service) answers lookups and opens databases.
package router

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// Strategy is the TenantResolverStrategy enum (protocol §1.1; §6.7: token ≈ jwt_claim).
type Strategy string

// Strategies.
const (
	Header    Strategy = "header"    // X-Tenant-ID (Config.Header)
	Subdomain Strategy = "subdomain" // <tenant>.<Config.BaseDomain>
	Path      Strategy = "path"      // <Config.PathPrefix><tenant>/...
	Token     Strategy = "token"     // a signed JWT's claim (Config.Claim, default organizationId)
	Lookup    Strategy = "lookup"    // control-plane lookup of the organization in Config.OrgHeader
)

// Defaults (protocol §1.6, §6.6, §6.7).
const (
	DefaultHeader     = "X-Tenant-ID"
	DefaultOrgHeader  = "X-Organization-ID"
	DefaultClaim      = "organizationId"
	DefaultPathPrefix = "/t/"
	DefaultMaxCached  = 100
	DefaultTTL        = 5 * time.Minute
	// DefaultCloseDelay is how long a handle evicted for size or age stays open, so a caller that
	// fetched it just before eviction can finish its work. Invalidate closes at once instead.
	DefaultCloseDelay = 30 * time.Second
)

// ErrNoTenant means no strategy found a tenant in the request.
var ErrNoTenant = errors.New("no tenant in request")

// ErrUnauthorized means a token was present but is not acceptable (bad signature, unsigned, expired).
var ErrUnauthorized = errors.New("tenant token rejected")

// Context is the protocol's ResolvedTenantContext.
type Context struct {
	TenantID string `json:"tenantId"`
	Plan     string `json:"plan"`
	Region   string `json:"region"`
	DBURL    string `json:"dbUrl"`
	Status   string `json:"status"`
}

// Source answers the router's questions from the control plane.
type Source interface {
	// Resolve finds a tenant by id, or — when no tenant has that id — the single live tenant of the
	// organization with that id. It returns an error wrapping the source's not-found error otherwise.
	Resolve(ctx context.Context, key string) (Context, error)
	// Open opens a new handle to the tenant's database (read-only while suspended). The router owns
	// the handle from then on and closes it.
	Open(ctx context.Context, tenantID string) (*sql.DB, error)
}

// Config configures resolution and the handle cache. The zero value resolves by header only.
type Config struct {
	// Strategies are tried in order; default [header].
	Strategies []Strategy
	Header     string // default X-Tenant-ID
	OrgHeader  string // for Lookup; default X-Organization-ID
	// BaseDomain for Subdomain: acme.example.com with BaseDomain example.com → acme.
	BaseDomain string
	PathPrefix string // default /t/
	Claim      string // default organizationId
	// Keys that may sign tokens; at least one is required for the Token strategy. Unsigned tokens
	// (alg none) and other algorithms are always refused.
	HMACKey          []byte            // HS256
	EdDSAPublicKey   ed25519.PublicKey // EdDSA
	MaxCached        int               // default 100
	TTL              time.Duration     // default 5 min
	CloseDelay       time.Duration     // default 30 s; negative closes evicted handles at once
	DisableCtxCaches bool              // do not cache Resolve answers (each Resolve asks the Source)
}

type entry struct {
	db   *sql.DB
	once sync.Once
}

func (e *entry) close() { e.once.Do(func() { _ = e.db.Close() }) }

// Router resolves tenants and caches their database handles. Safe for concurrent use.
type Router struct {
	src    Source
	cfg    Config
	dbs    *expirable.LRU[string, *entry]
	ctxs   *expirable.LRU[string, Context]
	flight singleflight.Group

	// genMu guards gen; checking the generation and adding to the cache happen under it, so an
	// Invalidate racing with an open either sees the new entry or makes the open discard it.
	genMu sync.Mutex
	gen   map[string]uint64

	mu      sync.Mutex // guards pending and closed (taken by onEvict, which runs inside LRU calls)
	pending map[*entry]*time.Timer
	closed  bool
}

// New returns a router over src.
func New(src Source, cfg Config) (*Router, error) {
	if src == nil {
		return nil, errors.New("router: nil source")
	}
	if len(cfg.Strategies) == 0 {
		cfg.Strategies = []Strategy{Header}
	}
	for _, s := range cfg.Strategies {
		switch s {
		case Header, Path, Lookup:
		case Subdomain:
			if cfg.BaseDomain == "" {
				return nil, errors.New("router: the subdomain strategy needs a base domain")
			}
		case Token:
			if len(cfg.HMACKey) == 0 && len(cfg.EdDSAPublicKey) == 0 {
				return nil, errors.New("router: the token strategy needs an HS256 key or an EdDSA public key (unsigned tokens are never trusted)")
			}
			if len(cfg.EdDSAPublicKey) != 0 && len(cfg.EdDSAPublicKey) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("router: EdDSA public key must be %d bytes", ed25519.PublicKeySize)
			}
		default:
			return nil, fmt.Errorf("router: unknown strategy %q (header, subdomain, path, token, lookup)", s)
		}
	}
	if cfg.Header == "" {
		cfg.Header = DefaultHeader
	}
	if cfg.OrgHeader == "" {
		cfg.OrgHeader = DefaultOrgHeader
	}
	if cfg.PathPrefix == "" {
		cfg.PathPrefix = DefaultPathPrefix
	}
	if !strings.HasSuffix(cfg.PathPrefix, "/") {
		cfg.PathPrefix += "/"
	}
	if cfg.Claim == "" {
		cfg.Claim = DefaultClaim
	}
	if cfg.MaxCached <= 0 {
		cfg.MaxCached = DefaultMaxCached
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.CloseDelay == 0 {
		cfg.CloseDelay = DefaultCloseDelay
	}
	r := &Router{src: src, cfg: cfg, gen: map[string]uint64{}, pending: map[*entry]*time.Timer{}}
	r.dbs = expirable.NewLRU[string, *entry](cfg.MaxCached, r.onEvict, cfg.TTL)
	r.ctxs = expirable.NewLRU[string, Context](cfg.MaxCached*4, nil, cfg.TTL)
	return r, nil
}

// onEvict closes a handle that fell out of the cache (size cap or TTL) after CloseDelay.
func (r *Router) onEvict(_ string, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.cfg.CloseDelay < 0 {
		go e.close()
		return
	}
	r.pending[e] = time.AfterFunc(r.cfg.CloseDelay, func() {
		e.close()
		r.mu.Lock()
		delete(r.pending, e)
		r.mu.Unlock()
	})
}

// DB returns the tenant's cached handle, opening it on a miss (one open per tenant at a time).
// Callers must not Close it.
func (r *Router) DB(ctx context.Context, tenantID string) (*sql.DB, error) {
	for attempt := 0; ; attempt++ {
		if e, ok := r.dbs.Get(tenantID); ok {
			return e.db, nil
		}
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return nil, errors.New("router is closed")
		}
		r.genMu.Lock()
		gen := r.gen[tenantID]
		r.genMu.Unlock()
		v, err, _ := r.flight.Do(tenantID, func() (any, error) {
			// Detached from the first caller's cancellation: other callers share this open.
			db, err := r.src.Open(context.WithoutCancel(ctx), tenantID)
			if err != nil {
				return nil, err
			}
			e := &entry{db: db}
			r.genMu.Lock()
			defer r.genMu.Unlock()
			if r.gen[tenantID] != gen || r.isClosed() {
				e.close()
				return nil, nil
			}
			// The LRU's Add replaces a present value without its eviction callback, so the
			// replaced handle would never be closed. A live one (adopted meanwhile) wins; an
			// expired one not yet swept is evicted properly (delayed close) first.
			if cur, ok := r.dbs.Peek(tenantID); ok {
				e.close()
				return cur, nil
			}
			r.dbs.Remove(tenantID)
			r.dbs.Add(tenantID, e)
			return e, nil
		})
		if err != nil {
			return nil, err
		}
		if e, ok := v.(*entry); ok && e != nil {
			return e.db, nil
		}
		// Invalidated while opening: open again with the new state, a bounded number of times.
		if attempt >= 3 {
			return nil, fmt.Errorf("tenant %s: database handle invalidated repeatedly while opening", tenantID)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// Adopt caches db as the tenant's handle when none is cached (a caller that just opened the
// database, e.g. provisioning, hands it over instead of closing it). It reports false — and the
// caller keeps ownership — when a handle is already cached or the router is closed.
func (r *Router) Adopt(tenantID string, db *sql.DB) bool {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	return r.adoptLocked(tenantID, db)
}

// Generation is the tenant's invalidation count; pass it to AdoptAt.
func (r *Router) Generation(tenantID string) uint64 {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	return r.gen[tenantID]
}

// AdoptAt is Adopt for a handle opened from state read after Generation returned gen: it refuses (and
// the caller keeps ownership) when the tenant was invalidated since, e.g. suspended between the read
// and the open, so a stale full-access handle is never cached.
func (r *Router) AdoptAt(tenantID string, db *sql.DB, gen uint64) bool {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	if r.gen[tenantID] != gen {
		return false
	}
	return r.adoptLocked(tenantID, db)
}

func (r *Router) adoptLocked(tenantID string, db *sql.DB) bool {
	if r.isClosed() {
		return false
	}
	if _, ok := r.dbs.Peek(tenantID); ok {
		return false
	}
	// An expired entry not yet swept would be replaced without being closed (see DB).
	r.dbs.Remove(tenantID)
	r.dbs.Add(tenantID, &entry{db: db})
	return true
}

// Invalidate drops the tenant's cached handle (closing it now) and cached context; the next DB or
// Resolve call reads the control plane again. Call on suspend, resume, token rotation, plan change.
func (r *Router) Invalidate(tenantID string) {
	r.genMu.Lock()
	r.gen[tenantID]++
	r.genMu.Unlock()
	r.flight.Forget(tenantID)
	r.ctxs.Remove(tenantID)
	if e, ok := r.dbs.Peek(tenantID); ok {
		r.dbs.Remove(tenantID)
		r.mu.Lock()
		if t, ok := r.pending[e]; ok {
			t.Stop()
			delete(r.pending, e)
		}
		r.mu.Unlock()
		e.close()
	}
	// Contexts cached under an org key may point at this tenant too.
	for _, k := range r.ctxs.Keys() {
		if c, ok := r.ctxs.Peek(k); ok && c.TenantID == tenantID {
			r.ctxs.Remove(k)
		}
	}
}

func (r *Router) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Cached reports whether a live handle for the tenant is cached (without touching its recency), so a
// caller about to open many tenants can fetch what is missing in one batch instead of one lookup each.
func (r *Router) Cached(tenantID string) bool {
	_, ok := r.dbs.Peek(tenantID)
	return ok
}

// Len is the number of cached handles.
func (r *Router) Len() int { return r.dbs.Len() }

// Close closes every handle, cached or waiting for its delayed close.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	pend := r.pending
	r.pending = map[*entry]*time.Timer{}
	r.mu.Unlock()
	for e, t := range pend {
		t.Stop()
		e.close()
	}
	for _, k := range r.dbs.Keys() {
		if e, ok := r.dbs.Peek(k); ok {
			e.close()
		}
	}
	r.dbs.Purge()
	r.ctxs.Purge()
	return nil
}

// Lookup resolves a tenant id or organization id through the Source, caching the answer for TTL.
func (r *Router) Lookup(ctx context.Context, key string) (*Context, error) {
	if !r.cfg.DisableCtxCaches {
		if c, ok := r.ctxs.Get(key); ok {
			return &c, nil
		}
	}
	c, err := r.src.Resolve(ctx, key)
	if err != nil {
		return nil, err
	}
	if !r.cfg.DisableCtxCaches {
		r.ctxs.Add(key, c)
	}
	return &c, nil
}

// keyPattern bounds what the router passes to the control plane (upstream's driver-router rule).
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}[A-Za-z0-9]$`)

// Resolve finds the tenant a request is for, trying the configured strategies in order.
func (r *Router) Resolve(req *http.Request) (*Context, error) {
	key, err := r.Key(req)
	if err != nil {
		return nil, err
	}
	return r.Lookup(req.Context(), key)
}

// Key extracts the tenant (or organization) key from a request without asking the control plane.
func (r *Router) Key(req *http.Request) (string, error) {
	for _, s := range r.cfg.Strategies {
		key, err := r.extract(s, req)
		if err != nil {
			return "", err
		}
		if key == "" {
			continue
		}
		if !keyPattern.MatchString(key) {
			return "", fmt.Errorf("%s strategy: tenant key %q is not a valid tenant id: %w", s, key, ErrNoTenant)
		}
		return key, nil
	}
	return "", ErrNoTenant
}

func (r *Router) extract(s Strategy, req *http.Request) (string, error) {
	switch s {
	case Header:
		return strings.TrimSpace(req.Header.Get(r.cfg.Header)), nil
	case Lookup:
		return strings.TrimSpace(req.Header.Get(r.cfg.OrgHeader)), nil
	case Subdomain:
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		suffix := "." + strings.ToLower(strings.Trim(r.cfg.BaseDomain, "."))
		if !strings.HasSuffix(host, suffix) {
			return "", nil
		}
		sub := strings.TrimSuffix(host, suffix)
		if strings.Contains(sub, ".") {
			// a.b.example.com: the tenant is the label right before the base domain.
			sub = sub[strings.LastIndex(sub, ".")+1:]
		}
		return sub, nil
	case Path:
		p := req.URL.Path
		if !strings.HasPrefix(p, r.cfg.PathPrefix) {
			return "", nil
		}
		rest := strings.TrimPrefix(p, r.cfg.PathPrefix)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		return rest, nil
	case Token:
		return r.claim(req)
	}
	return "", nil
}

// claim verifies the bearer JWT and returns the configured claim. A request without a bearer token
// yields "" (the next strategy may still apply); a bad token is an error, never ignored.
func (r *Router) claim(req *http.Request) (string, error) {
	h := req.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", nil
	}
	raw := strings.TrimSpace(h[7:])
	var methods []string
	if len(r.cfg.HMACKey) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if len(r.cfg.EdDSAPublicKey) > 0 {
		methods = append(methods, jwt.SigningMethodEdDSA.Alg())
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case jwt.SigningMethodHS256.Alg():
			return r.cfg.HMACKey, nil
		case jwt.SigningMethodEdDSA.Alg():
			return r.cfg.EdDSAPublicKey, nil
		}
		return nil, fmt.Errorf("algorithm %s not accepted", t.Method.Alg())
	}, jwt.WithValidMethods(methods))
	if err != nil {
		// The token itself never goes into the error.
		return "", fmt.Errorf("token strategy: %w: %s", ErrUnauthorized, jwtReason(err))
	}
	v, ok := claims[r.cfg.Claim]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("token strategy: claim %s is not a string: %w", r.cfg.Claim, ErrUnauthorized)
	}
	return strings.TrimSpace(s), nil
}

func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable (unsigned or unsupported algorithm)"
	}
	return "invalid"
}

type ctxKey struct{}

// Middleware resolves the tenant of every request and stores it in the request context (FromContext).
// Requests without a tenant get 400, rejected tokens 401, unknown tenants 404.
func (r *Router) Middleware(next http.Handler, isNotFound func(error) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := r.Resolve(req)
		switch {
		case err == nil:
			next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, c)))
			return
		case errors.Is(err, ErrUnauthorized):
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case errors.Is(err, ErrNoTenant):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case isNotFound != nil && isNotFound(err):
			http.Error(w, err.Error(), http.StatusNotFound)
		default:
			http.Error(w, "tenant lookup failed", http.StatusInternalServerError)
		}
	})
}

// FromContext returns the tenant Middleware resolved.
func FromContext(ctx context.Context) (*Context, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Context)
	return c, ok
}
