package resources

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ ephemeral.EphemeralResourceWithConfigure = (*groupTokenEphemeral)(nil)

// NewGroupTokenEphemeralResource is the objectstack_group_token ephemeral resource.
func NewGroupTokenEphemeralResource() ephemeral.EphemeralResource { return &groupTokenEphemeral{} }

type groupTokenEphemeral struct{ client *provider.Client }

type groupTokenModel struct {
	Group      types.String `tfsdk:"group"`
	Scope      types.String `tfsdk:"scope"`
	Expiration types.String `tfsdk:"expiration"`
	Token      types.String `tfsdk:"token"`
	ExpiresAt  types.String `tfsdk:"expires_at"`
}

func (e *groupTokenEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_group_token"
}

func (e *groupTokenEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Mints a group token (the protocol's `groupAuthToken`): one token that opens every tenant " +
			"database of the group and nothing outside it. Never written to state or plan files.\n\n" +
			"Opening only mints; it never rotates. Mind the blast radius: rotating the group's credentials — which " +
			"suspending a tenant of the group does, since its databases share signing keys — ends every group token of " +
			"the group, for every tenant in it (the plan of such a suspend lists them). With the `local` backend the " +
			"token is empty.",
		Attributes: map[string]schema.Attribute{
			"group": schema.StringAttribute{
				MarkdownDescription: "Group whose databases the token opens.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(groupNameRE, groupNameRule)},
			},
			"scope":      tokenScopeAttribute(""),
			"expiration": tokenExpirationAttribute(),
			"token":      schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "The group token (a JWT). Secret."},
			"expires_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When the token expires (RFC 3339, UTC); empty when it does not."},
		},
	}
}

func (e *groupTokenEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (e *groupTokenEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m groupTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	g, err := platform.GroupsOf(e.client.Tenants.Platform())
	if err != nil {
		resp.Diagnostics.AddError("Groups are not available", err.Error())
		return
	}
	exp := tokenExpiration(m.Expiration)
	name := m.Group.ValueString()
	tok, err := g.CreateGroupToken(ctx, name, platform.TokenOptions{Scope: platform.TokenScope(m.Scope.ValueString()), Expiration: exp})
	if err != nil {
		resp.Diagnostics.AddError("Cannot mint group token", fmt.Sprintf("group %s: %v", name, err))
		return
	}
	m.Expiration = types.StringValue(exp)
	m.Token = types.StringValue(tok.JWT)
	m.ExpiresAt = tokenExpiresAt(tok)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
