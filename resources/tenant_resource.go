package resources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var (
	_ resource.ResourceWithConfigure   = (*tenantResource)(nil)
	_ resource.ResourceWithImportState = (*tenantResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*tenantResource)(nil)
)

// NewTenantResource is the objectstack_tenant resource.
func NewTenantResource() resource.Resource { return &tenantResource{} }

type tenantResource struct{ client *provider.Client }

type quotasModel struct {
	MaxUsers             types.Int64 `tfsdk:"max_users"`
	MaxStorageBytes      types.Int64 `tfsdk:"max_storage_bytes"`
	APIRateLimit         types.Int64 `tfsdk:"api_rate_limit"`
	MaxObjects           types.Int64 `tfsdk:"max_objects"`
	MaxRecordsPerObject  types.Int64 `tfsdk:"max_records_per_object"`
	MaxDeploymentsPerDay types.Int64 `tfsdk:"max_deployments_per_day"`
}

type onDestroyModel struct {
	Immediate        types.Bool  `tfsdk:"immediate"`
	GracePeriodHours types.Int64 `tfsdk:"grace_period_hours"`
	CreateBackup     types.Bool  `tfsdk:"create_backup"`
}

type tenantModel struct {
	ID           types.String    `tfsdk:"id"`
	OrgID        types.String    `tfsdk:"org_id"`
	DisplayName  types.String    `tfsdk:"display_name"`
	Plan         types.String    `tfsdk:"plan"`
	Region       types.String    `tfsdk:"region"`
	Labels       types.Map       `tfsdk:"labels"`
	Quotas       *quotasModel    `tfsdk:"quotas"`
	Suspended    types.Bool      `tfsdk:"suspended"`
	OnDestroy    *onDestroyModel `tfsdk:"on_destroy"`
	Status       types.String    `tfsdk:"status"`
	DatabaseName types.String    `tfsdk:"database_name"`
	DatabaseURL  types.String    `tfsdk:"database_url"`
	Steps        types.List      `tfsdk:"steps"`
	CreatedAt    types.String    `tfsdk:"created_at"`

	// Protection and access (tenant_access.go).
	DeleteProtection types.Bool   `tfsdk:"delete_protection"`
	BlockReads       types.Bool   `tfsdk:"block_reads"`
	BlockWrites      types.Bool   `tfsdk:"block_writes"`
	SizeLimit        types.Int64  `tfsdk:"size_limit"`
	Group            types.String `tfsdk:"group"`

	// Template the database is copied from at create time (tenant_seed.go).
	Seed *tenantSeedModel `tfsdk:"seed"`
}

var stepType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "status": types.StringType, "duration_ms": types.Int64Type, "error": types.StringType,
}}

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func quotaAttributes() map[string]schema.Attribute {
	q := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{
			MarkdownDescription: desc + " Omit for unlimited.",
			Optional:            true,
			Validators:          []validator.Int64{int64validator.AtLeast(1)},
		}
	}
	return map[string]schema.Attribute{
		"max_users":               q("Maximum number of users."),
		"max_storage_bytes":       q("Maximum database size in bytes: the database's size limit on the platform, so any write beyond it fails with a `quota_exceeded` error."),
		"api_rate_limit":          q("API requests per minute."),
		"max_objects":             q("Maximum number of objects (tables) across every bundle and app; checked at plan time for bundle deployments and app installs (and by `tenant create --bundle`, `apply --tenant` and the reconciler)."),
		"max_records_per_object":  q("Maximum records per object; checked against app seed data."),
		"max_deployments_per_day": q("Maximum schema deployments per UTC day (failed ones do not count); checked at plan time for bundle deployments and app installs, counting the tenant's deployment registry."),
	}
}

