package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccDestroyWithDestructiveDrift is issue 15 item 6 as a user meets it: a bundle and an app are deployed,
// someone adds a column by hand to a table of each, so restoring the deployed schema would drop a column.
// Terraform and OpenTofu plan in normal mode before a destroy, so a refusal at plan time made `destroy`
// fail. Now the refresh reports the drift, the plan goes on (the repair is visible, with a warning), an
// apply of that repair is refused (allow_destructive does not allow it), a configuration that itself asks
// for a destructive change still fails at plan, and `destroy` succeeds.
func TestAccDestroyWithDestructiveDrift(t *testing.T) {
	backends(t, testAccDestroyWithDestructiveDrift)
}

func testAccDestroyWithDestructiveDrift(t *testing.T, e *env) {
	const bundleRes, appRes = "objectstack_deploy_bundle.crm", "objectstack_app_install.notes"
	cfg := func(bundle string) string {
		return e.config(disposableTenant("drift", "org-6") + fmt.Sprintf(`
resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.drift.id
  path      = %q
}

resource "objectstack_app_install" "notes" {
  tenant_id = objectstack_tenant.drift.id
  path      = %q
}
`, testdata(t, "bundles/"+bundle), testdata(t, "apps/notes-1.0.0")))
	}
	drift := tfjsonpath.New("drift")
	statements := tfjsonpath.New("planned_statements")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "drift"),
		Steps: []resource.TestStep{
			{
				Config: cfg("crm-v1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(bundleRes, drift, knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(appRes, drift, knownvalue.Bool(false)),
				},
			},
			{
				// Columns added by hand: restoring either owner's schema means dropping one.
				PreConfig: func() {
					if err := byHand(e, "drift", `ALTER TABLE "account" ADD COLUMN "notes" TEXT`,
						`ALTER TABLE "notes_note" ADD COLUMN "legacy" TEXT`); err != nil {
						t.Fatalf("change the database by hand: %v", err)
					}
				},
				RefreshState: true,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(bundleRes, "drift", "true"),
					resource.TestCheckResourceAttr(appRes, "drift", "true"),
				),
				// The plan after the refresh does not fail: it shows the repair, statements included.
				ExpectNonEmptyPlan: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(bundleRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(bundleRes, statements, containsStatements(`"notes"`)),
					plancheck.ExpectResourceAction(appRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(appRes, statements, containsStatements(`"legacy"`)),
				}},
			},
			{
				// Applying the repair would lose the hand-added columns' data: refused, nothing runs.
				Config:      cfg("crm-v1"),
				ExpectError: regexp.MustCompile(`(?s)Destructive change refused.*changed outside Terraform`),
			},
			{
				// A configuration that asks for a destructive change (crm-v3 drops account.email) still
				// fails at plan time, drift or not.
				Config:      cfg("crm-v3"),
				ExpectError: regexp.MustCompile(`(?s)Error: Destructive change refused.*drop_column.*account\.email`),
			},
			{
				// `terraform destroy`: its normal-mode plan must not be stopped by the drift.
				Config:  cfg("crm-v1"),
				Destroy: true,
			},
		},
	})
}
