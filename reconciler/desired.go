package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Unit is one bundle or app to converge in one tenant database.
type Unit struct {
	Owner    schema.Owner
	Name     string
	Version  string
	Checksum string
	Bundle   *bundle.Bundle // set for a bundle
	App      *apps.App      // set for an app
	AppRef   config.AppRef
	Allow    []schema.DestructiveKind
}

// Desired is what the revision wants in one tenant: its units in apply order and one checksum over them,
// which the status store compares to skip up-to-date tenants without opening their databases.
type Desired struct {
	Tenant   tenant.Tenant
	Units    []Unit
	Checksum string
	Wave     int // index into the resolved waves
	// Allow is what the tenant's targets (and the top level) allow; pruning an owner that left the
	// repository uses it, since that owner has no target of its own any more. Set only for tenants with
	// orphans, to keep the no-change path lean.
	Allow []schema.DestructiveKind
	// Untargeted: no target selects the tenant any more; it is resolved only because the reconciler
	// applied owners to it before, which are now orphans.
	Untargeted bool
	// Orphans are owners the status store records as applied by the reconciler that this revision no
	// longer wants in the tenant, in name order (set by withOrphans).
	Orphans []schema.Owner
	prune   bool // objectstack.yaml's prune: remove the orphans instead of reporting them
}

// wants reports whether owner is one of d's units (a linear scan: a tenant has a handful of units, and
// the no-change fast path calls this for every tenant without allocating).
func (d *Desired) wants(owner string) bool {
	for i := range d.Units {
		if string(d.Units[i].Owner) == owner {
			return true
		}
	}
	return false
}

// Owners maps owner → unit checksum, as recorded in status.
func (d *Desired) Owners() map[string]string {
	m := make(map[string]string, len(d.Units))
	for _, u := range d.Units {
		m[string(u.Owner)] = u.Checksum
	}
	return m
}

// Wave is a resolved rollout wave: its settings and the tenants it holds.
type Wave struct {
	config.Wave
	Members []*Desired
}

