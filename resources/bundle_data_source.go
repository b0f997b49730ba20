package resources

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ datasource.DataSourceWithConfigure = (*bundleDataSource)(nil)

// NewBundleDataSource is the objectstack_bundle data source.
func NewBundleDataSource() datasource.DataSource { return &bundleDataSource{} }

type bundleDataSource struct{ client *provider.Client }

type bundleDataModel struct {
	Path     types.String `tfsdk:"path"`
	Name     types.String `tfsdk:"name"`
	Version  types.String `tfsdk:"version"`
	Checksum types.String `tfsdk:"checksum"`
	Objects  types.List   `tfsdk:"objects"`
	Warnings types.List   `tfsdk:"warnings"`
}

var bundleObjectType = map[string]attr.Type{
	"name": types.StringType, "label": types.StringType, "table": types.StringType,
	"fields": types.ListType{ElemType: types.StringType},
}

func (d *bundleDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bundle"
}

func (d *bundleDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Loads and validates a bundle folder without touching any database. An invalid bundle fails " +
			"with one error per problem, each naming the file and line, the path inside it (for example " +
			"`objects.crm_account.fields.status.options[2].value`) and the rule broken. Useful as a pre-flight check or " +
			"to read a bundle's version and checksum.",
		Attributes: map[string]schema.Attribute{
			"path": schema.StringAttribute{
				MarkdownDescription: "Folder of the bundle (`bundle.yaml` + `objects/*.yaml`), relative to the working directory.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"name":     schema.StringAttribute{Computed: true, MarkdownDescription: "Bundle name from `bundle.yaml`."},
			"version":  schema.StringAttribute{Computed: true, MarkdownDescription: "Bundle version from `bundle.yaml`."},
			"checksum": schema.StringAttribute{Computed: true, MarkdownDescription: "Canonical SHA-256 of the bundle's contents, independent of formatting and key order."},
			"objects": schema.ListNestedAttribute{
				MarkdownDescription: "The bundle's objects in declaration order.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":   schema.StringAttribute{Computed: true, MarkdownDescription: "Object name."},
					"label":  schema.StringAttribute{Computed: true, MarkdownDescription: "Display label."},
					"table":  schema.StringAttribute{Computed: true, MarkdownDescription: "SQL table name."},
					"fields": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Field keys in declaration order."},
				}},
			},
			"warnings": schema.ListAttribute{
				MarkdownDescription: "Validation warnings (`file:line: path: message`); they do not fail the read.",
				Computed:            true, ElementType: types.StringType,
			},
		},
	}
}

func (d *bundleDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *bundleDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m bundleDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dir := m.Path.ValueString()
	b, res, err := d.client.Bundle(dir)
	if err != nil && len(res.Issues) == 0 {
		resp.Diagnostics.AddAttributeError(pathRoot("path"), "Cannot read bundle", err.Error())
		return
	}
	var warnings []string
	for _, is := range res.Issues {
		if is.Severity == bundle.SeverityWarning {
			warnings = append(warnings, issueLine(dir, is))
		}
	}
	for _, dg := range validationDiagnostics("bundle", dir, res) {
		if dg.Severity().String() == "Error" {
			resp.Diagnostics.Append(dg)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	m.Name = types.StringValue(b.Manifest.Name)
	m.Version = types.StringValue(b.Manifest.Version)
	m.Checksum = types.StringValue(b.Checksum)
	objs := make([]attr.Value, len(b.Objects))
	for i := range b.Objects {
		o := &b.Objects[i]
		keys := make([]string, len(o.Fields))
		for j, f := range o.Fields {
			keys[j] = f.Key
		}
		objs[i] = types.ObjectValueMust(bundleObjectType, map[string]attr.Value{
			"name": types.StringValue(o.Name), "label": types.StringValue(o.Label), "table": types.StringValue(o.Table()),
			"fields": stringList(keys),
		})
	}
	m.Objects = types.ListValueMust(types.ObjectType{AttrTypes: bundleObjectType}, objs)
	m.Warnings = stringList(warnings)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
