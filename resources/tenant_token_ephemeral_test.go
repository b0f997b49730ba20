package resources_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// TestAccTenantToken opens the ephemeral token (through the echo provider, which is the only way to
// observe an ephemeral value) and proves that plan/apply never rotate: a token minted before is still
// accepted afterwards (turso backend, where tokens are checked by the server).
func TestAccTenantToken(t *testing.T) { backends(t, testAccTenantToken) }

func testAccTenantToken(t *testing.T, e *env) {
	tenantCfg := disposableTenant("tok", "org-4")
	withToken := tenantCfg + `
ephemeral "objectstack_tenant_token" "ro" {
  tenant_id  = objectstack_tenant.tok.id
  scope      = "read-only"
  expiration = "30m"
}

provider "echo" {
  data = {
    url       = ephemeral.objectstack_tenant_token.ro.database_url
    has_token = ephemeral.objectstack_tenant_token.ro.token != ""
    expires   = ephemeral.objectstack_tenant_token.ro.expires_at != ""
  }
}

resource "echo" "token" {}
`
	var before string
	wantToken := e.name == "turso" // local databases are files: their tokens are empty
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkTenantsGone(e, "tok"),
		Steps: []resource.TestStep{
			{Config: e.config(tenantCfg)},
			{
				PreConfig: func() {
					tok, err := e.client.Tenants.Token(context.Background(), "tok", "read-only", "1h")
					if err != nil {
						t.Fatalf("mint a token before plan: %v", err)
					}
					before = tok.JWT
				},
				Config: e.config(withToken),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.token", tfjsonpath.New("data").AtMapKey("has_token"), knownvalue.Bool(wantToken)),
					statecheck.ExpectKnownValue("echo.token", tfjsonpath.New("data").AtMapKey("url"), knownvalue.NotNull()),
				},
				Check: func(*terraform.State) error {
					if !wantToken {
						return nil
					}
					// Plan and apply both opened the ephemeral resource; the earlier token must still work.
					tn, err := e.client.Tenants.Get(context.Background(), "tok")
					if err != nil {
						return err
					}
					db, err := database.Open(tn.DatabaseURL, before)
					if err != nil {
						return err
					}
					defer db.Close()
					var one int
					if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
						return fmt.Errorf("a token minted before plan stopped working (rotated?): %w", err)
					}
					return nil
				},
			},
		},
	})
}
