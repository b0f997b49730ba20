package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ datasource.DataSourceWithConfigure = (*groupDataSource)(nil)

// NewGroupDataSource is the objectstack_group data source.
func NewGroupDataSource() datasource.DataSource { return &groupDataSource{} }

type groupDataSource struct{ client *provider.Client }

type groupDataModel struct {
	ID               types.String `tfsdk:"id"`
	Name             types.String `tfsdk:"name"`
	Location         types.String `tfsdk:"location"`
	Locations        types.Set    `tfsdk:"locations"`
	DeleteProtection types.Bool   `tfsdk:"delete_protection"`
	UUID             types.String `tfsdk:"uuid"`
	Databases        types.List   `tfsdk:"databases"`
}

func (d *groupDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_group"
}

func (d *groupDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a database group (`default` always exists): its locations, delete protection and the " +
			"databases in it.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "Group name.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(groupNameRE, groupNameRule)},
			},
			"id":                schema.StringAttribute{Computed: true, MarkdownDescription: "The group name."},
			"location":          schema.StringAttribute{Computed: true, MarkdownDescription: "Primary location."},
			"locations":         schema.SetAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Extra (replica) locations."},
			"delete_protection": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether destroying the group is refused."},
			"uuid":              schema.StringAttribute{Computed: true, MarkdownDescription: "The group's id on the platform."},
			"databases":         schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Names of the databases in the group, sorted."},
		},
	}
}

func (d *groupDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *groupDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m groupDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := d.client.Tenants.Platform()
	g, err := platform.GroupsOf(p)
	if err != nil {
		resp.Diagnostics.AddError("Groups are not available", err.Error())
		return
	}
	name := m.Name.ValueString()
	cur, err := g.GetGroup(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read group", fmt.Sprintf("group %s: %v", name, err))
		return
	}
	dbs, err := p.ListDatabases(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list the group's databases", fmt.Sprintf("group %s: %v", name, err))
		return
	}
	var gm groupModel
	gm.fill(cur)
	names := make([]string, 0, len(dbs))
	for _, db := range dbs {
		names = append(names, db.Name)
	}
	list, diags := types.ListValueFrom(ctx, types.StringType, names)
	resp.Diagnostics.Append(diags...)
	m = groupDataModel{ID: gm.ID, Name: gm.Name, Location: gm.Location, Locations: gm.Locations, DeleteProtection: gm.DeleteProtection, UUID: gm.UUID, Databases: list}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
