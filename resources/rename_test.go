package resources_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccRenameKeepsData: a bundle that renames an object and a field (renamedFrom) plans the RENAME DDL — no
// drop, no add, nothing destructive — keeps the rows and the lookup pointing at them, and the next plan is empty.
func TestAccRenameKeepsData(t *testing.T) { backends(t, testAccRenameKeepsData) }

func testAccRenameKeepsData(t *testing.T, e *env) {
	const res = "objectstack_deploy_bundle.rename"
	cfg := func(version string) string {
		return e.config(disposableTenant("ren", "org-1") + fmt.Sprintf(`
resource "objectstack_deploy_bundle" "rename" {
  tenant_id = objectstack_tenant.ren.id
  path      = %q
}
`, testdata(t, "bundles/rename-"+version)))
	}
	statements := tfjsonpath.New("planned_statements")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "ren"),
		Steps: []resource.TestStep{
			{
				Config: cfg("v1"),
				Check:  checkTables(e, "ren", "account", "ticket"),
			},
			{
				PreConfig: func() {
					if err := byHand(e, "ren", `INSERT INTO "account" ("id", "name", "email") VALUES ('a1', 'Ada', 'ada@example.com')`,
						`INSERT INTO "ticket" ("id", "subject", "account") VALUES ('t1', 'Help', 'a1')`); err != nil {
						t.Fatalf("insert: %v", err)
					}
				},
				Config: cfg("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, statements, containsStatementsExactly(
							`^ALTER TABLE "account" RENAME TO "customer"$`,
							`^ALTER TABLE "customer" RENAME COLUMN "name" TO "full_name"$`,
							`^CREATE INDEX "idx_customer_full_name"`,
							`^DROP INDEX "idx_account_name"$`)),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("has_breaking_changes"), knownvalue.Bool(false)),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("changes"), containsStatements(
							`^modified object customer \(renamed from account\)$`,
							`^modified field customer\.full_name \(renamed from name\)$`)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if err := checkNoTables(e, "ren", "account")(nil); err != nil {
						return err
					}
					return checkRenamedRow(e, "ren")
				},
			},
		},
	})
}

// checkRenamedRow: the row written before the rename is there under the new names, and the ticket's lookup
// (and its foreign key) points at the renamed table.
func checkRenamedRow(e *env, tenantID string) error {
	ctx := context.Background()
	db, err := e.client.Tenants.DB(ctx, tenantID)
	if err != nil {
		return err
	}
	var name, email, parent string
	if err := db.QueryRowContext(ctx, `SELECT c.full_name, c.email FROM ticket t JOIN customer c ON c.id = t.account WHERE t.id = 't1'`).Scan(&name, &email); err != nil {
		return fmt.Errorf("renamed row: %w", err)
	}
	if name != "Ada" || email != "ada@example.com" {
		return fmt.Errorf("renamed row holds %q, %q", name, email)
	}
	if err := db.QueryRowContext(ctx, `SELECT "table" FROM pragma_foreign_key_list('ticket')`).Scan(&parent); err != nil {
		return err
	}
	if parent != "customer" {
		return fmt.Errorf("ticket's foreign key references %q", parent)
	}
	return nil
}

// containsStatementsExactly is containsStatements with nothing else in the list.
func containsStatementsExactly(patterns ...string) knownvalue.Check {
	s := containsStatements(patterns...).(statementsMatching)
	s.exact = true
	return s
}
