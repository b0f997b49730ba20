package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Issue 15 item 2, Terraform side: with invoicing installed needing inventory >=1.1.0 <2.0.0, pointing the
// inventory install at 2.0.0 must fail at plan time, naming invoicing and its constraint — not upgrade and leave
// invoicing broken.
func TestAccAppUpgradeBreakingDependent(t *testing.T) {
	e := localEnv(t)
	cfg := func(inventory string) string {
		return e.config(disposableTenant("delta", "org-1") + fmt.Sprintf(`
resource "objectstack_app_install" "inventory" {
  tenant_id = objectstack_tenant.delta.id
  path      = %q
}

resource "objectstack_app_install" "invoicing" {
  tenant_id  = objectstack_tenant.delta.id
  path       = %q
  depends_on = [objectstack_app_install.inventory]
}
`, testdata(t, "apps/inventory-"+inventory), testdata(t, "apps/invoicing")))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "delta"),
		Steps: []resource.TestStep{
			{Config: cfg("1.2.0"), Check: checkTables(e, "delta", "inventory_item", "invoicing_invoice")},
			{
				Config:      cfg("2.0.0"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)dependency_missing.*invoicing\s+1\.0\.0\s+requires\s+inventory\s+>=1\.1\.0\s+<2\.0\.0.*upgrading\s+inventory\s+from\s+1\.2\.0\s+to\s+2\.0\.0`),
			},
		},
	})
}

// Issue 15 item 8, Terraform side: a tenant with max_objects = 1 and max_deployments_per_day = 1 takes its
// first one-object deployment; the next change the same day (which also adds a second object) is a plan error
// naming both quotas with the quota_exceeded category — it used to deploy twice in a day.
func TestAccDeployBundleQuotas(t *testing.T) {
	e := localEnv(t)
	cfg := func(version string) string {
		return e.config(fmt.Sprintf(`
resource "objectstack_tenant" "quota" {
  id         = "quota"
  org_id     = "org-1"
  quotas     = { max_objects = 1, max_deployments_per_day = 1 }
  on_destroy = { immediate = true, create_backup = false }
}

resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.quota.id
  path      = %q
}
`, testdata(t, "bundles/crm-"+version)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "quota"),
		Steps: []resource.TestStep{
			{Config: cfg("v1"), Check: checkTables(e, "quota", "account")},
			{
				Config:      cfg("v2"),
				ExpectError: regexp.MustCompile(`(?s)Tenant quota exceeded.*\[quota_exceeded\].*maxObjects\s+quota\s+of\s+1.*\[quota_exceeded\].*maxDeploymentsPerDay\s+quota\s+of\s+1`),
			},
		},
	})
}
