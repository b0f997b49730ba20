package provider

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// Client is what Configure hands to every resource: one tenant service over the chosen platform, plus
// caches of parsed bundles and apps keyed by the content of their folders. With `for_each` over a few
// hundred tenants that all deploy the same bundle, the folder is hashed per resource but parsed and
// validated once per process.
type Client struct {
	Settings Settings
	Tenants  *tenant.Service

	bundles *lru.Cache[string, *loaded[*bundle.Bundle]]
	apps    *lru.Cache[string, *loaded[*apps.App]]

	// Plans holds up-to-date plans found by refresh, so the plan step that follows it in the same
	// OpenTofu run does not introspect the same database a second time.
	Plans *PlanCache
}

// loaded is one parsed and validated folder (a bundle or an app); a load error is cached too, since
// the same content fails the same way.
type loaded[T any] struct {
	v   T
	res bundle.ValidationResult
	err error
}

// clients holds one Client per distinct configuration for the life of the process. OpenTofu calls
// Configure once per provider instance, but the in-process test harness and aliased provider blocks
// configure many; reusing the client keeps one control-plane handle and one warm cache per setting.
var clients = struct {
	sync.Mutex
	m map[string]*Client
}{m: map[string]*Client{}}

// SharedClient returns the process-wide Client for s, opening it on first use.
func SharedClient(ctx context.Context, s Settings) (*Client, error) {
	abs, err := filepath.Abs(s.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", s.DataDir, err)
	}
	s.DataDir = abs
	clients.Lock()
	defer clients.Unlock()
	if c, ok := clients.m[s.key()]; ok {
		return c, nil
	}
	c, err := NewClient(ctx, s)
	if err != nil {
		return nil, err
	}
	clients.m[s.key()] = c
	return c, nil
}

// NewClient opens the tenant service for s. Prefer SharedClient; this is for callers that own the
// client's lifetime (tests, tools) and Close it.
func NewClient(ctx context.Context, s Settings) (*Client, error) {
	if err := database.PrivateDir(s.DataDir); err != nil {
		return nil, fmt.Errorf("create data_dir %s: %w", s.DataDir, err)
	}
	plat, err := newPlatform(s)
	if err != nil {
		return nil, err
	}
	svc, err := tenant.Open(ctx, tenant.Config{DataDir: s.DataDir, Platform: plat, Group: s.Group, Regions: s.RegionGroups})
	if err != nil {
		return nil, fmt.Errorf("open tenant registry in %s: %w", s.DataDir, err)
	}
	bc, _ := lru.New[string, *loaded[*bundle.Bundle]](64)
	ac, _ := lru.New[string, *loaded[*apps.App]](64)
	return &Client{Settings: s, Tenants: svc, bundles: bc, apps: ac, Plans: NewPlanCache(PlanCacheTTL)}, nil
}

// Close releases the tenant service.
func (c *Client) Close() error { return c.Tenants.Close() }

// Bundle loads and validates the bundle folder at dir, from cache when its content is unchanged.
// A non-nil error means the folder could not be read at all; validation problems are in the result.
func (c *Client) Bundle(dir string) (*bundle.Bundle, bundle.ValidationResult, error) {
	b, res, _, err := c.BundleKeyed(dir)
	return b, res, err
}

// BundleKeyed is Bundle plus the folder's content checksum, the key for plan caches.
func (c *Client) BundleKeyed(dir string) (*bundle.Bundle, bundle.ValidationResult, string, error) {
	return loadCached(c.bundles, dir, bundle.Load)
}

// App loads and validates the app folder at dir, from cache when its content is unchanged.
func (c *Client) App(dir string) (*apps.App, bundle.ValidationResult, error) {
	a, res, _, err := loadCached(c.apps, dir, apps.Load)
	return a, res, err
}

// loadCached loads the folder at dir with load, through cache keyed by the folder's content checksum
// (also returned): bundles and apps are cached the same way, so an edit is seen the same way.
func loadCached[T any](cache *lru.Cache[string, *loaded[T]], dir string, load func(string) (T, bundle.ValidationResult, error)) (T, bundle.ValidationResult, string, error) {
	key, err := FolderChecksum(dir)
	if err != nil {
		var none T
		return none, bundle.ValidationResult{}, "", err
	}
	if e, ok := cache.Get(key); ok {
		return e.v, e.res, key, e.err
	}
	v, res, err := load(dir)
	cache.Add(key, &loaded[T]{v, res, err})
	return v, res, key, err
}

// ErrTenantNotFound is returned by TenantDB when the tenant does not exist or is being destroyed.
var ErrTenantNotFound = errors.New("tenant not found")

// TenantDB returns the tenant and a full-access handle on its database (owned by the tenant
// service's cache: do not Close it). A tenant that is gone, archived or being destroyed wraps
// ErrTenantNotFound, so callers can treat it like a missing tenant.
func (c *Client) TenantDB(ctx context.Context, id string) (*tenant.Tenant, *sql.DB, error) {
	t, err := c.Tenants.Get(ctx, id)
	if err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return nil, nil, fmt.Errorf("tenant %s: %w", id, ErrTenantNotFound)
		}
		return nil, nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	if Gone(t) {
		return t, nil, fmt.Errorf("tenant %s is %s: %w", id, t.Status, ErrTenantNotFound)
	}
	db, err := c.Tenants.DB(ctx, id)
	if err != nil {
		return t, nil, fmt.Errorf("open database of tenant %s: %w", id, err)
	}
	return t, db, nil
}

// Gone reports whether a tenant should be treated as deleted by Terraform.
func Gone(t *tenant.Tenant) bool {
	return t.Status == "archived" || t.Status == "destroying"
}

// FolderChecksum is a SHA-256 over the relative paths and contents of every regular file below dir.
// It is the cache key for parsed bundles: reading bytes is cheap next to parsing YAML, and unlike
// modification times it cannot be fooled by a checkout that preserves them.
func FolderChecksum(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("read folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("read folder %s: not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && len(d.Name()) > 0 && d.Name()[0] == '.' {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read folder %s: %w", dir, err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", p, err)
		}
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", p, err)
		}
		fmt.Fprintf(h, "\x00%d\x00", n)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}
