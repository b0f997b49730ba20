package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// withRegionGroups is the env's provider block plus a region → group map.
func withRegionGroups(e *env, body string) string {
	block := strings.TrimSuffix(strings.TrimSpace(e.provider), "}") + "  region_groups = { \"eu-west\" = \"eu\" }\n}\n"
	return (&env{provider: block}).config(body)
}

// TestAccGroupRegionsAndProtection covers objectstack_group (create, locations changed in place,
// delete_protection, import, the data source, a group token), region placement (a tenant in
// eu-west lands in the eu group; changing its region plans a replace) and delete protection of
// tenants and groups (destroy fails naming delete_protection; after turning it off it works).
func TestAccGroupRegionsAndProtection(t *testing.T) { backends(t, testAccGroupRegionsAndProtection) }

func testAccGroupRegionsAndProtection(t *testing.T, e *env) {
	const grp, ten = "objectstack_group.eu", "objectstack_tenant.paris"
	group := func(locations string, protect bool) string {
		return fmt.Sprintf(`
resource "objectstack_group" "eu" {
  name              = "eu"
  location          = "aws-eu-west-1"
  locations         = [%s]
  delete_protection = %t
}
`, locations, protect)
	}
	tenantCfg := func(region string, protect bool) string {
		return fmt.Sprintf(`
resource "objectstack_tenant" "paris" {
  id                = "paris"
  org_id            = "org-eu"
  region            = %q
  delete_protection = %t
  block_writes      = false
  on_destroy        = { immediate = true, create_backup = false }
  depends_on        = [objectstack_group.eu]
}
`, region, protect)
	}
	withToken := `
data "objectstack_group" "eu" {
  name       = objectstack_group.eu.name
  depends_on = [objectstack_tenant.paris]
}

ephemeral "objectstack_group_token" "eu" {
  group      = objectstack_group.eu.name
  scope      = "full-access"
  expiration = "30m"
}

provider "echo" {
  data = { token = ephemeral.objectstack_group_token.eu.token }
}

resource "echo" "token" {}
`
	wantToken := e.name == "turso"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "paris"),
		Steps: []resource.TestStep{
			{
				// A tenant in eu-west goes into the eu group; the group has only its primary location.
				Config: withRegionGroups(e, group("", false)+tenantCfg("eu-west", false)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(grp, tfjsonpath.New("location"), knownvalue.StringExact("aws-eu-west-1")),
					statecheck.ExpectKnownValue(grp, tfjsonpath.New("locations"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue(grp, tfjsonpath.New("uuid"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(ten, tfjsonpath.New("group"), knownvalue.StringExact("eu")),
					statecheck.ExpectKnownValue(ten, tfjsonpath.New("delete_protection"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					db, err := e.client.Tenants.Platform().GetDatabase(context.Background(), "paris")
					if err != nil {
						return err
					}
					if db.Group != "eu" || db.PrimaryRegion != "aws-eu-west-1" {
						return fmt.Errorf("paris database is in group %q (%s), want eu (aws-eu-west-1)", db.Group, db.PrimaryRegion)
					}
					return nil
				},
			},
			{
				// Locations and protection change in place; the tenant gets delete protection.
				Config: withRegionGroups(e, group(`"aws-us-west-2"`, true)+tenantCfg("eu-west", true)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(grp, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(ten, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(grp, tfjsonpath.New("locations"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("aws-us-west-2")})),
					statecheck.ExpectKnownValue(grp, tfjsonpath.New("delete_protection"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ten, tfjsonpath.New("delete_protection"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					c, err := e.client.Tenants.AccessOf(context.Background(), "paris")
					if err != nil || !c.DeleteProtection {
						return fmt.Errorf("platform configuration of paris = %+v, %v; want delete_protection", c, err)
					}
					return nil
				},
			},
			{
				ResourceName:      grp,
				ImportState:       true,
				ImportStateId:     "eu",
				ImportStateVerify: true,
			},
			{
				// Moving the tenant to another region is a replace, never an in-place no-op.
				Config:             withRegionGroups(e, group(`"aws-us-west-2"`, true)+tenantCfg("us-east", true)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ten, plancheck.ResourceActionReplace),
					plancheck.ExpectKnownValue(ten, tfjsonpath.New("group"), knownvalue.StringExact("default")),
				}},
			},
			{
				// Destroying the protected tenant fails naming the setting, and the tenant stays.
				Config:      withRegionGroups(e, group(`"aws-us-west-2"`, true)),
				ExpectError: regexp.MustCompile(`delete_protection`),
			},
			{
				// The protected group with a database in it is not destroyed either.
				Config: withRegionGroups(e, group(`"aws-us-west-2"`, true)+tenantCfg("eu-west", false)+withToken),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.objectstack_group.eu", tfjsonpath.New("databases"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("paris")})),
					statecheck.ExpectKnownValue("echo.token", tfjsonpath.New("data").AtMapKey("token"), tokenCheck(wantToken)),
				},
			},
			{
				Config:      withRegionGroups(e, ""),
				ExpectError: regexp.MustCompile(`delete_protection`),
			},
			{
				// The tenant went in the step before (its protection was off); the group is refused
				// until its protection is off too, then destroy works.
				Config: withRegionGroups(e, group("", false)),
			},
			{
				Config: withRegionGroups(e, ""),
				Check: func(*terraform.State) error {
					g, _ := platform.GroupsOf(e.client.Tenants.Platform())
					if _, err := g.GetGroup(context.Background(), "eu"); err == nil {
						return fmt.Errorf("group eu still exists after destroy")
					}
					return nil
				},
			},
		},
	})
}

func tokenCheck(want bool) knownvalue.Check {
	if want {
		return knownvalue.StringRegexp(regexp.MustCompile(`^ey`))
	}
	return knownvalue.StringExact("")
}
