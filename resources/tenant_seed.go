package resources

import (
	"context"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The seed block of objectstack_tenant: provision the tenant as a copy of a template database.

// databaseNameRE is the platform's database-name rule (platform.ValidateName), checked at plan time.
var databaseNameRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

type tenantSeedModel struct {
	Database types.String `tfsdk:"database"`
}

// seedDatabase is the template to copy, "" without a seed block.
func (m *tenantSeedModel) seedDatabase() string {
	if m == nil || m.Database.IsNull() || m.Database.IsUnknown() {
		return ""
	}
	return m.Database.ValueString()
}

func tenantSeedBlock() schema.Block {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Provision the tenant as a copy of a template database instead of creating it empty " +
			"(Turso's seed type `database`; a file copy with the `local` backend and `objectstack dev`). A template holds a " +
			"bundle's schema and seed data already — create one with `objectstack tenant create-template <name> " +
			"--bundle <dir>` — so provisioning copies instead of running DDL; the `objectstack_deploy_bundle` of " +
			"the same bundle then finds nothing to change (its plan is empty) and records the deployment. Only " +
			"read when the tenant is created: changing or removing it later changes nothing.",
		Validators: []validator.Object{seedNeedsDatabase{}},
		Attributes: map[string]schema.Attribute{
			"database": schema.StringAttribute{
				MarkdownDescription: "Name of the template database to copy, e.g. `tmpl-crm-v1`.",
				Optional:            true,
				Validators: []validator.String{
					stringvalidator.RegexMatches(databaseNameRE, "must be a database name: lowercase letters, digits and dashes, at most 64 characters"),
				},
			},
		},
	}
}

// seedNeedsDatabase makes database required inside a seed block. (Marking the attribute Required
// would make it required without the block too: a single nested block is never absent to the
// framework, only null.)
type seedNeedsDatabase struct{}

func (seedNeedsDatabase) Description(context.Context) string {
	return "a seed block must set database"
}

func (v seedNeedsDatabase) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (seedNeedsDatabase) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var db attr.Value = req.ConfigValue.Attributes()["database"]
	if db == nil || db.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("seed").AtName("database"), "Missing template database",
			"seed: database is required: the name of the template database to copy, e.g. \"tmpl-crm-v1\"")
	}
}
