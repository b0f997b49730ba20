package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant/router"
)

// Config configures a Service.
type Config struct {
	// DataDir is the local data folder: control.db (unless ControlURL is set), secret.key and backups/.
	DataDir string
	// ControlURL is an optional libSQL URL (or file path) for the control plane; default DataDir/control.db.
	ControlURL   string
	ControlToken string
	// Platform is where tenant databases live (platform.NewLocal or the Turso client). Required.
	Platform platform.Platform
	Logger   *slog.Logger
	// SecretKey (32 bytes) encrypts database tokens at rest; default OBJECTSTACK_SECRET_KEY, then
	// DataDir/secret.key (created, 0600, on first use).
	SecretKey []byte
	// DatabasePrefix is prepended to the tenant id to name its database (default none: the database is
	// named like the tenant, as Turso's {tenant_id} URL templates assume).
	DatabasePrefix string
	// Group is the Turso group of regions without an entry in Regions; empty leaves the choice to
	// the platform (its configured group, "default" unless set).
	Group string
	// Regions maps a TenantRegion to the Turso group its databases are created in (protocol §6.4).
	Regions map[string]string
	// GroupTokens maps a group to a group token (the protocol's groupAuthToken; a secret): the
	// router opens active tenants of that group with it instead of each tenant's own token, so one
	// credential serves the whole group. Suspended and destroying tenants keep their read-only token.
	GroupTokens map[string]string
	// Environment selects seed datasets by their env list: prod (default), dev or test.
	Environment string
	// TokenExpiration of the database tokens the service keeps (Turso form, default "never").
	TokenExpiration string
	// Router tunes tenant resolution and the handle cache (size cap 100, TTL 5 min by default).
	Router router.Config
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service is the tenant control plane. Safe for concurrent use.
type Service struct {
	cfg    Config
	plat   platform.Platform
	ctl    *sql.DB
	store  *store
	box    *secretBox
	router *router.Router
	log    *slog.Logger
	locks  keyedMutex

	// afterStep (tests only) runs after each completed provisioning step; an error stops the run
	// on the spot, as a crash would.
	afterStep func(step string) error
	// afterRestoreCopy (tests only) runs once a restore's new database exists; an error stops the restore
	// as if the process had died there.
	afterRestoreCopy func(newDatabase string) error

	templates sync.Map // template database + owner → *verifiedTemplate (template.go)
}

// ControlFile is the control-plane database file under DataDir.
const ControlFile = "control.db"

// Open opens (and creates or migrates) the control plane and returns the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Platform == nil {
		return nil, errors.New("tenant service: no platform configured")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("tenant service: no data directory configured (control plane, secret key and backups live there)")
	}
	// Absolute, so paths recorded in the registry (local databases, backups) do not depend on the
	// working directory of whoever reads them later.
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("tenant service: data dir: %w", err)
	}
	cfg.DataDir = abs
	// The data dir holds the secret key, the control plane (sealed tokens) and, for the local
	// backend, every tenant's data: owner-only, tightened when an older version left it open.
	if err := database.PrivateDir(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("tenant service: data dir: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for region := range cfg.Regions {
		if !ValidRegion(region) {
			return nil, fmt.Errorf("tenant service: region map: %q is not one of %s", region, strings.Join(Regions, ", "))
		}
	}
	if cfg.Environment == "" {
		cfg.Environment = "prod"
	}
	if cfg.TokenExpiration == "" {
		cfg.TokenExpiration = "never"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := loadSecretKey(cfg.SecretKey, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("tenant service: %w", err)
	}
	box, err := newSecretBox(key)
	if err != nil {
		return nil, fmt.Errorf("tenant service: %w", err)
	}
	dsn := cfg.ControlURL
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, ControlFile)
		if err := database.PrivateFile(dsn); err != nil {
			return nil, fmt.Errorf("tenant service: control plane: %w", err)
		}
	}
	ctl, err := database.Open(dsn, cfg.ControlToken)
	if err != nil {
		return nil, fmt.Errorf("tenant service: control plane: %w", err)
	}
	s := &Service{cfg: cfg, plat: cfg.Platform, ctl: ctl, store: &store{db: ctl}, box: box, log: cfg.Logger}
	if err := s.store.migrate(ctx); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("tenant service: %s: %w", database.Redact(dsn), err)
	}
	s.router, err = router.New(source{s}, cfg.Router)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("tenant service: %w", err)
	}
	return s, nil
}

// Close closes every cached tenant handle and the control plane.
func (s *Service) Close() error {
	rerr := s.router.Close()
	cerr := s.ctl.Close()
	return errors.Join(rerr, cerr)
}

// Platform is the platform tenant databases live on.
func (s *Service) Platform() platform.Platform { return s.plat }

// Router is the service's tenant router (resolution from requests, handle cache).
func (s *Service) Router() *router.Router { return s.router }

// DatabaseName is the database a tenant id maps to (deterministic, so provisioning is idempotent).
func (s *Service) DatabaseName(id string) string { return s.cfg.DatabasePrefix + id }

// Get returns a tenant; errors.Is(err, ErrNotFound) when there is none. The id is normalised first.
func (s *Service) Get(ctx context.Context, id string) (*Tenant, error) {
	nid, err := NormalizeID(id)
	if err != nil {
		return nil, err
	}
	r, err := s.store.get(ctx, nid)
	if err != nil {
		return nil, err
	}
	return &r.Tenant, nil
}

