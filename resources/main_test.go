package resources_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/acctest"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
	"github.com/objectstack-ai/terraform-provider-objectstack/resources"
)

// TestMain finds or builds OpenTofu and points terraform-plugin-testing at it (see internal/acctest).
func TestMain(m *testing.M) { acctest.Main(m) }

// factories runs the provider in-process; OpenTofu reattaches to it for every command.
var factories = map[string]func() (tfprotov6.ProviderServer, error){
	"objectstack": providerserver.NewProtocol6WithError(resources.Provider("test")()),
	"echo":        echoprovider.NewProviderServer(),
}

// env is one backend the acceptance tests run against: the provider block that selects it and a
// client on the same configuration, for checks and for changing a tenant database by hand.
type env struct {
	name     string
	provider string // the provider "objectstack" block
	client   *provider.Client
}

// config wraps body with the required_providers block and the env's provider block.
func (e *env) config(body string) string {
	return `terraform {
  required_providers {
    objectstack = { source = "objectstack-ai/objectstack" }
    echo        = { source = "objectstack-ai/echo" }
  }
}

` + e.provider + "\n" + body
}

// disposableTenant is the HCL of a tenant a test creates and throws away (resource label = id):
// destroyed at once and without a backup, so CheckDestroy finds it gone and no backup is written.
func disposableTenant(id, orgID string) string {
	return fmt.Sprintf(`
resource "objectstack_tenant" %q {
  id         = %q
  org_id     = %q
  on_destroy = { immediate = true, create_backup = false }
}
`, id, id, orgID)
}

func newEnv(t *testing.T, settings provider.Settings, block string) *env {
	t.Helper()
	c, err := provider.SharedClient(context.Background(), settings)
	if err != nil {
		t.Fatalf("open client: %v", err)
	}
	return &env{name: settings.Backend, provider: block, client: c}
}

func localEnv(t *testing.T) *env {
	dir := t.TempDir()
	return newEnv(t, provider.Settings{Backend: "local", DataDir: dir, APIURL: provider.DefaultAPIURL, Group: "default", MaxRetries: 3},
		fmt.Sprintf("provider \"objectstack\" {\n  data_dir = %q\n}\n", dir))
}

// tursoEnv starts `objectstack dev` in-process on 127.0.0.1 and configures the turso backend against it.
func tursoEnv(t *testing.T) *env {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: "test-api-token"})
	if err != nil {
		cancel()
		t.Fatalf("start dev server: %v", err)
	}
	t.Cleanup(func() { srv.Stop(); cancel() })
	dir := t.TempDir()
	s := provider.Settings{Backend: "turso", DataDir: dir, APIURL: srv.URL, Organization: "acme-org",
		APIToken: "test-api-token", Group: "default", MaxRetries: 3}
	block := fmt.Sprintf(`provider "objectstack" {
  backend      = "turso"
  data_dir     = %q
  api_url      = %q
  organization = "acme-org"
  api_token    = "test-api-token"
}
`, dir, srv.URL)
	return newEnv(t, s, block)
}

// backends runs f once per backend, as parallel subtests (two OpenTofu pipelines fit two cores). The second
// run on HashiCorp Terraform (TestAccOnTerraform) uses the local backend only: what it checks is how the CLI
// drives the provider, which does not depend on the backend, and it keeps that run to about half the time.
func backends(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("local", func(t *testing.T) { t.Parallel(); f(t, localEnv(t)) })
	t.Run("turso", func(t *testing.T) {
		if os.Getenv(onTerraformEnv) != "" {
			t.Skip("the run on Terraform covers the local backend; turso ran on OpenTofu")
		}
		t.Parallel()
		f(t, tursoEnv(t))
	})
}

func testdata(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