func allowKinds(lists ...[]string) []schema.DestructiveKind {
	seen := map[string]bool{}
	var out []schema.DestructiveKind
	for _, l := range lists {
		for _, k := range l {
			if !seen[k] {
				seen[k] = true
				out = append(out, schema.DestructiveKind(k))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func mergeAllow(a, b []schema.DestructiveKind) []schema.DestructiveKind {
	var s []string
	for _, k := range a {
		s = append(s, string(k))
	}
	for _, k := range b {
		s = append(s, string(k))
	}
	return allowKinds(s)
}

func targetMatches(t config.Target, tn *tenant.Tenant) bool {
	for _, id := range t.Tenants {
		if id == tn.ID {
			return true
		}
	}
	return t.Selector.Matches(tn.Labels, tn.Plan, tn.Region)
}

// Resolve computes, for every active tenant that some target selects, the units to converge (bundles in
// name order, then apps with their in-repository dependencies first) and assigns each to a rollout wave.
// The repository must be valid.
func (r *Repository) Resolve(tenants []tenant.Tenant) ([]Wave, []*Desired) {
	return r.resolve(tenants, nil)
}

// resolve is Resolve that also keeps active tenants no target selects when recorded(id) says the
// reconciler applied owners to them: they get a Desired without units, so their orphans are seen.
func (r *Repository) resolve(tenants []tenant.Tenant, recorded func(id string) bool) ([]Wave, []*Desired) {
	cfg := r.Config
	var catalog *apps.Catalog
	if len(r.Apps) > 0 {
		all := make([]*apps.App, 0, len(r.Apps))
		for _, a := range r.Apps {
			all = append(all, a)
		}
		catalog, _ = apps.NewCatalog(all...)
	}
	var desired []*Desired
	for i := range tenants {
		tn := tenants[i]
		if tn.Status != tenant.StatusActive {
			continue
		}
		bundles := map[string][]schema.DestructiveKind{}
		var appOrder []string
		appRefs := map[string]config.AppRef{}
		appAllow := map[string][]schema.DestructiveKind{}
		matched := false
		for _, t := range cfg.Targets {
			if !targetMatches(t, &tn) {
				continue
			}
			matched = true
			allow := allowKinds(cfg.AllowDestructive, t.AllowDestructive)
			for _, b := range t.Bundles {
				bundles[b] = mergeAllow(bundles[b], allow)
			}
			for _, ref := range t.Apps {
				chain := []*apps.App{r.Apps[ref.Name]}
				if catalog != nil {
					if c, err := catalog.Resolve(ref.Name); err == nil {
						chain = c
					}
				}
				for _, a := range chain {
					if a == nil {
						continue
					}
					name := a.Manifest.Name
					if _, ok := appRefs[name]; !ok {
						appOrder = append(appOrder, name)
						appRefs[name] = config.AppRef{Name: name}
					}
					if name == ref.Name {
						appRefs[name] = ref
					}
					appAllow[name] = mergeAllow(appAllow[name], allow)
				}
			}
		}
		if !matched && (recorded == nil || !recorded(tn.ID)) {
			continue
		}
		d := &Desired{Tenant: tn, Untargeted: !matched}
		names := make([]string, 0, len(bundles))
		for n := range bundles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			b := r.Bundles[n]
			if b == nil {
				continue
			}
			d.Units = append(d.Units, Unit{Owner: schema.BundleOwner(b.Manifest.Name), Name: n, Version: b.Manifest.Version,
				Checksum: b.Checksum, Bundle: b, Allow: bundles[n]})
		}
		for _, n := range appOrder {
			a := r.Apps[n]
			if a == nil {
				continue
			}
			ref := appRefs[n]
			sum := a.Checksum
			if len(ref.ConfigOverrides) > 0 || ref.SkipSeedData {
				// Configuration is part of what the tenant should have: a changed override must re-install.
				extra, _ := json.Marshal(struct {
					C map[string]any `json:"c"`
					S bool           `json:"s"`
				}{ref.ConfigOverrides, ref.SkipSeedData})
				h := sha256.Sum256(append([]byte(sum), extra...))
				sum = hex.EncodeToString(h[:])
			}
			d.Units = append(d.Units, Unit{Owner: a.Owner(), Name: n, Version: a.Manifest.Version, Checksum: sum, App: a,
				AppRef: ref, Allow: appAllow[n]})
		}
		h := sha256.New()
		for _, u := range d.Units {
			fmt.Fprintf(h, "%s=%s\n", u.Owner, u.Checksum)
		}
		d.Checksum = "sha256:" + hex.EncodeToString(h.Sum(nil))
		desired = append(desired, d)
	}
	sort.Slice(desired, func(i, j int) bool { return desired[i].Tenant.ID < desired[j].Tenant.ID })
	return r.assignWaves(desired), desired
}

// tenantAllow is the union of the top-level allowances and those of every target selecting tn.
func (r *Repository) tenantAllow(tn *tenant.Tenant) []schema.DestructiveKind {
	lists := [][]string{r.Config.AllowDestructive}
	for _, t := range r.Config.Targets {
		if targetMatches(t, tn) {
			lists = append(lists, t.AllowDestructive)
		}
	}
	return allowKinds(lists...)
}

// assignWaves puts each tenant in the first wave that selects it; a wave with neither tenants nor selector
// takes everyone left, and tenants no wave took form a final implicit wave "rest".
func (r *Repository) assignWaves(desired []*Desired) []Wave {
	var waves []Wave
	for _, w := range r.Config.Rollout.Waves {
		waves = append(waves, Wave{Wave: w})
	}
	taken := make([]bool, len(desired))
	for wi := range waves {
		w := &waves[wi]
		catchAll := len(w.Wave.Tenants) == 0 && w.Selector == nil
		for i, d := range desired {
			if taken[i] {
				continue
			}
			in := catchAll
			for _, id := range w.Wave.Tenants {
				if id == d.Tenant.ID {
					in = true
				}
			}
			if !in && w.Selector != nil && w.Selector.Matches(d.Tenant.Labels, d.Tenant.Plan, d.Tenant.Region) {
				in = true
			}
			if in {
				taken[i] = true
				d.Wave = wi
				w.Members = append(w.Members, d)
			}
		}
	}
	var rest []*Desired
	for i, d := range desired {
		if !taken[i] {
			d.Wave = len(waves)
			rest = append(rest, d)
		}
	}
	if len(rest) > 0 {
		name := "rest"
		for _, w := range waves {
			if w.Name == name {
				name = "rest-implicit"
			}
		}
		waves = append(waves, Wave{Wave: config.Wave{Name: name}, Members: rest})
	}
	return waves
}

// UnknownTenants returns the tenant ids named explicitly in targets or waves that are not active tenants:
// almost always a typo, or a tenant not provisioned yet.
func (r *Repository) UnknownTenants(tenants []tenant.Tenant) []string {
	active := map[string]bool{}
	for _, t := range tenants {
		if t.Status == tenant.StatusActive {
			active[t.ID] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	note := func(ids []string) {
		for _, id := range ids {
			if !active[id] && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	for _, t := range r.Config.Targets {
		note(t.Tenants)
	}
	for _, w := range r.Config.Rollout.Waves {
		note(w.Tenants)
	}
	sort.Strings(out)
	return out
}
