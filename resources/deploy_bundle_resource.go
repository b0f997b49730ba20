package resources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var (
	_ resource.ResourceWithConfigure   = (*deployBundleResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*deployBundleResource)(nil)
	_ resource.ResourceWithImportState = (*deployBundleResource)(nil)
)

// NewDeployBundleResource is the objectstack_deploy_bundle resource.
func NewDeployBundleResource() resource.Resource { return &deployBundleResource{} }

type deployBundleResource struct{ client *provider.Client }

type deployBundleModel struct {
	ID               types.String `tfsdk:"id"`
	TenantID         types.String `tfsdk:"tenant_id"`
	Path             types.String `tfsdk:"path"`
	AllowDestructive types.Set    `tfsdk:"allow_destructive"`
	PurgeOnDestroy   types.Bool   `tfsdk:"purge_on_destroy"`
	Name             types.String `tfsdk:"name"`
	Version          types.String `tfsdk:"version"`
	Objects          types.List   `tfsdk:"objects"`
	RestorePoint     types.String `tfsdk:"restore_point"`
	migrationModel
}

func (r *deployBundleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deploy_bundle"
}

func (r *deployBundleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := migrationAttributes("bundle")
	addInTenantAttributes(attrs, "bundle name", "Tenant whose database the bundle is deployed to. Changing it replaces the resource.")
	attrs["path"] = schema.StringAttribute{
		MarkdownDescription: "Folder of the bundle (`bundle.yaml` + `objects/*.yaml`), relative to the working directory. " +
			"It is read and validated at plan time; an invalid bundle fails the plan with one error per problem " +
			"(file:line, the path inside it and the rule broken).",
		Required:   true,
		Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
	}
	attrs["allow_destructive"] = allowDestructiveAttribute("bundle")
	attrs["purge_on_destroy"] = schema.BoolAttribute{
		MarkdownDescription: "What destroying the resource does. `false` (default): the tables and their data stay and " +
			"only the bundle's ownership is removed, so another bundle, a re-import or a new resource can adopt them " +
			"(like Helm's `keep`). `true`: the bundle's tables are dropped with their data.",
		Optional: true,
		Computed: true,
		Default:  booldefault.StaticBool(false),
	}
	attrs["name"] = schema.StringAttribute{
		MarkdownDescription: "Bundle name from `bundle.yaml`; the engine owner is `bundle:<name>`. A different name is a " +
			"different bundle, so changing it replaces the resource.",
		Computed: true,
	}
	attrs["version"] = schema.StringAttribute{
		MarkdownDescription: "Bundle version from `bundle.yaml`, recorded with each deployment.",
		Computed:            true,
	}
	attrs["objects"] = schema.ListAttribute{
		MarkdownDescription: "Names of the objects (tables) the bundle owns, sorted.",
		Computed:            true,
		ElementType:         types.StringType,
	}
	attrs["restore_point"] = restorePointAttribute()
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deploys a metadata bundle (typed objects and fields) to one tenant database.\n\n" +
			"At plan time the provider loads the bundle, introspects the tenant database and computes the migration: " +
			"`planned_statements` lists the exact SQL apply will run, `changes` and `change_summary` describe it. " +
			"Apply runs it in one transaction together with the registry rows, re-checking that the database did not " +
			"change since the plan. SQLite `ALTER TABLE` is used where it suffices; otherwise the table is rebuilt with " +
			"every row copied.\n\n" +
			"The bundle only ever touches its own objects (owner `bundle:<name>`): other bundles and installed apps " +
			"in the same database are never changed.\n\n" +
			"Destructive changes (dropping a table or column, lossy type changes) fail the plan unless their kind is in " +
			"`allow_destructive`. A database changed by hand shows up as `drift` and a planned update; after an apply " +
			"a second plan is empty. When repairing the drift would itself be destructive (a column added by hand), " +
			"the plan only warns and the apply of that repair is refused unless allowed; `destroy` is never blocked.\n\n" +
			"Destroying the resource keeps the tables and their data by default and only removes the bundle's " +
			"ownership (see `purge_on_destroy`).\n\n" +
			"Import with `<tenant_id>/<bundle name>`. An import recovers what the tenant database records (name, " +
			"version, checksum, objects, the last deployment) but not the arguments only the configuration holds: " +
			"`path`, `allow_destructive` and `purge_on_destroy`. The first plan after an import compares the " +
			"configured bundle with the deployed objects and shows any statements it needs in `planned_statements`.",
		Attributes: attrs,
	}
}

