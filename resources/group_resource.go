package resources

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var (
	_ resource.ResourceWithConfigure   = (*groupResource)(nil)
	_ resource.ResourceWithImportState = (*groupResource)(nil)
)

// NewGroupResource is the objectstack_group resource.
func NewGroupResource() resource.Resource { return &groupResource{} }

type groupResource struct{ client *provider.Client }

type groupModel struct {
	ID               types.String `tfsdk:"id"`
	Name             types.String `tfsdk:"name"`
	Location         types.String `tfsdk:"location"`
	Locations        types.Set    `tfsdk:"locations"`
	DeleteProtection types.Bool   `tfsdk:"delete_protection"`
	UUID             types.String `tfsdk:"uuid"`
}

var groupNameRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

const groupNameRule = "must be a group name: 1-64 lower-case letters, digits and dashes"

func (r *groupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_group"
}

func (r *groupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A database group: tenant databases that share a primary location, replica locations and " +
			"credentials (one group token opens every database of the group). With the `turso` backend it is a Turso " +
			"group (Platform API `/groups`); with `local` it is a folder under `data_dir/groups` recording the same " +
			"settings, so a configuration moves between backends unchanged.\n\n" +
			"Map tenant regions to groups with the provider's `region_groups`. A group that still has databases, or " +
			"whose `delete_protection` is on, is not destroyed: the error says which.\n\n" +
			"Import with the group name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The group name (for import and references).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Group name (1-64 lower-case letters, digits and dashes). Changing it replaces the group.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{stringvalidator.RegexMatches(groupNameRE, groupNameRule)},
			},
			"location": schema.StringAttribute{
				MarkdownDescription: "Primary location, e.g. `aws-eu-west-1` (see `objectstack group locations`). Changing it " +
					"replaces the group. Default: the platform's default location.",
				Optional:      true,
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIfConfigured(), stringplanmodifier.UseStateForUnknown()},
				Validators:    []validator.String{stringvalidator.LengthBetween(1, 64)},
			},
			"locations": schema.SetAttribute{
				MarkdownDescription: "Extra (replica) locations besides the primary one. Changed in place. Default: none.",
				Optional:            true,
				Computed:            true,
				ElementType:         types.StringType,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{})),
				Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthBetween(1, 64))},
			},
			"delete_protection": schema.BoolAttribute{
				MarkdownDescription: "While `true`, destroying the group fails. Default: `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"uuid": schema.StringAttribute{
				MarkdownDescription: "The group's id on the platform.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *groupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *groupResource) groups(diags *diag.Diagnostics) platform.Groups {
	g, err := platform.GroupsOf(r.client.Tenants.Platform())
	if err != nil {
		diags.AddError("Groups are not available", err.Error())
		return nil
	}
	return g
}

// fill copies the platform's group into the model: locations are the extra ones only.
func (m *groupModel) fill(g *platform.Group) {
	m.ID = types.StringValue(g.Name)
	m.Name = types.StringValue(g.Name)
	m.Location = types.StringValue(g.Primary)
	extra := []attr.Value{}
	for _, l := range g.Locations {
		if l != g.Primary {
			extra = append(extra, types.StringValue(l))
		}
	}
	m.Locations = types.SetValueMust(types.StringType, extra)
	m.DeleteProtection = types.BoolValue(g.DeleteProtection)
	m.UUID = types.StringValue(g.UUID)
}

func setStrings(ctx context.Context, s types.Set, diags *diag.Diagnostics) []string {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(s.ElementsAs(ctx, &out, false)...)
	slices.Sort(out)
	return out
}

// converge brings the group's extra locations and delete protection to the plan's.
func (r *groupResource) converge(ctx context.Context, g platform.Groups, cur *platform.Group, plan groupModel, diags *diag.Diagnostics) *platform.Group {
	name := plan.Name.ValueString()
	want := setStrings(ctx, plan.Locations, diags)
	if diags.HasError() {
		return nil
	}
	var err error
	for _, l := range want {
		if l != cur.Primary && !slices.Contains(cur.Locations, l) {
			if cur, err = g.AddLocation(ctx, name, l); err != nil {
				diags.AddAttributeError(path.Root("locations"), "Cannot add location", fmt.Sprintf("group %s: %v", name, err))
				return nil
			}
		}
	}
	for _, l := range slices.Clone(cur.Locations) {
		if l != cur.Primary && !slices.Contains(want, l) {
			if cur, err = g.RemoveLocation(ctx, name, l); err != nil {
				diags.AddAttributeError(path.Root("locations"), "Cannot remove location", fmt.Sprintf("group %s: %v", name, err))
				return nil
			}
		}
	}
	if !plan.DeleteProtection.IsUnknown() && plan.DeleteProtection.ValueBool() != cur.DeleteProtection {
		dp := plan.DeleteProtection.ValueBool()
		if cur, err = g.ConfigureGroup(ctx, name, platform.GroupConfiguration{DeleteProtection: &dp}); err != nil {
			diags.AddAttributeError(path.Root("delete_protection"), "Cannot set delete_protection", fmt.Sprintf("group %s: %v", name, err))
			return nil
		}
	}
	return cur
}

func (r *groupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	g := r.groups(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.Name.ValueString()
	loc := ""
	if !m.Location.IsNull() && !m.Location.IsUnknown() {
		loc = m.Location.ValueString()
	}
	cur, err := g.CreateGroup(ctx, platform.GroupOptions{Name: name, Location: loc})
	if errors.Is(err, platform.ErrGroupExists) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Group already exists",
			fmt.Sprintf("group %s already exists; import it (terraform import <address> %s) instead of creating it", name, name))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create group", err.Error())
		return
	}
	// Save what exists before converging, so a failed location change leaves a tracked group.
	m.fill(cur)
	if cur = r.converge(ctx, g, cur, m, &resp.Diagnostics); cur == nil {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		return
	}
	m.fill(cur)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *groupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	g := r.groups(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	cur, err := g.GetGroup(ctx, m.Name.ValueString())
	if errors.Is(err, platform.ErrGroupNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read group", err.Error())
		return
	}
	m.fill(cur)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *groupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan groupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	g := r.groups(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	cur, err := g.GetGroup(ctx, plan.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read group", err.Error())
		return
	}
	if cur = r.converge(ctx, g, cur, plan, &resp.Diagnostics); cur == nil {
		return
	}
	plan.fill(cur)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *groupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m groupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	g := r.groups(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.Name.ValueString()
	err := g.DeleteGroup(ctx, name)
	switch {
	case err == nil:
	case errors.Is(err, platform.ErrDeleteProtected):
		resp.Diagnostics.AddAttributeError(path.Root("delete_protection"), "Group is protected",
			fmt.Sprintf("group %s has delete_protection enabled: set delete_protection = false and apply before destroying it (%v)", name, err))
	case errors.Is(err, platform.ErrGroupNotEmpty):
		resp.Diagnostics.AddError("Group still has databases",
			fmt.Sprintf("group %s still has tenant databases: destroy or move its tenants first (%v)", name, err))
	default:
		resp.Diagnostics.AddError("Cannot delete group", err.Error())
	}
}

func (r *groupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !groupNameRE.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("group name %q %s", req.ID, groupNameRule))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
