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
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestAccTemplateSeededTenant: a tenant with `seed { database = "tmpl-crm-v1" }` is a copy of the
// template (its schema came from the template's deployment, not from DDL run for the tenant); the
// bundle deployed on it plans nothing, records a verified deployment, and the second plan is empty.
func TestAccTemplateSeededTenant(t *testing.T) { backends(t, testAccTemplateSeededTenant) }

func testAccTemplateSeededTenant(t *testing.T, e *env) {
	const res = "objectstack_deploy_bundle.crm"
	dir := testdata(t, "bundles/crm-v2")
	b, vr, err := e.client.Bundle(dir)
	if err != nil || !vr.Valid {
		t.Fatalf("load bundle: %v %+v", err, vr)
	}
	if _, err := e.client.Tenants.CreateTemplate(context.Background(), "tmpl-crm-v1", b); err != nil {
		t.Fatalf("create template: %v", err)
	}
	cfg := e.config(fmt.Sprintf(`
resource "objectstack_tenant" "acme" {
  id         = "acme"
  org_id     = "org-1"
  on_destroy = { immediate = true, create_backup = false }
  seed {
    database = "tmpl-crm-v1"
  }
}

resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.acme.id
  path      = %q
}
`, dir))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "acme"),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("objectstack_tenant.acme", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("deployment_id"), knownvalue.StringRegexp(regexp.MustCompile(`^dep-`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("planned_statements"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("restore_point"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue("objectstack_tenant.acme", tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkTables(e, "acme", "account", "contact"),
					checkSeededDeployments(e, "acme"),
				),
			},
			{
				// The second plan is empty.
				Config:           cfg,
				PlanOnly:         true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// checkSeededDeployments: the tenant's schema came from the template (its first deployment is the
// template's), and the bundle resource recorded the verified copy, in that order, without DDL.
func checkSeededDeployments(e *env, tenantID string) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		db, err := e.client.Tenants.DB(ctx, tenantID)
		if err != nil {
			return err
		}
		deps, err := engine.Deployments(ctx, db, engine.BundleOwner("crm"))
		if err != nil {
			return err
		}
		if len(deps) != 2 || deps[0].Source != "template:tmpl-crm-v1" || deps[1].Source != "terraform:verified" || len(deps[1].Statements) != 0 {
			return fmt.Errorf("deployments of the seeded tenant: %+v; want the template's, then a verified copy without statements", deps)
		}
		return nil
	}
}

// TestAccRestoreAfterDropColumn: an allowed drop_column records a restore point that Terraform exposes;
// `objectstack tenant restore --before-deployment` (Service.Restore, what the CLI runs) between steps
// brings the dropped column's data back on a new database the tenant is repointed at, and a
// configuration back on the earlier bundle then converges.
func TestAccRestoreAfterDropColumn(t *testing.T) { backends(t, testAccRestoreAfterDropColumn) }

func testAccRestoreAfterDropColumn(t *testing.T, e *env) {
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
	var depID, restorePoint string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "acme"),
		Steps: []resource.TestStep{
			{
				Config: cfg("v2", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("restore_point"), knownvalue.StringExact("")),
				},
			},
			{
				PreConfig: func() {
					if err := byHand(e, "acme", `INSERT INTO "account" ("id", "name", "email") VALUES ('a1', 'Acme', 'ops@acme.test')`); err != nil {
						t.Fatalf("insert: %v", err)
					}
				},
				Config: cfg("v3", `allow_destructive = ["drop_column"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("restore_point")),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(res, "restore_point", func(v string) error {
						if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`).MatchString(v) {
							return fmt.Errorf("restore_point %q is not an RFC 3339 UTC time", v)
						}
						restorePoint = v
						return nil
					}),
					resource.TestCheckResourceAttrWith(res, "deployment_id", func(v string) error { depID = v; return nil }),
					checkEmails(e, "acme", false),
				),
			},
			{
				// Undo the drop between Terraform runs, then go back to the bundle version before it.
				PreConfig: func() {
					rec, err := e.client.Tenants.Restore(context.Background(), "acme", tenant.RestoreOptions{BeforeDeployment: depID})
					if err != nil {
						t.Fatalf("restore before %s: %v", depID, err)
					}
					if rec.RestorePoint != restorePoint || rec.OldDatabase == rec.NewDatabase {
						t.Fatalf("restore record %+v; want restore point %s", rec, restorePoint)
					}
				},
				Config: cfg("v2", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("objectstack_tenant.acme", tfjsonpath.New("database_name"), knownvalue.StringRegexp(regexp.MustCompile(`^acme-r\d{14}$`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact("1.1.0")),
				},
				Check: checkEmails(e, "acme", true),
			},
			{
				Config:           cfg("v2", ""),
				PlanOnly:         true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// checkEmails: account.email exists and holds the row written before the drop (want), or is gone.
func checkEmails(e *env, tenantID string, want bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		db, err := e.client.Tenants.DB(ctx, tenantID)
		if err != nil {
			return err
		}
		var email string
		// A bare identifier: a double-quoted one naming no column would be read as the string 'email'.
		err = db.QueryRowContext(ctx, `SELECT email FROM account WHERE id = 'a1'`).Scan(&email)
		switch {
		case want && (err != nil || email != "ops@acme.test"):
			return fmt.Errorf("account.email after the restore: %q, %v; want ops@acme.test", email, err)
		case !want && err == nil:
			return fmt.Errorf("account.email still readable after the drop")
		}
		return nil
	}
}
