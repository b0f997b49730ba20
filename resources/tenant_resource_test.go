package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestAccTenant covers provisioning, in-place updates, suspension, import, a tenant deleted outside
// Terraform (removed from state, planned again) and validation of ids.
func TestAccTenant(t *testing.T) { backends(t, testAccTenant) }

func testAccTenant(t *testing.T, e *env) {
	const res = "objectstack_tenant.beta"
	cfg := func(plan, tier string, suspended bool) string {
		return e.config(fmt.Sprintf(`
resource "objectstack_tenant" "beta" {
  id           = "beta"
  org_id       = "org-2"
  display_name = "Beta Corp"
  plan         = %q
  region       = "eu-west"
  labels       = { tier = %q, team = "growth" }
  quotas       = { max_objects = 50, max_users = 10 }
  suspended    = %t
  on_destroy   = { immediate = true, create_backup = false }
}
`, plan, tier, suspended))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "beta"),
		Steps: []resource.TestStep{
			{
				Config: e.config(`
resource "objectstack_tenant" "bad" {
  id     = "Bad_Id"
  org_id = "org-2"
  region = "mars"
}
`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)must be 2-41 characters.*region`),
			},
			{
				Config: cfg("free", "silver", false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("region"), knownvalue.StringExact("eu-west")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("database_name"), knownvalue.StringRegexp(regexp.MustCompile(`beta`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("steps").AtSliceIndex(0).AtMapKey("name"), knownvalue.StringExact("create_database")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("quotas").AtMapKey("max_objects"), knownvalue.Int64Exact(50)),
				},
			},
			{
				Config: cfg("pro", "gold", true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("plan"), knownvalue.StringExact("pro")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("labels").AtMapKey("tier"), knownvalue.StringExact("gold")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("status"), knownvalue.StringExact("suspended")),
				},
			},
			{
				Config: cfg("pro", "gold", false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
			},
			{
				ResourceName:            res,
				ImportState:             true,
				ImportStateId:           "beta",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"on_destroy"},
			},
			{
				// Deleted outside Terraform: refresh drops it from state and the plan creates it again.
				PreConfig: func() {
					if err := e.client.Tenants.Destroy(context.Background(), "beta", tenant.DestroyOptions{Immediate: true}); err != nil {
						t.Fatalf("destroy by hand: %v", err)
					}
				},
				Config:             cfg("pro", "gold", false),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
				}},
			},
		},
	})
}
