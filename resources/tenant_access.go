package resources

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// This file holds the tenant resource's protection and access settings (delete_protection,
// block_reads, block_writes, size_limit — the Platform API's database configuration), its group,
// and the plan-time report of what suspending a tenant in a shared group does to the others.
//
// The settings are optional and unmanaged while null: a tenant that sets none of them is read
// without a Platform API call, which keeps refresh within its request budget.

var _ resource.ResourceWithConfigValidators = (*tenantResource)(nil)

func tenantAccessAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"delete_protection": schema.BoolAttribute{
			MarkdownDescription: "While `true`, destroying the tenant fails (naming this setting) and the platform refuses " +
				"to delete its database. Set it to `false` and apply before destroying. Omit to leave it unmanaged.",
			Optional: true,
		},
		"block_reads": schema.BoolAttribute{
			MarkdownDescription: "Refuse every read (and write) of the tenant's database. Omit to leave it unmanaged.",
			Optional:            true,
		},
		"block_writes": schema.BoolAttribute{
			MarkdownDescription: "Refuse every write to the tenant's database. A suspended tenant always has writes blocked; " +
				"`false` is refused while it is suspended, and resuming keeps writes blocked that were blocked before (or set " +
				"while) it was suspended. Omit to leave it unmanaged.",
			Optional: true,
		},
		"size_limit": schema.Int64Attribute{
			MarkdownDescription: "Maximum database size in bytes (the platform's `size_limit`); writes beyond it fail. `0` " +
				"lifts the limit. Conflicts with `quotas.max_storage_bytes`, which sets the same limit. Omit to leave it unmanaged.",
			Optional:   true,
			Validators: []validator.Int64{int64validator.AtLeast(0)},
		},
		"group": schema.StringAttribute{
			MarkdownDescription: "Database group the tenant's database is in: the provider's `region_groups` entry for " +
				"`region`, else the provider's `group`.",
			Computed: true,
		},
	}
}

// ConfigValidators: size_limit and quotas.max_storage_bytes both set the platform's size limit.
func (r *tenantResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.Conflicting(path.MatchRoot("size_limit"), path.MatchRoot("quotas").AtName("max_storage_bytes")),
	}
}

func boolPtr(v types.Bool) *bool {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func int64Ptr(v types.Int64) *int64 {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	n := v.ValueInt64()
	return &n
}

// accessChange is what plan sets differently from prior (nil prior: everything plan sets).
func accessChange(plan, prior *tenantModel) tenant.Access {
	var a tenant.Access
	changed := func(p, s types.Bool) bool { return prior == nil || !p.Equal(s) }
	if changed(plan.DeleteProtection, priorBool(prior, func(m *tenantModel) types.Bool { return m.DeleteProtection })) {
		a.DeleteProtection = boolPtr(plan.DeleteProtection)
	}
	if changed(plan.BlockReads, priorBool(prior, func(m *tenantModel) types.Bool { return m.BlockReads })) {
		a.BlockReads = boolPtr(plan.BlockReads)
	}
	if changed(plan.BlockWrites, priorBool(prior, func(m *tenantModel) types.Bool { return m.BlockWrites })) {
		a.BlockWrites = boolPtr(plan.BlockWrites)
	}
	if prior == nil || !plan.SizeLimit.Equal(prior.SizeLimit) {
		a.SizeLimitBytes = int64Ptr(plan.SizeLimit)
	}
	return a
}

func priorBool(prior *tenantModel, get func(*tenantModel) types.Bool) types.Bool {
	if prior == nil {
		return types.BoolNull()
	}
	return get(prior)
}

// applyAccess pushes the changed settings to the platform.
func (r *tenantResource) applyAccess(ctx context.Context, id string, plan, prior *tenantModel, diags *diag.Diagnostics) {
	a := accessChange(plan, prior)
	if a.Empty() {
		return
	}
	if err := r.client.Tenants.SetAccess(ctx, id, a); err != nil {
		diags.AddError("Cannot change the tenant's database settings", fmt.Sprintf("tenant %s: %v", id, err))
	}
}

// readAccess refreshes the managed (non-null) settings from the platform; none managed, no call.
// block_writes is not refreshed while the tenant is suspended or destroying, when the lifecycle
// (not the configuration) holds writes blocked.
func (r *tenantResource) readAccess(ctx context.Context, m *tenantModel, status string, diags *diag.Diagnostics) {
	if m.DeleteProtection.IsNull() && m.BlockReads.IsNull() && m.BlockWrites.IsNull() && m.SizeLimit.IsNull() {
		return
	}
	c, err := r.client.Tenants.AccessOf(ctx, m.ID.ValueString())
	if err != nil {
		diags.AddError("Cannot read the tenant's database settings", err.Error())
		return
	}
	if !m.DeleteProtection.IsNull() {
		m.DeleteProtection = types.BoolValue(c.DeleteProtection)
	}
	if !m.BlockReads.IsNull() {
		m.BlockReads = types.BoolValue(c.BlockReads)
	}
	if !m.BlockWrites.IsNull() && status == tenant.StatusActive {
		m.BlockWrites = types.BoolValue(c.BlockWrites)
	}
	if !m.SizeLimit.IsNull() {
		m.SizeLimit = types.Int64Value(c.SizeLimitBytes)
	}
}

// planGroup shows at plan time which group the tenant's database goes in, from the static
// region → group map (no Platform API call), and warns when a suspend rotates credentials that
// other tenants of a shared group use.
func (r *tenantResource) planGroup(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var region, group types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("region"), &region)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("group"), &group)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !region.IsUnknown() && !region.IsNull() {
		want := r.client.Tenants.GroupFor(region.ValueString())
		if want == "" {
			want = r.client.Settings.Group
		}
		if req.State.Raw.IsNull() {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("group"), types.StringValue(want))...)
		}
	}
	if !req.State.Raw.IsNull() && group.IsUnknown() {
		// An in-place update never moves the database: the group stays what it is.
		var prior types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("group"), &prior)...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("group"), prior)...)
	}
	if req.State.Raw.IsNull() {
		return
	}
	var planSusp, stateSusp types.Bool
	var id types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("suspended"), &planSusp)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("suspended"), &stateSusp)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("id"), &id)...)
	if resp.Diagnostics.HasError() || !planSusp.ValueBool() || stateSusp.ValueBool() {
		return
	}
	g, others, err := r.client.Tenants.RotationImpact(ctx, id.ValueString())
	if err != nil || len(others) == 0 {
		return
	}
	resp.Diagnostics.AddAttributeWarning(path.Root("suspended"), "Suspending rotates credentials shared by other tenants",
		fmt.Sprintf("Suspending tenant %s rotates the credentials of its database group %s. The group's tokens (objectstack_group_token) "+
			"stop working for every tenant of the group, not only this one: %s. Mint new group tokens after the apply.",
			id.ValueString(), g, strings.Join(others, ", ")))
}

// withTenantAccess adds the protection and access attributes to the tenant schema's attributes.
func withTenantAccess(attrs map[string]schema.Attribute) map[string]schema.Attribute {
	for k, v := range tenantAccessAttributes() {
		attrs[k] = v
	}
	return attrs
}
