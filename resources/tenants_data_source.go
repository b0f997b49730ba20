package resources

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ datasource.DataSourceWithConfigure = (*tenantsDataSource)(nil)

// NewTenantsDataSource is the objectstack_tenants data source.
func NewTenantsDataSource() datasource.DataSource { return &tenantsDataSource{} }

type tenantsDataSource struct{ client *provider.Client }

type tenantsModel struct {
	Labels  types.Map    `tfsdk:"labels"`
	Plan    types.String `tfsdk:"plan"`
	Region  types.String `tfsdk:"region"`
	Status  types.String `tfsdk:"status"`
	OrgID   types.String `tfsdk:"org_id"`
	IDs     types.List   `tfsdk:"ids"`
	Tenants types.List   `tfsdk:"tenants"`
}

func pathRoot(name string) path.Path { return path.Root(name) }

func (d *tenantsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenants"
}

func (d *tenantsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	nested := tenantDataAttributes()
	nested["id"] = schema.StringAttribute{Computed: true, MarkdownDescription: "Tenant id."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists tenants, optionally filtered by labels, plan, region, status and organization " +
			"(every given filter must match). Feed `ids` to `for_each` to deploy a bundle to every matching tenant. " +
			"Archived tenants are only listed when `status = \"archived\"` is asked for.",
		Attributes: map[string]schema.Attribute{
			"labels": schema.MapAttribute{
				MarkdownDescription: "Only tenants carrying every one of these labels with these values.",
				Optional:            true, ElementType: types.StringType,
			},
			"plan": schema.StringAttribute{
				MarkdownDescription: "Only tenants on this plan.",
				Optional:            true, Validators: []validator.String{stringvalidator.OneOf(tenantPlans...)},
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "Only tenants in this region.",
				Optional:            true, Validators: []validator.String{stringvalidator.OneOf(tenantRegions...)},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Only tenants with this status.",
				Optional:            true, Validators: []validator.String{stringvalidator.OneOf(tenantStates...)},
			},
			"org_id": schema.StringAttribute{
				MarkdownDescription: "Only tenants of this organization.",
				Optional:            true, Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"ids": schema.ListAttribute{
				MarkdownDescription: "Ids of the matching tenants, sorted.",
				Computed:            true, ElementType: types.StringType,
			},
			"tenants": schema.ListNestedAttribute{
				MarkdownDescription: "The matching tenants, sorted by id.",
				Computed:            true,
				NestedObject:        schema.NestedAttributeObject{Attributes: nested},
			},
		},
	}
}

func (d *tenantsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tenantsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	f := tenant.Filter{Plan: m.Plan.ValueString(), Region: m.Region.ValueString(), Status: m.Status.ValueString(), OrgID: m.OrgID.ValueString()}
	f.Labels = labelsFromModel(ctx, m.Labels, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	list, err := d.client.Tenants.List(ctx, f)
	if err != nil {
		resp.Diagnostics.AddError("List failed", fmt.Sprintf("list tenants: %v", err))
		return
	}
	objType := types.ObjectType{AttrTypes: tenantAttrTypes}
	ids := make([]string, 0, len(list))
	objs := make([]attr.Value, 0, len(list))
	for i := range list {
		t := &list[i]
		if f.Status == "" && t.Status == tenant.StatusArchived {
			continue
		}
		ids = append(ids, t.ID)
		objs = append(objs, types.ObjectValueMust(tenantAttrTypes, tenantValues(t)))
	}
	sortTenants(ids, objs)
	m.IDs = stringList(ids)
	m.Tenants = types.ListValueMust(objType, objs)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// sortTenants orders ids and their objects together by id.
func sortTenants(ids []string, objs []attr.Value) {
	sort.Sort(byID{ids, objs})
}

type byID struct {
	ids  []string
	objs []attr.Value
}

func (b byID) Len() int           { return len(b.ids) }
func (b byID) Less(i, j int) bool { return b.ids[i] < b.ids[j] }
func (b byID) Swap(i, j int) {
	b.ids[i], b.ids[j] = b.ids[j], b.ids[i]
	b.objs[i], b.objs[j] = b.objs[j], b.objs[i]
}
