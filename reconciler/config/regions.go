package config

import (
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Region is one entry of objectstack.yaml's regions: the group a region's tenant databases are
// created in, e.g.
//
//	regions:
//	  eu-west: { group: eu }
type Region struct {
	Group string `json:"group"`
}

// TenantRegions are the regions a tenant may be in (the protocol's TenantRegion enum; the tenant
// package holds the same list, which this package cannot import without a cycle through the engine).
var TenantRegions = []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast", "ap-northeast"}

var groupNameRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func (p *parser) regions(n *yaml.Node, path string) map[string]Region {
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "type", "must be a mapping of region to {group: NAME}, got %s", kindName(n))
		return nil
	}
	out := map[string]Region{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		rpath := join(path, key.Value)
		known := false
		for _, r := range TenantRegions {
			known = known || r == key.Value
		}
		if !known {
			p.fail(key, rpath, "enum", "region %q is not one of %s", key.Value, strings.Join(TenantRegions, ", "))
			continue
		}
		var r Region
		p.mapping(val, rpath, map[string]func(*yaml.Node, string){
			"group": func(v *yaml.Node, path string) {
				r.Group = p.str(v, path)
				if r.Group != "" && !groupNameRE.MatchString(r.Group) {
					p.fail(v, path, "pattern", "group %q must be 1-64 lower-case letters, digits and dashes", r.Group)
				}
			},
		})
		if r.Group == "" {
			p.fail(val, rpath+".group", "required", "is required: the group this region's databases are created in")
			continue
		}
		out[key.Value] = r
	}
	return out
}

// RegionGroups is Regions as the region → group map the tenant service takes.
func (c *Config) RegionGroups() map[string]string {
	if len(c.Regions) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.Regions))
	for r, g := range c.Regions {
		out[r] = g.Group
	}
	return out
}

// RegionNames lists the configured regions, sorted.
func (c *Config) RegionNames() []string {
	out := make([]string, 0, len(c.Regions))
	for r := range c.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