func (r *tenantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A tenant: an entry in the tenant registry plus its own database (a SQLite file with the " +
			"`local` backend, a Turso database with `turso`). Creating it runs the idempotent provisioning pipeline " +
			"(`create_database`, `create_token`, `register_tenant`, `activate`, ...), whose steps are reported in `steps`; " +
			"a run that was interrupted resumes on the next apply.\n\n" +
			"Changing `id`, `org_id` or `region` replaces the tenant (and its database). A tenant deleted or archived " +
			"outside Terraform is removed from state on the next refresh, so the plan recreates it.\n\n" +
			"Destroying follows `on_destroy`; by default (like the protocol's `onTenantDelete`) the database is kept for " +
			"a 72-hour grace period with a backup before it is deleted.\n\n" +
			"Import with the tenant id. Everything the tenant registry records is read back; `on_destroy` lives only in " +
			"Terraform state, so an import cannot recover it: until an apply records the configured value, a destroy " +
			"follows the default (grace period and backup).",
		Attributes: withTenantAccess(map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Tenant id: 2-41 characters, a lower-case letter followed by lower-case letters, digits " +
					"or dashes. It determines the database name, which makes provisioning idempotent.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.RegexMatches(tenantIDRE, tenantIDRule)},
			},
			"org_id": schema.StringAttribute{
				MarkdownDescription: "Organization that owns the tenant. Changing it replaces the tenant.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 200)},
			},
			"display_name": schema.StringAttribute{
				MarkdownDescription: "Human-readable name. Defaults to the tenant id.",
				Optional:            true,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 200)},
			},
			"plan": schema.StringAttribute{
				MarkdownDescription: "Subscription plan: `free`, `pro` or `enterprise`. Default: `free`. Can change in place.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("free"),
				Validators:          []validator.String{stringvalidator.OneOf(tenantPlans...)},
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "Region: `us-east`, `us-west`, `eu-west`, `eu-central`, `ap-southeast` or `ap-northeast`. " +
					"Default: `us-east`. Changing it replaces the tenant.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("us-east"),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf(tenantRegions...)},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form labels, used by `objectstack_tenants` filters and by GitOps targets. Keys: up " +
					"to 64 letters, digits, `_`, `.`, `-`, `/`, starting and ending with a letter or digit.",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.Map{
					mapvalidator.KeysAre(stringvalidator.RegexMatches(labelKeyRE, "must be a label key: up to 64 letters, digits, _ . - /, starting and ending with a letter or digit")),
					mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(256)),
				},
			},
			"quotas": schema.SingleNestedAttribute{
				MarkdownDescription: "Usage limits. Every limit is optional; a missing limit means unlimited.",
				Optional:            true,
				Attributes:          quotaAttributes(),
			},
			"suspended": schema.BoolAttribute{
				MarkdownDescription: "Suspend the tenant: its database becomes read-only and its tokens are revoked. Setting " +
					"it back to `false` resumes the tenant. Default: `false`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"on_destroy": schema.SingleNestedAttribute{
				MarkdownDescription: "What destroying the resource does to the tenant (the protocol's `onTenantDelete`). " +
					"Only read at destroy time; changing it never changes the tenant.",
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"immediate": schema.BoolAttribute{
						MarkdownDescription: "Delete the database now instead of after the grace period. Default: `false`.",
						Optional:            true,
					},
					"grace_period_hours": schema.Int64Attribute{
						MarkdownDescription: "Hours the database is kept (status `destroying`, writes blocked) before it is deleted. `0` deletes it at once, like `immediate`. Default: `72`.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.Between(0, 24*365)},
					},
					"create_backup": schema.BoolAttribute{
						MarkdownDescription: "Copy the database to a backup in the data folder before deleting it. Default: `true`.",
						Optional:            true,
					},
				},
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "Lifecycle status: `provisioning`, `active`, `suspended`, `failed`, `destroying` or `archived`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"database_name": schema.StringAttribute{
				MarkdownDescription: "Name of the tenant's database, derived from the tenant id.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"database_url": schema.StringAttribute{
				MarkdownDescription: "URL of the tenant's database (`libsql://...` for Turso, a file path locally). Holds no credentials; " +
					"use the `objectstack_tenant_token` ephemeral resource for a token.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the tenant was registered (RFC 3339, UTC).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"steps": schema.ListNestedAttribute{
				MarkdownDescription: "Provisioning steps of the last provisioning run, in order.",
				Computed:            true,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Step name, e.g. `create_database`."},
					"status":      schema.StringAttribute{Computed: true, MarkdownDescription: "`pending`, `running`, `completed`, `failed` or `skipped`."},
					"duration_ms": schema.Int64Attribute{Computed: true, MarkdownDescription: "How long the step took, in milliseconds."},
					"error":       schema.StringAttribute{Computed: true, MarkdownDescription: "Why the step failed, when it did."},
				}},
			},
		}),
		Blocks: map[string]schema.Block{"seed": tenantSeedBlock()},
	}
}

