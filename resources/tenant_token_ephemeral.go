package resources

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var _ ephemeral.EphemeralResourceWithConfigure = (*tenantTokenEphemeral)(nil)

// NewTenantTokenEphemeralResource is the objectstack_tenant_token ephemeral resource.
func NewTenantTokenEphemeralResource() ephemeral.EphemeralResource { return &tenantTokenEphemeral{} }

type tenantTokenEphemeral struct{ client *provider.Client }

type tenantTokenModel struct {
	TenantID    types.String `tfsdk:"tenant_id"`
	Scope       types.String `tfsdk:"scope"`
	Expiration  types.String `tfsdk:"expiration"`
	Token       types.String `tfsdk:"token"`
	DatabaseURL types.String `tfsdk:"database_url"`
	ExpiresAt   types.String `tfsdk:"expires_at"`
}

// DefaultTokenExpiration keeps tokens minted for a single run short-lived.
const DefaultTokenExpiration = "1h"

var expirationRE = regexp.MustCompile(`^(never|([0-9]+[wdhms])+)$`)

func (e *tenantTokenEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant_token"
}

func (e *tenantTokenEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Mints a short-lived database token for a tenant, for example to hand to an application " +
			"through a write-only argument or a provider configuration. The token is never written to the state or " +
			"plan files.\n\n" +
			"Opening the resource only mints a new token: it never rotates or revokes existing tokens, so running " +
			"`plan` (which opens ephemeral resources too) cannot break clients using earlier tokens. Tokens expire on " +
			"their own after `expiration`; with the `local` backend databases are files and the token is empty.\n\n" +
			"The tenant must exist when the resource is opened, and OpenTofu/Terraform open it during `plan` too: " +
			"create a new tenant in an earlier apply (or with `-target`) before minting tokens for it.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": schema.StringAttribute{
				MarkdownDescription: "Tenant whose database the token opens.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(tenantIDRE, tenantIDRule)},
			},
			"scope":      tokenScopeAttribute(" Suspended tenants only get `read-only` tokens."),
			"expiration": tokenExpirationAttribute(),
			"token": schema.StringAttribute{
				MarkdownDescription: "The database token (a JWT). Secret.",
				Computed:            true,
				Sensitive:           true,
			},
			"database_url": schema.StringAttribute{
				MarkdownDescription: "URL of the tenant's database to use the token with.",
				Computed:            true,
			},
			"expires_at": schema.StringAttribute{
				MarkdownDescription: "When the token expires (RFC 3339, UTC); empty when it does not.",
				Computed:            true,
			},
		},
	}
}

func (e *tenantTokenEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// Open mints a token. It deliberately has no Close/Renew that revokes: Turso can only revoke every
// token of a database at once, which would cut off every other client.
func (e *tenantTokenEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m tenantTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	exp := tokenExpiration(m.Expiration)
	id := m.TenantID.ValueString()
	t, err := e.client.Tenants.Get(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot mint token", fmt.Sprintf("tenant %s: %v", id, err))
		return
	}
	tok, err := e.client.Tenants.Token(ctx, id, platform.TokenScope(m.Scope.ValueString()), exp)
	if err != nil {
		resp.Diagnostics.AddError("Cannot mint token", fmt.Sprintf("tenant %s: %v", id, err))
		return
	}
	m.Expiration = types.StringValue(exp)
	m.Token = types.StringValue(tok.JWT)
	m.DatabaseURL = types.StringValue(t.DatabaseURL)
	m.ExpiresAt = tokenExpiresAt(tok)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

// The attributes and values both token ephemeral resources (tenant and group) share.

func tokenScopeAttribute(more string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "`full-access` or `read-only`." + more,
		Required:            true,
		Validators:          []validator.String{stringvalidator.OneOf(string(platform.ScopeFullAccess), string(platform.ScopeReadOnly))},
	}
}

func tokenExpirationAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Lifetime in Turso's form: unit groups such as `30m`, `12h`, `7d`, `2w1d`, or `never`. " +
			"Default: `" + DefaultTokenExpiration + "`.",
		Optional: true,
		Validators: []validator.String{stringvalidator.RegexMatches(expirationRE,
			"must be unit groups like 30m, 12h, 7d, 2w1d (units w, d, h, m, s) or never")},
	}
}

// tokenExpiration is the configured lifetime, or DefaultTokenExpiration when none is set.
func tokenExpiration(v types.String) string {
	if v.IsNull() {
		return DefaultTokenExpiration
	}
	return v.ValueString()
}

// tokenExpiresAt is expires_at: RFC 3339 in UTC, empty for a token that does not expire.
func tokenExpiresAt(tok platform.Token) types.String {
	if tok.Expiration == nil {
		return types.StringValue("")
	}
	return types.StringValue(tok.Expiration.UTC().Format(time.RFC3339))
}