// List returns the tenants matching f, ordered by id.
func (s *Service) List(ctx context.Context, f Filter) ([]Tenant, error) {
	if f.Plan != "" && !ValidPlan(f.Plan) {
		return nil, invalidf("plan", f.Plan, "is not one of %s", strings.Join(Plans, ", "))
	}
	if f.Region != "" && !ValidRegion(f.Region) {
		return nil, invalidf("region", f.Region, "is not one of %s", strings.Join(Regions, ", "))
	}
	if f.Status != "" && !contains(Statuses, f.Status) {
		return nil, invalidf("status", f.Status, "is not one of %s", strings.Join(Statuses, ", "))
	}
	return s.store.list(ctx, f)
}

// DB returns the tenant's database handle from the router's cache: full access while active,
// read-only while suspended or destroying; other statuses are an ErrState error. Do not Close it.
func (s *Service) DB(ctx context.Context, id string) (*sql.DB, error) {
	nid, err := NormalizeID(id)
	if err != nil {
		return nil, err
	}
	return s.router.DB(ctx, nid)
}

// Token mints a new database token for the tenant (e.g. a short-lived token for a client). A
// suspended or destroying tenant only gets read-only tokens. The token is a secret: never log it.
func (s *Service) Token(ctx context.Context, id string, scope platform.TokenScope, expiration string) (platform.Token, error) {
	nid, err := NormalizeID(id)
	if err != nil {
		return platform.Token{}, err
	}
	switch scope {
	case "":
		scope = platform.ScopeFullAccess
	case platform.ScopeFullAccess, platform.ScopeReadOnly:
	case "full_access":
		scope = platform.ScopeFullAccess // §6.8: project credentials spell it with an underscore
	case "read_only":
		scope = platform.ScopeReadOnly
	default:
		return platform.Token{}, invalidf("scope", string(scope), "is not full-access or read-only")
	}
	r, err := s.store.get(ctx, nid)
	if err != nil {
		return platform.Token{}, err
	}
	switch r.Status {
	case StatusActive:
	case StatusSuspended, StatusDestroying:
		if scope != platform.ScopeReadOnly {
			return platform.Token{}, fmt.Errorf("token for tenant %s: %w: status %s allows only read-only tokens", nid, ErrState, r.Status)
		}
	default:
		return platform.Token{}, fmt.Errorf("token for tenant %s: %w: status %s", nid, ErrState, r.Status)
	}
	tok, err := s.plat.CreateToken(ctx, r.DatabaseName, platform.TokenOptions{Scope: scope, Expiration: expiration})
	if err != nil {
		return platform.Token{}, fmt.Errorf("token for tenant %s: %w", nid, err)
	}
	s.log.Debug("tenant token minted", "tenant", nid, "scope", string(scope))
	return tok, nil
}

// source adapts the service to router.Source.
type source struct{ s *Service }

// Resolve finds a live tenant by id, or the one live tenant of an organization.
func (src source) Resolve(ctx context.Context, key string) (router.Context, error) {
	s := src.s
	if id, err := NormalizeID(key); err == nil {
		r, err := s.store.get(ctx, id)
		if err == nil {
			return resolved(r), nil
		}
		if !errors.Is(err, ErrNotFound) {
			return router.Context{}, err
		}
	}
	ts, err := s.store.list(ctx, Filter{OrgID: key})
	if err != nil {
		return router.Context{}, err
	}
	var live []Tenant
	for _, t := range ts {
		if t.Status != StatusArchived {
			live = append(live, t)
		}
	}
	switch len(live) {
	case 0:
		return router.Context{}, fmt.Errorf("tenant or organization %q: %w", key, ErrNotFound)
	case 1:
		return resolved(&row{Tenant: live[0]}), nil
	}
	return router.Context{}, fmt.Errorf("organization %q has %d tenants; address one by tenant id: %w", key, len(live), ErrConflict)
}

func resolved(r *row) router.Context {
	return router.Context{TenantID: r.ID, Plan: r.Plan, Region: r.Region, DBURL: connectionURL(r.DatabaseURL), Status: r.Status}
}

// Open opens a new handle for the router.
func (src source) Open(ctx context.Context, id string) (*sql.DB, error) {
	s := src.s
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch r.Status {
	case StatusActive, StatusSuspended, StatusDestroying:
	default:
		return nil, fmt.Errorf("open tenant %s: %w: status %s", id, ErrState, r.Status)
	}
	return s.openRow(r)
}

// openRow opens the tenant database with its stored token; for the local backend platform.Open
// applies block_writes by opening read-only.
func (s *Service) openRow(r *row) (*sql.DB, error) {
	if r.DatabaseURL == "" {
		return nil, fmt.Errorf("open tenant %s: no database registered yet: %w", r.ID, ErrState)
	}
	tok, err := s.tokenFor(r)
	if err != nil {
		return nil, err
	}
	db, err := platform.Open(s.plat, &platform.Database{Name: r.DatabaseName, URL: r.DatabaseURL}, platform.Token{JWT: tok})
	if err != nil {
		return nil, fmt.Errorf("open tenant %s: %w", r.ID, err)
	}
	return db, nil
}

// connectionURL is the protocol's connectionUrl: remote URLs as they are, local paths as file: URLs.
func connectionURL(u string) string {
	if u == "" || database.IsRemote(u) || strings.HasPrefix(u, "file:") {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		u = abs
	}
	return "file:" + filepath.ToSlash(u)
}

// keyedMutex serialises operations on one tenant within this process; other processes rely on
// every step being idempotent.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu  sync.Mutex
	ref int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.ref++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.ref--
		if e.ref == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) groupFor(region string) string {
	if g, ok := s.cfg.Regions[region]; ok && g != "" {
		return g
	}
	return s.cfg.Group
}

// detached gives a failure path a context that outlives a cancelled caller, so the registry records
// the failure instead of staying "provisioning" forever.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}
