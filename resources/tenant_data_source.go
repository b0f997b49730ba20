package resources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ datasource.DataSourceWithConfigure = (*tenantDataSource)(nil)

// NewTenantDataSource is the objectstack_tenant data source.
func NewTenantDataSource() datasource.DataSource { return &tenantDataSource{} }

type tenantDataSource struct{ client *provider.Client }

// tenantAttrTypes is the object type of one tenant in data sources.
var tenantAttrTypes = map[string]attr.Type{
	"id": types.StringType, "org_id": types.StringType, "display_name": types.StringType, "plan": types.StringType,
	"region": types.StringType, "labels": types.MapType{ElemType: types.StringType}, "status": types.StringType,
	"database_name": types.StringType, "database_url": types.StringType, "created_at": types.StringType,
}

// tenantDataAttributes describes a tenant read-only; id is added by the caller.
func tenantDataAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"org_id":        schema.StringAttribute{Computed: true, MarkdownDescription: "Organization that owns the tenant."},
		"display_name":  schema.StringAttribute{Computed: true, MarkdownDescription: "Human-readable name."},
		"plan":          schema.StringAttribute{Computed: true, MarkdownDescription: "`free`, `pro` or `enterprise`."},
		"region":        schema.StringAttribute{Computed: true, MarkdownDescription: "Region."},
		"labels":        schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Labels."},
		"status":        schema.StringAttribute{Computed: true, MarkdownDescription: "Lifecycle status."},
		"database_name": schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the tenant's database."},
		"database_url":  schema.StringAttribute{Computed: true, MarkdownDescription: "URL of the tenant's database (no credentials)."},
		"created_at":    schema.StringAttribute{Computed: true, MarkdownDescription: "When the tenant was registered (RFC 3339, UTC)."},
	}
}

func tenantValues(t *tenant.Tenant) map[string]attr.Value {
	labels := map[string]attr.Value{}
	for k, v := range t.Labels {
		labels[k] = types.StringValue(v)
	}
	created := ""
	if !t.CreatedAt.IsZero() {
		created = t.CreatedAt.UTC().Format(time.RFC3339)
	}
	return map[string]attr.Value{
		"id": types.StringValue(t.ID), "org_id": types.StringValue(t.OrgID), "display_name": types.StringValue(t.DisplayName),
		"plan": types.StringValue(t.Plan), "region": types.StringValue(t.Region),
		"labels": types.MapValueMust(types.StringType, labels), "status": types.StringValue(t.Status),
		"database_name": types.StringValue(t.DatabaseName), "database_url": types.StringValue(t.DatabaseURL),
		"created_at": types.StringValue(created),
	}
}

func (d *tenantDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (d *tenantDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := tenantDataAttributes()
	attrs["id"] = schema.StringAttribute{
		MarkdownDescription: "Tenant id.",
		Required:            true,
		Validators:          []validator.String{stringvalidator.RegexMatches(tenantIDRE, tenantIDRule)},
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one tenant from the tenant registry, for example one provisioned outside this " +
			"configuration. A tenant that does not exist is an error.",
		Attributes: attrs,
	}
}

func (d *tenantDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tenantDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var id types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, pathRoot("id"), &id)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := d.client.Tenants.Get(ctx, id.ValueString())
	if errors.Is(err, tenant.ErrNotFound) {
		resp.Diagnostics.AddError("Tenant not found", fmt.Sprintf("no tenant with id %q", id.ValueString()))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Read failed", fmt.Sprintf("read tenant %s: %v", id.ValueString(), err))
		return
	}
	obj, diags := types.ObjectValue(tenantAttrTypes, tenantValues(t))
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range obj.Attributes() {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, pathRoot(name), v)...)
	}
}
