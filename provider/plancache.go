package provider

import (
	"strings"
	"sync"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// PlanCacheTTL bounds how old a refresh's finding may be when the plan step reuses it. A plan is a
// snapshot either way (apply re-plans and refuses if the database moved); the bound only keeps a
// long-lived process (the in-process test harness) from reusing findings across commands.
const PlanCacheTTL = 15 * time.Second

// PlanCache remembers up-to-date engine plans by tenant, owner and folder content. Only plans that
// need nothing are stored: reusing one can at worst hide a change made in the last seconds, which
// the apply-time re-plan catches.
type PlanCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]planEntry
}

type planEntry struct {
	plan *schema.Plan
	at   time.Time
}

// NewPlanCache returns an empty cache whose entries live ttl.
func NewPlanCache(ttl time.Duration) *PlanCache {
	return &PlanCache{ttl: ttl, m: map[string]planEntry{}}
}

func planKey(tenantID string, owner schema.Owner, contentKey string) string {
	return tenantID + "\x00" + string(owner) + "\x00" + contentKey
}

// Put stores p when it is up to date.
func (c *PlanCache) Put(tenantID string, owner schema.Owner, contentKey string, p *schema.Plan) {
	if p == nil || !p.UpToDate || contentKey == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, e := range c.m { // keep the map bounded by dropping what expired
		if now.Sub(e.at) > c.ttl {
			delete(c.m, k)
		}
	}
	c.m[planKey(tenantID, owner, contentKey)] = planEntry{p, now}
}

// Get returns a fresh up-to-date plan for the key.
func (c *PlanCache) Get(tenantID string, owner schema.Owner, contentKey string) (*schema.Plan, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[planKey(tenantID, owner, contentKey)]
	if !ok || time.Since(e.at) > c.ttl {
		return nil, false
	}
	return e.plan, true
}

// Forget drops every entry of one owner in one tenant (after anything changed its schema).
func (c *PlanCache) Forget(tenantID string, owner schema.Owner) {
	prefix := tenantID + "\x00" + string(owner) + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			delete(c.m, k)
		}
	}
}
