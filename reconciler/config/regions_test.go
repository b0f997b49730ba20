package config

import (
	"strings"
	"testing"
)

func TestRegionsMapToGroups(t *testing.T) {
	doc := "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    selector: {}\nregions:\n  eu-west: { group: eu }\n  us-east:\n    group: us\n"
	cfg, err := Parse([]byte(doc), "objectstack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.RegionGroups(); len(g) != 2 || g["eu-west"] != "eu" || g["us-east"] != "us" {
		t.Fatalf("RegionGroups = %v", g)
	}
	if n := cfg.RegionNames(); len(n) != 2 || n[0] != "eu-west" {
		t.Fatalf("RegionNames = %v", n)
	}
}

func TestRegionsBadInput(t *testing.T) {
	head := "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    selector: {}\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown region": {"regions:\n  mars: { group: eu }\n", `objectstack.yaml:6: regions.mars`},
		"missing group":  {"regions:\n  eu-west: {}\n", `regions.eu-west.group`},
		"bad group name": {"regions:\n  eu-west: { group: EU_1 }\n", `regions.eu-west.group`},
		"unknown key":    {"regions:\n  eu-west: { group: eu, location: x }\n", `regions.eu-west.location`},
		"not a mapping":  {"regions: [eu]\n", `regions`},
	} {
		_, err := Parse([]byte(head+tc.doc), "objectstack.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an issue naming %q", name, err, tc.want)
		}
	}
}
