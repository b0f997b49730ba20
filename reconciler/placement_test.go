package reconciler

import (
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

func TestMisplacedTenantsAreReported(t *testing.T) {
	cfg := &config.Config{Regions: map[string]config.Region{"eu-west": {Group: "eu"}}}
	ts := []tenant.Tenant{
		{ID: "in-place", Region: "eu-west", Group: "eu", Status: tenant.StatusActive},
		{ID: "old", Region: "eu-west", Group: "default", Status: tenant.StatusActive},
		{ID: "gone", Region: "eu-west", Group: "default", Status: tenant.StatusArchived},
		{ID: "unmapped", Region: "us-east", Group: "default", Status: tenant.StatusActive},
	}
	ms := misplaced(ts, cfg)
	if len(ms) != 1 || ms[0] != (Misplaced{TenantID: "old", Region: "eu-west", Group: "default", Want: "eu"}) {
		t.Fatalf("misplaced = %+v", ms)
	}
	md := (&Review{Valid: true, Misplaced: ms}).Markdown()
	if !strings.Contains(md, "`old` (eu-west): in group `default`, regions.eu-west.group is `eu`") {
		t.Fatalf("markdown:\n%s", md)
	}
	if misplaced(ts, &config.Config{}) != nil {
		t.Fatal("no regions configured, yet tenants reported")
	}
}
