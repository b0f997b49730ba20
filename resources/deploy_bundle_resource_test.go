package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDeployBundle walks one bundle through its life on both backends: create (DDL unknown until the
// tenant exists), a schema change shown in planned_statements, a refused destructive change, the same
// change allowed, drift made by hand, repair, an empty second plan, import and destroy.
func TestAccDeployBundle(t *testing.T) { backends(t, testAccDeployBundle) }

func testAccDeployBundle(t *testing.T, e *env) {
	const res = "objectstack_deploy_bundle.crm"
	cfg := func(version, extra string) string {
		return e.config(disposableTenant("acme", "org-1") + fmt.Sprintf(`
resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.acme.id
  path      = %q
  %s
}
`, testdata(t, "bundles/crm-"+version), extra))
	}
	statements := tfjsonpath.New("planned_statements")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "acme"),
		Steps: []resource.TestStep{
			{
				Config: cfg("v1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("objectstack_tenant.acme", plancheck.ResourceActionCreate),
					// The tenant does not exist yet, so nobody can know the DDL before apply.
					plancheck.ExpectUnknownValue(res, statements),
				}},
				Check: checkTables(e, "acme", "account"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("deployment_id"), knownvalue.StringRegexp(regexp.MustCompile(`.+`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("acme/crm")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("objects"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("account")})),
					statecheck.ExpectKnownValue("objectstack_tenant.acme", tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
			},
			{
				// A schema change: the plan itself carries the DDL.
				Config: cfg("v2", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, statements, containsStatements(
						`ALTER TABLE "account" ADD COLUMN "industry"`, `CREATE TABLE "contact"`)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("change_summary").AtMapKey("added"), knownvalue.Int64Func(func(v int64) error {
						if v < 2 {
							return fmt.Errorf("want at least 2 additions, got %d", v)
						}
						return nil
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact("1.1.0")),
				},
				Check: checkTables(e, "acme", "account", "contact"),
			},
			{
				// Dropping account.email is destructive: the plan fails naming it, nothing runs.
				Config:      cfg("v3", ""),
				ExpectError: regexp.MustCompile(`(?s)Destructive change refused.*drop_column.*account\.email`),
			},
			{
				Config: cfg("v3", `allow_destructive = ["drop_column"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("has_breaking_changes"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(res, statements, containsStatements(`email|"account"`)),
				}},
			},
			{
				// Someone drops a column by hand: refresh notices and the plan restores it.
				PreConfig: func() {
					if err := byHand(e, "acme", `ALTER TABLE "account" DROP COLUMN "industry"`); err != nil {
						t.Fatalf("change the database by hand: %v", err)
					}
				},
				Config:             cfg("v3", `allow_destructive = ["drop_column"]`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, statements, containsStatements(`"industry"`)),
					// drift: true in the refreshed state (the hand edit was seen), false once applied.
					expectRefreshed(res, tfjsonpath.New("drift"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
				}},
			},
			{
				// The refreshed state itself records the drift (`terraform refresh`, `apply -refresh-only`).
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check:              resource.TestCheckResourceAttr(res, "drift", "true"),
			},
			{
				// Apply repairs the drift (the plan shows drift true → false); the framework then checks that
				// the next plan is empty.
				Config: cfg("v3", `allow_destructive = ["drop_column"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						expectRefreshed(res, tfjsonpath.New("drift"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
				},
			},
			{
				ResourceName:                         res,
				ImportState:                          true,
				ImportStateId:                        "acme/crm",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				// Config-only arguments cannot be read back; the pending-change attributes of an imported
				// (refreshed) resource are empty while the compared state still holds the last apply's.
				ImportStateVerifyIgnore: []string{"path", "allow_destructive", "purge_on_destroy",
					"planned_statements", "changes", "change_summary", "has_breaking_changes"},
			},
			{
				ResourceName:            "objectstack_tenant.acme",
				ImportState:             true,
				ImportStateId:           "acme",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"on_destroy"},
			},
			{
				// A bundle with another name is another owner: replaced, and it adopts the detached tables.
				Config: e.config(disposableTenant("acme", "org-1") + fmt.Sprintf(`
resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.acme.id
  path      = %q
}
`, testdata(t, "bundles/sales"))),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("acme/sales")),
				},
			},
			{
				// Removing the resource keeps the tables and their data (purge_on_destroy is false):
				// only the bundle's ownership goes.
				PreConfig: func() {
					if err := byHand(e, "acme", `INSERT INTO "account" ("id", "name") VALUES ('a1', 'Kept')`); err != nil {
						t.Fatalf("insert: %v", err)
					}
				},
				Config: e.config(disposableTenant("acme", "org-1")),
				Check: func(*terraform.State) error {
					if err := checkTables(e, "acme", "account", "contact")(nil); err != nil {
						return err
					}
					return checkOwnerDetached(e, "acme", "bundle:sales", `SELECT count(*) FROM "account" WHERE "name" = 'Kept'`)
				},
			},
		},
	})
}
