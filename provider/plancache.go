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

	locksMu sync.Mutex
	locks   map[string]*sync.Mutex
}

type planEntry struct {
	plan  *schema.Plan
	state *schema.State
	at    time.Time
}

// NewPlanCache returns an empty cache whose entries live ttl.
func NewPlanCache(ttl time.Duration) *PlanCache {
	return &PlanCache{ttl: ttl, m: map[string]planEntry{}, locks: map[string]*sync.Mutex{}}
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
	c.m[planKey(tenantID, owner, contentKey)] = planEntry{plan: p, at: now}
}

// stateKey is the key a refresh's read of an owner's tenant is kept under (no content key: any content of the
// owner's folder is planned against it).
func stateKey(tenantID string, owner schema.Owner) string {
	return planKey(tenantID, owner, "\x00state")
}

// PutState keeps what refresh read of a tenant for owner, so the plan that follows in the same command plans
// any folder content against it instead of reading the database again (one request per resource on a remote
// database). Apply always reads afresh, and its batch refuses a database that moved since.
func (c *PlanCache) PutState(tenantID string, owner schema.Owner, st *schema.State) {
	if st == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[stateKey(tenantID, owner)] = planEntry{state: st, at: time.Now()}
}

// State returns a fresh State refresh read for owner.
func (c *PlanCache) State(tenantID string, owner schema.Owner) (*schema.State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[stateKey(tenantID, owner)]
	if !ok || time.Since(e.at) > c.ttl {
		return nil, false
	}
	return e.state, true
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

// ForgetTenant drops everything kept for a tenant: after one resource's apply changed its database, every
// other read of it is out of date.
func (c *PlanCache) ForgetTenant(tenantID string) {
	prefix := tenantID + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			delete(c.m, k)
		}
	}
}

// LockTenant serialises applies to one tenant database within this provider process. OpenTofu applies a
// tenant's bundles and apps in parallel; each apply is one read and one batch, and a batch refuses a database
// that moved since its read, so two at once in one tenant would make one of them read and try again.
func (c *PlanCache) LockTenant(tenantID string) (unlock func()) {
	c.locksMu.Lock()
	l := c.locks[tenantID]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[tenantID] = l
	}
	c.locksMu.Unlock()
	l.Lock()
	return l.Unlock
}