func (r *deployBundleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

type bundlePlan struct {
	t    *tenant.Tenant // the tenant the plan was made for; nil when the plan came from the cache
	b    *bundle.Bundle
	db   *sql.DB // nil when the plan came from the cache
	plan *engine.Plan
}

// planBundle loads the bundle and plans it against the tenant database; plan is nil (without error
// diagnostics) when the tenant does not exist yet. With cached (the plan step), an up-to-date plan that
// refresh found moments ago for the same folder content is reused, and otherwise the bundle is planned against
// what refresh read of the tenant, so a plan costs no request of its own; apply always reads afresh (one
// request) and its batch refuses a database that moved since.
func (r *deployBundleResource) planBundle(ctx context.Context, m *deployBundleModel, diags *diag.Diagnostics, cached bool) (*bundlePlan, bool) {
	dir := m.Path.ValueString()
	b, res, key, err := r.client.BundleKeyed(dir)
	if err != nil {
		diags.AddAttributeError(path.Root("path"), "Cannot read bundle", err.Error())
		return nil, false
	}
	diags.Append(validationDiagnostics("bundle", dir, res)...)
	if diags.HasError() {
		return nil, false
	}
	tenantID := m.TenantID.ValueString()
	owner := engine.BundleOwner(b.Manifest.Name)
	t, db, gone := openTenant(ctx, r.client, tenantID, diags)
	if gone {
		return &bundlePlan{b: b}, true
	}
	if db == nil {
		return nil, false
	}
	var lim apps.Limits
	if t != nil {
		lim = t.Quotas.Limits()
	}
	var p *engine.Plan
	if cached {
		if p, ok := r.client.Plans.Get(tenantID, owner, key); ok {
			return &bundlePlan{t: t, b: b, db: db, plan: p}, true
		}
		if st, ok := r.client.Plans.State(tenantID, owner); ok {
			p, err = st.Plan(owner, b.Objects)
		}
	}
	if p != nil && err == nil {
		// A read made before (refresh) may lack the quota usage the tenant's quotas need now: read afresh.
		var qe *apps.QuotaError
		if qerr := apps.CheckQuotas(p.State(), p.State().After(p), []*engine.Plan{p}, lim); qerr != nil && !errors.As(qerr, &qe) {
			p = nil
		}
	}
	if p == nil && err == nil {
		// One read: the owner's registry and schema plus the usage of the tenant's quotas (apps.QuotaReads).
		var st *engine.State
		st, err = engine.ReadState(ctx, db, engine.MergeReads(engine.ReadOptions{Owners: []engine.Owner{owner}}, apps.QuotaReads(lim)))
		if err == nil {
			p, err = st.Plan(owner, b.Objects)
		} else {
			err = fmt.Errorf("plan %s: %w", owner, err)
		}
		if p != nil {
			// Kept for the apply that follows in the same process (OpenTofu plans each resource again right
			// before applying it): it plans from this read and its batch re-checks the database.
			r.client.Plans.PutState(tenantID, owner, p.State())
		}
	}
	var conflict *engine.ConflictError
	if err != nil && m.ID.IsUnknown() && errors.As(err, &conflict) {
		// A new resource whose objects another owner holds: legitimate when that owner is destroyed
		// earlier in the same apply (a renamed bundle is replaced). Apply re-plans and fails if not.
		diags.AddWarning("Objects owned by another owner",
			fmt.Sprintf("tenant %s, bundle %s: %v\nThe statements are computed at apply time, after the other owner is removed; if it is not removed, apply fails.", tenantID, b.Manifest.Name, err))
		return &bundlePlan{b: b}, true
	}
	if err != nil {
		diags.AddError("Cannot plan bundle", fmt.Sprintf("plan bundle %s for tenant %s: %v", b.Manifest.Name, tenantID, err))
		return nil, false
	}
	// The tenant's quotas (maxObjects, maxDeploymentsPerDay), judged at plan time on the same read: a plan error,
	// as an app install over its quota is, with the protocol's category in the message.
	if err := apps.CheckQuotas(p.State(), p.State().After(p), []*engine.Plan{p}, lim); err != nil {
		diags.AddAttributeError(path.Root("path"), "Tenant quota exceeded",
			fmt.Sprintf("tenant %s, bundle %s %s: %v", tenantID, b.Manifest.Name, b.Manifest.Version, err))
		return nil, false
	}
	// The data the migration touches (one more read, only when it touches existing rows): see preflight.go.
	if !preflightPlan(ctx, db, p, fmt.Sprintf("tenant %s, bundle %s", tenantID, b.Manifest.Name), diags) {
		return nil, false
	}
	return &bundlePlan{t: t, b: b, db: db, plan: p}, true
}

// ModifyPlan computes the migration against the live tenant database, so the DDL is part of the plan.
func (r *deployBundleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or the provider is not configured yet (validation)
	}
	plan, state, ok := plannedAndPrior[deployBundleModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if plan.TenantID.IsUnknown() || plan.Path.IsUnknown() {
		plan.ID, plan.Name, plan.Version, plan.Objects = types.StringUnknown(), types.StringUnknown(), types.StringUnknown(), types.ListUnknown(types.StringType)
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	if b, res, err := r.client.Bundle(plan.Path.ValueString()); err == nil && res.Valid && state != nil &&
		!state.Name.IsNull() && state.Name.ValueString() != b.Manifest.Name {
		// Another bundle name is another owner: replace. The old owner lets go of its objects only when
		// it is destroyed, so planning the new one against today's database would report conflicts.
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("name"))
		plan.identify(b)
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	bp, ok := r.planBundle(ctx, &plan, &resp.Diagnostics, state != nil)
	if !ok {
		return
	}
	name := bp.b.Manifest.Name
	plan.identify(bp.b)
	if bp.plan == nil { // tenant not provisioned yet: the migration is only known at apply
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	where := fmt.Sprintf("tenant %s, bundle %s", plan.TenantID.ValueString(), name)
	losslessWarnings(bp.plan, where, &resp.Diagnostics)
	refuseDestructive(bp.plan, allowedKinds(ctx, plan.AllowDestructive, &resp.Diagnostics), where, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case state != nil && state.Name.ValueString() == name && bp.plan.UpToDate && !state.Drift.ValueBool() &&
		state.Checksum.ValueString() == bp.plan.Checksum:
		// Nothing to run: keep what the last apply recorded so the plan is empty.
		plan.migrationModel = state.migrationModel
		if state.Version.ValueString() != plan.Version.ValueString() {
			plan.DeploymentID = types.StringUnknown() // a version bump is recorded as a new deployment
		}
	default:
		plan.fromPlan(bp.plan)
		plan.DeploymentID = types.StringUnknown()
	}
	// The restore point belongs to the deployment: a new deployment gets its own (or none).
	plan.RestorePoint = types.StringUnknown()
	if state != nil && !plan.DeploymentID.IsUnknown() {
		plan.RestorePoint = state.RestorePoint
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// apply re-plans against the database and applies, refusing when the database changed since plan. Another
// resource of the same tenant applied between this apply's read and its batch (Terraform applies resources in
// parallel) makes the batch stale: it reads again, and goes on only while the statements are still those the
// plan showed.
func (r *deployBundleResource) apply(ctx context.Context, m *deployBundleModel, prior *deployBundleModel, diags *diag.Diagnostics) {
	applyInTenant(r.client, m.TenantID.ValueString(), diags, func(d *diag.Diagnostics, first, retry bool) bool {
		return r.applyOnce(ctx, m, prior, d, first, retry)
	})
}

// applyOnce is one read and one batch; it returns true when the batch was stale and retry allows another go.
func (r *deployBundleResource) applyOnce(ctx context.Context, m *deployBundleModel, prior *deployBundleModel, diags *diag.Diagnostics, first, retry bool) bool {
	bp, ok := r.planBundle(ctx, m, diags, first)
	if !ok {
		return false
	}
	tenantID := m.TenantID.ValueString()
	defer r.client.Plans.Forget(tenantID, engine.BundleOwner(bp.b.Manifest.Name))
	if bp.plan == nil {
		diags.AddError("Tenant not found", fmt.Sprintf("tenant %s does not exist or is being destroyed", tenantID))
		return false
	}
	name := bp.b.Manifest.Name
	where := fmt.Sprintf("tenant %s, bundle %s", tenantID, name)
	allow := allowedKinds(ctx, m.AllowDestructive, diags)
	refuseDestructive(bp.plan, allow, where, false, diags)
	if diags.HasError() {
		return false
	}
	if plannedStatementsChanged(ctx, m.PlannedStatements, bp.plan, where, diags) {
		return false
	}
	m.identify(bp.b)
	noop := prior != nil && bp.plan.UpToDate && !prior.Drift.ValueBool() && prior.Version.ValueString() == bp.b.Manifest.Version &&
		prior.Checksum.ValueString() == bp.plan.Checksum
	if noop {
		m.migrationModel = prior.migrationModel
		m.RestorePoint = prior.RestorePoint
		return false
	}
	opts := engine.ApplyOptions{Allow: allow, Version: bp.b.Manifest.Version, Source: "terraform",
		RestorePoint: r.restorePointHook(bp.t, tenantID)}
	var res *engine.DeployExecutionResult
	var err error
	if prior == nil && bp.plan.UpToDate && !bp.plan.Diff.HasBreakingChanges {
		// A new resource whose bundle the database already holds (a tenant seeded from a template): the empty
		// plan verified it; record the deployment so the tenant's log and deployment_id show it.
		res, err = engine.RecordVerified(ctx, bp.db, bp.plan, engine.ApplyOptions{Version: bp.b.Manifest.Version, Source: "terraform:verified"})
	} else {
		res, err = engine.Apply(ctx, bp.db, bp.plan, opts)
	}
	if errors.Is(err, engine.ErrStalePlan) && retry {
		return true
	}
	if err != nil {
		diags.AddError("Deployment failed", fmt.Sprintf("%s: %v\nThe transaction was rolled back; the database is unchanged.", where, err))
		return false
	}
	if m.PlannedStatements.IsUnknown() || m.PlannedStatements.IsNull() || m.Changes.IsUnknown() {
		m.fromPlan(bp.plan)
	}
	m.Checksum = types.StringValue(bp.plan.Checksum)
	m.Drift = types.BoolValue(false)
	m.DeploymentID = types.StringValue(res.DeploymentID)
	m.RestorePoint = types.StringValue(res.RestorePoint)
	return false
}

// identify fills what names the deployment: the bundle's name, version and objects, and the
// "<tenant_id>/<name>" id that import takes.
func (m *deployBundleModel) identify(b *bundle.Bundle) {
	m.Name = types.StringValue(b.Manifest.Name)
	m.ID = types.StringValue(m.TenantID.ValueString() + "/" + b.Manifest.Name)
	m.Version = types.StringValue(b.Manifest.Version)
	m.Objects = sortedNames(b.Objects)
}

func (r *deployBundleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createWith(ctx, req, resp, r.apply)
}

func (r *deployBundleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateWith(ctx, req, resp, r.apply)
}

// readDesired is refresh's fast path: when the configured folder still plans nothing against what refresh
// read, there is no drift and no pending change, and the plan step can reuse the finding.
func (r *deployBundleResource) readDesired(st *engine.State, m *deployBundleModel) (*ownerState, bool) {
	if m.Path.IsNull() || m.Path.IsUnknown() {
		return nil, false
	}
	b, res, key, err := r.client.BundleKeyed(m.Path.ValueString())
	if err != nil || !res.Valid || b.Manifest.Name != m.Name.ValueString() {
		return nil, false
	}
	owner := engine.BundleOwner(b.Manifest.Name)
	p, err := st.Plan(owner, b.Objects)
	if err != nil || !p.UpToDate || p.Checksum == "" {
		return nil, false
	}
	r.client.Plans.Put(m.TenantID.ValueString(), owner, key, p)
	return &ownerState{checksum: p.Checksum, objects: b.Objects}, true
}

// Read refreshes the deployment from ONE read of the tenant database (registry, schema, latest deployment),
// and keeps that read for the plan step.
func (r *deployBundleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m deployBundleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenantID, name := m.TenantID.ValueString(), m.Name.ValueString()
	t, db, gone := openTenant(ctx, r.client, tenantID, &resp.Diagnostics)
	if gone {
		resp.State.RemoveResource(ctx)
		return
	}
	if db == nil {
		return
	}
	owner := engine.BundleOwner(name)
	r.client.Plans.Forget(tenantID, owner) // refresh decides afresh
	wantDeployment := m.DeploymentID.IsNull() || m.DeploymentID.IsUnknown() || m.DeploymentID.ValueString() == ""
	// The quota usage the plan step checks comes with this one read (empty when the tenant has no such quota).
	var lim apps.Limits
	if t != nil {
		lim = t.Quotas.Limits()
	}
	rep, found, err := engine.InspectOwner(ctx, db, owner, apps.QuotaReads(lim))
	if err != nil {
		resp.Diagnostics.AddError("Cannot read bundle deployment", fmt.Sprintf("tenant %s, bundle %s: %v", tenantID, name, err))
		return
	}
	r.client.Plans.PutState(tenantID, owner, rep.State)
	st := &ownerState{checksum: rep.Checksum, objects: rep.Objects, drift: rep.Drift}
	if desired, ok := r.readDesired(rep.State, &m); ok {
		st, found = desired, true
	}
	if !found {
		resp.State.RemoveResource(ctx) // ownership removed outside Terraform: plan a fresh deployment
		return
	}
	m.ID = types.StringValue(tenantID + "/" + name)
	m.Checksum = types.StringValue(st.checksum)
	m.Drift = types.BoolValue(st.drift)
	m.Objects = sortedNames(st.objects)
	if wantDeployment {
		m.DeploymentID = types.StringValue("")
		if rep.Deployment != nil {
			m.DeploymentID = types.StringValue(rep.Deployment.ID)
			if m.Version.IsNull() {
				m.Version = types.StringValue(rep.Deployment.Version)
			}
		}
	}
	if m.Version.IsNull() {
		m.Version = types.StringValue("")
	}
	if m.PurgeOnDestroy.IsNull() {
		m.PurgeOnDestroy = types.BoolValue(false)
	}
	if m.RestorePoint.IsNull() || m.RestorePoint.IsUnknown() {
		m.RestorePoint = types.StringValue("") // imported: the last apply's restore point is not known
	}
	m.settle()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *deployBundleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m deployBundleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenantID, name := m.TenantID.ValueString(), m.Name.ValueString()
	// A destroy removes a tenant's bundles and apps in parallel; two write transactions at once on one
	// Turso database make one fail with "database is locked", so they take turns as applies do.
	defer r.client.Plans.LockTenant(tenantID)()
	_, db, gone := openTenant(ctx, r.client, tenantID, &resp.Diagnostics)
	if gone || db == nil {
		return // gone: the tenant (and with it the database) is gone already
	}
	defer r.client.Plans.Forget(tenantID, engine.BundleOwner(name))
	if err := removeOwner(ctx, db, engine.BundleOwner(name), m.PurgeOnDestroy.ValueBool(), m.Version.ValueString()); err != nil {
		resp.Diagnostics.AddError("Cannot remove bundle", fmt.Sprintf("tenant %s, bundle %s: %v", tenantID, name, err))
	}
}

// removeOwner drops the owner's tables (purge) or only its ownership, keeping tables and data.
func removeOwner(ctx context.Context, db *sql.DB, owner engine.Owner, purge bool, version string) error {
	if !purge {
		return engine.Detach(ctx, db, owner, engine.ApplyOptions{Source: "terraform"})
	}
	p, err := engine.PlanOwner(ctx, db, owner, nil, engine.PlanOptions{})
	if err != nil {
		return err
	}
	_, err = engine.Apply(ctx, db, p, engine.ApplyOptions{Allow: engine.AllDestructiveKinds, Version: version, Source: "terraform"})
	return err
}

func (r *deployBundleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if importInTenant(ctx, req, resp, "bundle name") {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("drift"), false)...)
	}
}
