package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func TestAccPreflight(t *testing.T) { backends(t, testAccPreflight) }

// testAccPreflight: version 2 of a bundle makes item.sku unique and turns item.price from text into a number.
// With duplicate SKUs in the tenant, the plan fails with a diagnostic naming tenant, bundle, object, field, rule,
// count and samples, and nothing is applied. Once the duplicates are gone the same configuration applies without
// lossy_type_change: every price is numeric text, so the cast loses nothing.
func testAccPreflight(t *testing.T, e *env) {
	cfg := func(version string) string {
		return e.config(disposableTenant("shop", "org-1") + fmt.Sprintf(`
resource "objectstack_deploy_bundle" "stock" {
  tenant_id = objectstack_tenant.shop.id
  path      = %q
}
`, testdata(t, "bundles/stock-"+version)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "shop"),
		Steps: []resource.TestStep{
			{Config: cfg("v1")},
			{
				PreConfig: func() {
					if err := byHand(e, "shop", `INSERT INTO item (id, sku, price) VALUES ('i1','A-1','10'),('i2','A-1','12.5'),('i3','B-7','3')`); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg("v2"),
				ExpectError: regexp.MustCompile(`(?s)Pre-flight: the data would fail the migration.*tenant shop, bundle stock: item\.sku: rule unique broken by 1.*` +
					`1 duplicate key\(s\) \(2 rows\).*uq_item_sku.*sku='A-1' \(2 rows\)`),
			},
			{
				PreConfig: func() {
					if err := byHand(e, "shop", `UPDATE item SET sku = 'A-2' WHERE id = 'i2'`); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg("v2"),
				Check: func(*terraform.State) error {
					db, err := e.client.Tenants.DB(context.Background(), "shop")
					if err != nil {
						return err
					}
					var n int
					if err := db.QueryRow(`SELECT count(*) FROM item WHERE typeof(price) = 'real'`).Scan(&n); err != nil || n != 3 {
						return fmt.Errorf("prices converted: %d %v", n, err)
					}
					return nil
				},
			},
		},
	})
}
