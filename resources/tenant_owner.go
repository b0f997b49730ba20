package resources

// What objectstack_deploy_bundle and objectstack_app_install share as resources that own objects
// inside one tenant database: opening that database, their Create/Update/ModifyPlan/ImportState
// plumbing and what refresh learns about an owner.

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

// openTenant opens the database of the tenant a bundle or app lives in. A tenant that does not exist
// or is being destroyed is not an error here: gone is true and nothing is added to diags, because
// each caller treats it its own way (forget the resource, nothing left to delete, migration unknown
// until apply). Any other failure is added to diags and db is nil.
func openTenant(ctx context.Context, c *provider.Client, tenantID string, diags *diag.Diagnostics) (t *tenant.Tenant, db *sql.DB, gone bool) {
	t, db, err := c.TenantDB(ctx, tenantID)
	if errors.Is(err, provider.ErrTenantNotFound) {
		return t, nil, true
	}
	if err != nil {
		diags.AddError("Cannot open tenant database", err.Error())
		return nil, nil, false
	}
	return t, db, false
}

// plannedAndPrior decodes ModifyPlan's proposed state and the prior state (nil when the resource is
// being created); ok is false when either could not be decoded.
func plannedAndPrior[M any](ctx context.Context, req resource.ModifyPlanRequest, diags *diag.Diagnostics) (plan M, state *M, ok bool) {
	diags.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		state = new(M)
		diags.Append(req.State.Get(ctx, state)...)
	}
	return plan, state, !diags.HasError()
}

// createWith and updateWith are Create and Update of the bundle and app resources: apply re-plans
// the planned model against the database (prior is the state before an update, nil on create) and
// the result is stored only when nothing failed, so a failed apply leaves the last good state.
func createWith[M any](ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
	apply func(ctx context.Context, m, prior *M, diags *diag.Diagnostics)) {
	var m M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	apply(ctx, &m, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func updateWith[M any](ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
	apply func(ctx context.Context, m, prior *M, diags *diag.Diagnostics)) {
	var m, prior M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	apply(ctx, &m, &prior, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// addInTenantAttributes adds id, "<tenant_id>/<what>" as importInTenant takes it, and tenant_id:
// another tenant is another database, so changing it replaces the resource.
func addInTenantAttributes(attrs map[string]schema.Attribute, what, tenantIDDescription string) {
	attrs["id"] = schema.StringAttribute{
		MarkdownDescription: "`<tenant_id>/<" + what + ">`.",
		Computed:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["tenant_id"] = schema.StringAttribute{
		MarkdownDescription: tenantIDDescription,
		Required:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		Validators:          []validator.String{stringvalidator.RegexMatches(tenantIDRE, tenantIDRule)},
	}
}

// importInTenant imports a "<tenant_id>/<name>" id (what names the owner: "bundle name", "app name")
// into id, tenant_id and name; refresh reads the rest. It reports whether the id was valid.
func importInTenant(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, what string) bool {
	tenantID, name, err := splitImportID(req.ID, what)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return false
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant_id"), tenantID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	return true
}

// ownerState is what refresh learns about one owner in a tenant database.
type ownerState struct {
	checksum string
	objects  []bundle.Object
	drift    bool
}

// staleRetries bounds how often an apply re-reads a tenant whose database moved under it.
const staleRetries = 3

// applyInTenant runs once — one read and one batch of a bundle or app apply — holding the tenant's apply turn
// in this provider process, again while it reports a stale batch (another writer moved the database between
// its read and its batch) and retries are left; first is true on the first go, which may plan from what
// refresh or the plan step read moments ago. A successful apply makes every other read of the tenant stale.
func applyInTenant(c *provider.Client, tenantID string, diags *diag.Diagnostics, once func(d *diag.Diagnostics, first, retry bool) bool) {
	defer c.Plans.LockTenant(tenantID)()
	for attempt := 1; ; attempt++ {
		var d diag.Diagnostics
		if !once(&d, attempt == 1, attempt < staleRetries) {
			diags.Append(d...)
			if !d.HasError() {
				c.Plans.ForgetTenant(tenantID)
			}
			return
		}
	}
}