// ModifyPlan marks status unknown when suspended changes, since suspend/resume is what changes it,
// and plans the group (tenant_access.go).
func (r *tenantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	r.planGroup(ctx, req, resp)
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() {
		return
	}
	var plan, state types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("suspended"), &plan)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("suspended"), &state)...)
	if resp.Diagnostics.HasError() || plan.IsUnknown() || plan.Equal(state) {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
}

func (r *tenantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func quotasFromModel(m *quotasModel) tenant.Quotas {
	if m == nil {
		return tenant.Quotas{}
	}
	p := func(v types.Int64) *int64 {
		if v.IsNull() || v.IsUnknown() {
			return nil
		}
		x := v.ValueInt64()
		return &x
	}
	return tenant.Quotas{
		MaxUsers: p(m.MaxUsers), MaxStorageBytes: p(m.MaxStorageBytes), APIRateLimit: p(m.APIRateLimit),
		MaxObjects: p(m.MaxObjects), MaxRecordsPerObject: p(m.MaxRecordsPerObject), MaxDeploymentsPerDay: p(m.MaxDeploymentsPerDay),
	}
}

func quotasToModel(q tenant.Quotas, prior *quotasModel) *quotasModel {
	v := func(p *int64) types.Int64 {
		if p == nil {
			return types.Int64Null()
		}
		return types.Int64Value(*p)
	}
	m := &quotasModel{
		MaxUsers: v(q.MaxUsers), MaxStorageBytes: v(q.MaxStorageBytes), APIRateLimit: v(q.APIRateLimit),
		MaxObjects: v(q.MaxObjects), MaxRecordsPerObject: v(q.MaxRecordsPerObject), MaxDeploymentsPerDay: v(q.MaxDeploymentsPerDay),
	}
	if prior == nil && q == (tenant.Quotas{}) {
		return nil // an empty quotas object in state would show as a diff against an omitted block
	}
	return m
}

func labelsFromModel(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]string {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

func labelsToModel(l map[string]string, prior types.Map) types.Map {
	if len(l) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.MapNull(types.StringType)
	}
	els := map[string]attr.Value{}
	for k, v := range l {
		els[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, els)
}

// fill copies the service's view of a tenant into the model, keeping config-only values.
func (m *tenantModel) fill(t *tenant.Tenant) {
	m.ID = types.StringValue(t.ID)
	m.OrgID = types.StringValue(t.OrgID)
	m.DisplayName = types.StringValue(t.DisplayName)
	m.Plan = types.StringValue(t.Plan)
	m.Region = types.StringValue(t.Region)
	m.Labels = labelsToModel(t.Labels, m.Labels)
	m.Quotas = quotasToModel(t.Quotas, m.Quotas)
	m.Suspended = types.BoolValue(t.Status == "suspended")
	m.Status = types.StringValue(t.Status)
	m.DatabaseName = types.StringValue(t.DatabaseName)
	m.DatabaseURL = types.StringValue(t.DatabaseURL)
	m.Group = types.StringValue(t.Group)
	if t.CreatedAt.IsZero() {
		m.CreatedAt = types.StringValue("")
	} else {
		m.CreatedAt = types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339))
	}
	steps := make([]attr.Value, 0, len(t.Steps))
	for _, s := range t.Steps {
		steps = append(steps, types.ObjectValueMust(stepType.AttrTypes, map[string]attr.Value{
			"name": types.StringValue(s.Name), "status": types.StringValue(s.Status),
			"duration_ms": types.Int64PointerValue(s.DurationMs), "error": types.StringValue(s.Error),
		}))
	}
	m.Steps = types.ListValueMust(stepType, steps)
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := m.ID.ValueString()
	rq := tenant.Request{
		ID: id, OrgID: m.OrgID.ValueString(), DisplayName: m.DisplayName.ValueString(),
		Plan: m.Plan.ValueString(), Region: m.Region.ValueString(),
		Labels: labelsFromModel(ctx, m.Labels, &resp.Diagnostics), Quotas: quotasFromModel(m.Quotas),
		SeedDatabase: m.Seed.seedDatabase(),
	}
	if m.DisplayName.IsUnknown() || m.DisplayName.IsNull() {
		rq.DisplayName = id
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.client.Tenants.Provision(ctx, rq); err != nil {
		// No state is saved: a tainted resource would be destroyed and recreated, whereas Create again
		// resumes the idempotent pipeline where it stopped.
		resp.Diagnostics.AddError("Provisioning failed", fmt.Sprintf("provision tenant %s: %v\nRe-running apply resumes the provisioning where it stopped.", id, err))
		return
	}
	if m.Suspended.ValueBool() {
		if err := r.client.Tenants.Suspend(ctx, id); err != nil {
			resp.Diagnostics.AddError("Suspend failed", fmt.Sprintf("suspend tenant %s: %v", id, err))
		}
	}
	r.applyAccess(ctx, id, &m, nil, &resp.Diagnostics)
	t, err := r.client.Tenants.Get(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Read after provisioning failed", fmt.Sprintf("read tenant %s: %v", id, err))
		return
	}
	m.fill(t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := r.client.Tenants.Get(ctx, m.ID.ValueString())
	if errors.Is(err, tenant.ErrNotFound) || (err == nil && provider.Gone(t)) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Read failed", fmt.Sprintf("read tenant %s: %v", m.ID.ValueString(), err))
		return
	}
	m.fill(t)
	r.readAccess(ctx, &m, t.Status, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := plan.ID.ValueString()
	var u tenant.Update
	if !plan.DisplayName.IsUnknown() && !plan.DisplayName.Equal(state.DisplayName) {
		s := plan.DisplayName.ValueString()
		u.DisplayName = &s
	}
	if !plan.Plan.Equal(state.Plan) {
		s := plan.Plan.ValueString()
		u.Plan = &s
	}
	if !plan.Labels.Equal(state.Labels) {
		l := labelsFromModel(ctx, plan.Labels, &resp.Diagnostics)
		if l == nil {
			l = map[string]string{}
		}
		u.Labels = &l
	}
	if q, p := quotasFromModel(plan.Quotas), quotasFromModel(state.Quotas); !quotasEqual(q, p) {
		u.Quotas = &q
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if u.DisplayName != nil || u.Plan != nil || u.Labels != nil || u.Quotas != nil {
		if _, err := r.client.Tenants.Update(ctx, id, u); err != nil {
			resp.Diagnostics.AddError("Update failed", fmt.Sprintf("update tenant %s: %v", id, err))
			return
		}
	}
	if plan.Suspended.ValueBool() != state.Suspended.ValueBool() {
		var err error
		if plan.Suspended.ValueBool() {
			err = r.client.Tenants.Suspend(ctx, id)
		} else {
			err = r.client.Tenants.Resume(ctx, id)
		}
		if err != nil {
			resp.Diagnostics.AddError("Suspend/resume failed", fmt.Sprintf("tenant %s: %v", id, err))
			return
		}
	}
	r.applyAccess(ctx, id, &plan, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := r.client.Tenants.Get(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Read after update failed", fmt.Sprintf("read tenant %s: %v", id, err))
		return
	}
	plan.fill(t)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func quotasEqual(a, b tenant.Quotas) bool {
	eq := func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.MaxUsers, b.MaxUsers) && eq(a.MaxStorageBytes, b.MaxStorageBytes) && eq(a.APIRateLimit, b.APIRateLimit) &&
		eq(a.MaxObjects, b.MaxObjects) && eq(a.MaxRecordsPerObject, b.MaxRecordsPerObject) &&
		eq(a.MaxDeploymentsPerDay, b.MaxDeploymentsPerDay)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.DeleteProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("delete_protection"), "Tenant is protected",
			fmt.Sprintf("tenant %s has delete_protection = true: set delete_protection = false and apply before destroying it", m.ID.ValueString()))
		return
	}
	opts := tenant.DestroyOptions{GracePeriod: 72 * time.Hour, Backup: true}
	if d := m.OnDestroy; d != nil {
		if !d.Immediate.IsNull() {
			opts.Immediate = d.Immediate.ValueBool()
		}
		if !d.GracePeriodHours.IsNull() {
			opts.GracePeriod = time.Duration(d.GracePeriodHours.ValueInt64()) * time.Hour
			if opts.GracePeriod == 0 {
				opts.Immediate = true // the service reads a zero grace period as "the default"
			}
		}
		if !d.CreateBackup.IsNull() {
			opts.Backup = d.CreateBackup.ValueBool()
		}
	}
	err := r.client.Tenants.Destroy(ctx, m.ID.ValueString(), opts)
	if err != nil && !errors.Is(err, tenant.ErrNotFound) {
		resp.Diagnostics.AddError("Destroy failed", fmt.Sprintf("destroy tenant %s: %v", m.ID.ValueString(), err))
	}
}

func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !tenantIDRE.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("tenant id %q %s", req.ID, tenantIDRule))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("labels"), basetypes.NewMapNull(types.StringType))...)
}
