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

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
)

// TestAccAppInstall installs an app with seed data and configuration, upgrades it (DDL in the plan),
// refuses invalid configuration and a downgrade at plan time, imports it and uninstalls it.
func TestAccAppInstall(t *testing.T) { backends(t, testAccAppInstall) }

func testAccAppInstall(t *testing.T, e *env) {
	const res = "objectstack_app_install.notes"
	cfg := func(version, color, extra string) string {
		return e.config(disposableTenant("gamma", "org-3") + fmt.Sprintf(`
resource "objectstack_app_install" "notes" {
  tenant_id        = objectstack_tenant.gamma.id
  path             = %q
  config_overrides = { default_color = %q }
  %s
}
`, testdata(t, "apps/notes-"+version), color, extra))
	}
	statements := tfjsonpath.New("planned_statements")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "gamma"),
		Steps: []resource.TestStep{
			{
				Config: cfg("1.0.0", "blue", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("seeded_records"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("installed_objects"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("notes_note")})),
				},
				Check: checkTables(e, "gamma", "notes_note"),
			},
			{
				// A compatibility problem (a dependency that is not installed) fails the plan.
				Config: cfg("1.0.0", "blue", "") + fmt.Sprintf(`
resource "objectstack_app_install" "reports" {
  tenant_id = objectstack_tenant.gamma.id
  path      = %q
}
`, testdata(t, "apps/reports")),
				ExpectError: regexp.MustCompile(`(?s)not compatible.*dependency_missing.*analytics`),
			},
			{
				Config:      cfg("1.0.0", "red", ""),
				ExpectError: regexp.MustCompile(`(?s)default_color.*red`),
			},
			{
				Config: cfg("1.1.0", "blue", "purge_on_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact("1.1.0")),
					plancheck.ExpectKnownValue(res, statements, containsStatements(`ADD COLUMN "pinned"|"pinned"`)),
				}},
			},
			{
				// Drift: a column dropped by hand. The refreshed state records it ...
				PreConfig: func() {
					if err := byHand(e, "gamma", `ALTER TABLE "notes_note" DROP COLUMN "pinned"`); err != nil {
						t.Fatalf("change the database by hand: %v", err)
					}
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check:              resource.TestCheckResourceAttr(res, "drift", "true"),
			},
			{
				// ... the plan puts the column back and apply repairs it.
				Config: cfg("1.1.0", "blue", "purge_on_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, statements, containsStatements(`"pinned"`)),
					// drift: true in the refreshed state (the hand edit was seen), false once applied.
					expectRefreshed(res, tfjsonpath.New("drift"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("drift"), knownvalue.Bool(false)),
				},
				Check: checkTables(e, "gamma", "notes_note"),
			},
			{
				Config:      cfg("1.0.0", "blue", "purge_on_destroy = true"),
				ExpectError: regexp.MustCompile(`(?s)Downgrade refused.*1\.1\.0`),
			},
			{
				ResourceName:                         res,
				ImportState:                          true,
				ImportStateId:                        "gamma/notes",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				// config is read back from the tenant database; planned_action is "none" after a refresh.
				ImportStateVerifyIgnore: []string{"path", "config_overrides", "seeded_records", "planned_action",
					"planned_statements", "changes", "change_summary", "has_breaking_changes", "purge_on_destroy"},
			},
			{
				// Uninstall with purge_on_destroy: the app's table is dropped.
				Config: e.config(disposableTenant("gamma", "org-3")),
				Check:  checkNoTables(e, "gamma", "notes_note"),
			},
		},
	})
}

// TestAccAppImportShowsReinstall is issue 15 item 9: an app installed outside Terraform (`objectstack app
// install`, default configuration) is imported into a configuration whose config_overrides differ. The first
// plan used to show only config_overrides being set, like a state-only update, and the apply reinstalled the
// app. Now the import recovers the installed `config`, and the plan shows it changing together with
// planned_action = "reinstall".
func TestAccAppImportShowsReinstall(t *testing.T) { backends(t, testAccAppImportShowsReinstall) }

func testAccAppImportShowsReinstall(t *testing.T, e *env) {
	const res = "objectstack_app_install.notes"
	tenantOnly := e.config(disposableTenant("imported", "org-9"))
	withApp := tenantOnly + fmt.Sprintf(`
resource "objectstack_app_install" "notes" {
  tenant_id        = objectstack_tenant.imported.id
  path             = %q
  config_overrides = { default_color = "blue" }
}
`, testdata(t, "apps/notes-1.0.0"))
	color := func(c string) knownvalue.Check {
		return knownvalue.MapExact(map[string]knownvalue.Check{"default_color": knownvalue.StringExact(c)})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "imported"),
		Steps: []resource.TestStep{
			{Config: tenantOnly},
			{
				// Installed by hand with the manifest's default configuration (default_color = yellow), then
				// imported into a configuration that asks for blue.
				PreConfig: func() {
					ctx := context.Background()
					app, _, err := apps.Load(testdata(t, "apps/notes-1.0.0"))
					if err != nil {
						t.Fatal(err)
					}
					db, err := e.client.Tenants.DB(ctx, "imported")
					if err != nil {
						t.Fatal(err)
					}
					if _, err := apps.Install(ctx, db, app, apps.InstallOptions{Source: "cli"}); err != nil {
						t.Fatalf("install outside Terraform: %v", err)
					}
				},
				Config:             withApp,
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      "imported/notes",
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					for _, st := range states { // the state of every resource, the tenant's too
						if st.ID == "imported/notes" {
							if got := st.Attributes["config.default_color"]; got != "yellow" {
								return fmt.Errorf("import did not recover the installed configuration: default_color = %q", got)
							}
							return nil
						}
					}
					return fmt.Errorf("imported/notes not imported")
				},
			},
			{
				// The plan shows the real change: the configuration yellow -> blue and a reinstall.
				Config: withApp,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					expectRefreshed(res, tfjsonpath.New("config"), color("yellow")),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("config"), color("blue")),
					expectRefreshed(res, tfjsonpath.New("planned_action"), knownvalue.StringExact("none")),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("planned_action"), knownvalue.StringExact("reinstall")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("config"), color("blue")),
				},
				Check: func(*terraform.State) error {
					db, err := e.client.Tenants.DB(context.Background(), "imported")
					if err != nil {
						return err
					}
					inst, ok, err := apps.IsInstalled(context.Background(), db, "notes")
					if err != nil || !ok {
						return fmt.Errorf("notes not installed after apply: %v", err)
					}
					if inst.Config["default_color"] != "blue" {
						return fmt.Errorf("installed configuration %v, want default_color = blue", inst.Config)
					}
					return nil
				},
			},
		},
	})
}
