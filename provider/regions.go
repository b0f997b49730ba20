package provider

import (
	"context"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// regionGroupsAttribute is the provider's region → group map. It is static configuration on
// purpose: placing a tenant must not cost a Platform API call to look its group up.
func regionGroupsAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		MarkdownDescription: "Maps a tenant `region` to the database group its database is created in, e.g. " +
			"`{ \"eu-west\" = \"eu\" }`. Regions without an entry use `group`. The groups must exist (create them with " +
			"`objectstack_group`). Keys: " + strings.Join(tenant.Regions, ", ") + ". Changing a tenant's region " +
			"replaces the tenant, since its database cannot move between groups.",
		Optional:    true,
		ElementType: types.StringType,
		Validators: []validator.Map{
			mapvalidator.KeysAre(stringvalidator.OneOf(tenant.Regions...)),
			mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(slugRE, "must be a group name: lower-case letters, digits and dashes")),
		},
	}
}

func regionGroupsFrom(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	if m.IsNull() || m.IsUnknown() {
		return nil, nil
	}
	out := map[string]string{}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

// regionGroupsKey is the map in a stable form for the client cache key.
func regionGroupsKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + ";")
	}
	return b.String()
}
