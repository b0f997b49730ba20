package reconciler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Misplaced is a tenant whose database is not in the group objectstack.yaml's regions names for
// its region. A database does not move between groups in place, so the review reports it (with
// what to do) rather than pretending the mapping took effect.
type Misplaced struct {
	TenantID string `json:"tenantId"`
	Region   string `json:"region"`
	Group    string `json:"group"`
	Want     string `json:"want"`
}

// misplaced lists live tenants whose group differs from the configured one for their region.
func misplaced(tenants []tenant.Tenant, cfg *config.Config) []Misplaced {
	if cfg == nil || len(cfg.Regions) == 0 {
		return nil
	}
	var out []Misplaced
	for _, t := range tenants {
		r, ok := cfg.Regions[t.Region]
		if !ok || t.Status == tenant.StatusArchived || t.Group == "" || t.Group == r.Group {
			continue
		}
		out = append(out, Misplaced{TenantID: t.ID, Region: t.Region, Group: t.Group, Want: r.Group})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TenantID < out[j].TenantID })
	return out
}

// misplacedMarkdown is the review's section on misplaced tenants.
func misplacedMarkdown(ms []Misplaced) string {
	if len(ms) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("**Tenants outside their region's group** (objectstack.yaml `regions`): their databases stay where they are; " +
		"recreate a tenant to move it.\n\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "- `%s` (%s): in group `%s`, regions.%s.group is `%s`\n", m.TenantID, m.Region, m.Group, m.Region, m.Want)
	}
	b.WriteString("\n")
	return b.String()
}
