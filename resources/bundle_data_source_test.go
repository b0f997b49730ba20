package resources_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccBundleDataSource validates a good bundle (name, version, checksum, objects) and a broken
// one, whose error names the file, line, path and rule.
func TestAccBundleDataSource(t *testing.T) {
	e := localEnv(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{
			{
				Config: e.config(fmt.Sprintf(`
data "objectstack_bundle" "crm" {
  path = %q
}
`, testdata(t, "bundles/crm-v2"))),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.objectstack_bundle.crm", tfjsonpath.New("name"), knownvalue.StringExact("crm")),
					statecheck.ExpectKnownValue("data.objectstack_bundle.crm", tfjsonpath.New("version"), knownvalue.StringExact("1.1.0")),
					statecheck.ExpectKnownValue("data.objectstack_bundle.crm", tfjsonpath.New("checksum"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue("data.objectstack_bundle.crm", tfjsonpath.New("objects").AtSliceIndex(0).AtMapKey("fields"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("name"), knownvalue.StringExact("email"), knownvalue.StringExact("industry")})),
				},
			},
			{
				Config: e.config(fmt.Sprintf(`
data "objectstack_bundle" "broken" {
  path = %q
}
`, testdata(t, "bundles/invalid"))),
				ExpectError: regexp.MustCompile(`(?s)Invalid bundle`),
			},
		},
	})
}
