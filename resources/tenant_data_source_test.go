package resources_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccTenantDataSources reads one tenant and lists tenants filtered by labels and plan
// (objectstack_tenant and objectstack_tenants).
func TestAccTenantDataSources(t *testing.T) {
	e := localEnv(t)
	tenants := `
resource "objectstack_tenant" "a" {
  id         = "ds-a"
  org_id     = "org-ds"
  plan       = "pro"
  labels     = { tier = "gold" }
  on_destroy = { immediate = true, create_backup = false }
}

resource "objectstack_tenant" "b" {
  id         = "ds-b"
  org_id     = "org-ds"
  labels     = { tier = "silver" }
  on_destroy = { immediate = true, create_backup = false }
}
`
	reads := `
data "objectstack_tenant" "a" {
  id = "ds-a"
}

data "objectstack_tenants" "gold" {
  labels = { tier = "gold" }
}

data "objectstack_tenants" "free" {
  plan = "free"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "ds-a", "ds-b"),
		Steps: []resource.TestStep{
			{Config: e.config(tenants)},
			{
				Config: e.config(tenants + reads),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.objectstack_tenant.a", tfjsonpath.New("plan"), knownvalue.StringExact("pro")),
					statecheck.ExpectKnownValue("data.objectstack_tenant.a", tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue("data.objectstack_tenants.gold", tfjsonpath.New("ids"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("ds-a")})),
					statecheck.ExpectKnownValue("data.objectstack_tenants.free", tfjsonpath.New("ids"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("ds-b")})),
					statecheck.ExpectKnownValue("data.objectstack_tenants.gold", tfjsonpath.New("tenants").AtSliceIndex(0).AtMapKey("labels").AtMapKey("tier"),
						knownvalue.StringExact("gold")),
				},
			},
		},
	})
}
