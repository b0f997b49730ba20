package resources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
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

// migrationModel holds the computed attributes the bundle and app resources share: what the engine
// plans for one owner in one tenant database. Plan time fills them from a dry run; state keeps the
// values of the last apply, so an unchanged database plans nothing.
type migrationModel struct {
	Checksum           types.String `tfsdk:"checksum"`
	PlannedStatements  types.List   `tfsdk:"planned_statements"`
	Changes            types.List   `tfsdk:"changes"`
	ChangeSummary      types.Object `tfsdk:"change_summary"`
	HasBreakingChanges types.Bool   `tfsdk:"has_breaking_changes"`
	Drift              types.Bool   `tfsdk:"drift"`
	DeploymentID       types.String `tfsdk:"deployment_id"`
}

type deployBundleModel struct {
	ID               types.String `tfsdk:"id"`
	TenantID         types.String `tfsdk:"tenant_id"`
	Path             types.String `tfsdk:"path"`
	AllowDestructive types.Set    `tfsdk:"allow_destructive"`
	PurgeOnDestroy   types.Bool   `tfsdk:"purge_on_destroy"`
	Name             types.String `tfsdk:"name"`
	Version          types.String `tfsdk:"version"`
	Objects          types.List   `tfsdk:"objects"`
	migrationModel
}

var summaryType = map[string]attr.Type{"added": types.Int64Type, "modified": types.Int64Type, "removed": types.Int64Type}

func (r *deployBundleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deploy_bundle"
}

// migrationAttributes are the computed attributes of migrationModel, described for one kind of owner.
func migrationAttributes(what string) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"checksum": schema.StringAttribute{
			MarkdownDescription: "Checksum of the " + what + "'s object definitions as deployed. Plan time shows the checksum the " +
				"apply will record; a refresh reads the one recorded in the tenant database.",
			Computed: true,
		},
		"planned_statements": schema.ListAttribute{
			MarkdownDescription: "The exact SQL statements (DDL, and the data copy of table rebuilds) that apply runs " +
				"against the tenant database, in order, inside one transaction. Computed at plan time against the live " +
				"database, so it is visible in `plan` output and in `show -json` of a saved plan; unknown when the tenant " +
				"does not exist yet. Right after an apply it holds the statements that ran; a refresh finds nothing " +
				"pending and empties it, so an unchanged database plans nothing.",
			Computed:    true,
			ElementType: types.StringType,
		},
		"changes": schema.ListAttribute{
			MarkdownDescription: "The schema changes of `planned_statements`, one line each, e.g. `added field crm_account.industry`.",
			Computed:            true,
			ElementType:         types.StringType,
		},
		"change_summary": schema.SingleNestedAttribute{
			MarkdownDescription: "Counts of added, modified and removed objects, fields and indexes.",
			Computed:            true,
			Attributes: map[string]schema.Attribute{
				"added":    schema.Int64Attribute{Computed: true, MarkdownDescription: "Added objects, fields and indexes."},
				"modified": schema.Int64Attribute{Computed: true, MarkdownDescription: "Modified objects, fields and indexes."},
				"removed":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Removed objects, fields and indexes."},
			},
		},
		"has_breaking_changes": schema.BoolAttribute{
			MarkdownDescription: "Whether the planned changes can break existing readers (for example a removed column).",
			Computed:            true,
		},
		"drift": schema.BoolAttribute{
			MarkdownDescription: "Set by refresh when the tenant database no longer matches what was deployed (changed by " +
				"hand). The next plan then shows an update with the statements that restore the " + what + "'s schema.",
			Computed: true,
		},
		"deployment_id": schema.StringAttribute{
			MarkdownDescription: "Id of the last deployment recorded in the tenant database (`_objectstack_deployments`).",
			Computed:            true,
		},
	}
}

func allowDestructiveAttribute(what string) schema.SetAttribute {
	return schema.SetAttribute{
		MarkdownDescription: "Destructive change kinds this " + what + " may make: `drop_table`, `drop_column`, " +
			"`lossy_type_change`. A plan with a destructive change whose kind is not listed fails, naming each change; " +
			"nothing is applied.",
		Optional:    true,
		ElementType: types.StringType,
		Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(
			string(engine.DropTable), string(engine.DropColumn), string(engine.LossyTypeChange)))},
	}
}

func (r *deployBundleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := migrationAttributes("bundle")
	attrs["id"] = schema.StringAttribute{
		MarkdownDescription: "`<tenant_id>/<bundle name>`.",
		Computed:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["tenant_id"] = schema.StringAttribute{
		MarkdownDescription: "Tenant whose database the bundle is deployed to. Changing it replaces the resource.",
		Required:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		Validators:          []validator.String{stringvalidator.RegexMatches(tenantIDRE, tenantIDRule)},
	}
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
			"a second plan is empty.\n\n" +
			"Destroying the resource keeps the tables and their data by default and only removes the bundle's " +
			"ownership (see `purge_on_destroy`).",
		Attributes: attrs,
	}
}

func (r *deployBundleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func allowedKinds(ctx context.Context, s types.Set, diags *diag.Diagnostics) []engine.DestructiveKind {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	var kinds []string
	diags.Append(s.ElementsAs(ctx, &kinds, false)...)
	out := make([]engine.DestructiveKind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, engine.DestructiveKind(k))
	}
	return out
}

func stringList(items []string) types.List {
	vals := make([]attr.Value, len(items))
	for i, s := range items {
		vals[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, vals)
}

func sortedNames(objs []bundle.Object) types.List {
	names := make([]string, len(objs))
	for i := range objs {
		names[i] = objs[i].Name
	}
	sort.Strings(names)
	return stringList(names)
}

func statementSQL(p *engine.Plan) []string {
	out := make([]string, len(p.Migration.Statements))
	for i, s := range p.Migration.Statements {
		out[i] = s.SQL
	}
	return out
}

func describeChange(c engine.SchemaChange) string {
	name := c.EntityName
	if c.ParentEntity != "" {
		name = c.ParentEntity + "." + c.EntityName
	}
	return fmt.Sprintf("%s %s %s", c.ChangeType, c.EntityType, name)
}

// setUnknown marks every plan-computed attribute unknown (the tenant or path is not known yet).
func (m *migrationModel) setUnknown() {
	m.Checksum = types.StringUnknown()
	m.PlannedStatements = types.ListUnknown(types.StringType)
	m.Changes = types.ListUnknown(types.StringType)
	m.ChangeSummary = types.ObjectUnknown(summaryType)
	m.HasBreakingChanges = types.BoolUnknown()
	m.Drift = types.BoolValue(false)
	m.DeploymentID = types.StringUnknown()
}

// fromPlan fills the computed attributes from an engine plan; deployment_id stays as given.
func (m *migrationModel) fromPlan(p *engine.Plan) {
	m.Checksum = types.StringValue(p.Checksum)
	m.PlannedStatements = stringList(statementSQL(p))
	changes := make([]string, len(p.Diff.Changes))
	for i, c := range p.Diff.Changes {
		changes[i] = describeChange(c)
	}
	m.Changes = stringList(changes)
	m.ChangeSummary = types.ObjectValueMust(summaryType, map[string]attr.Value{
		"added":    types.Int64Value(int64(p.Diff.Summary.Added)),
		"modified": types.Int64Value(int64(p.Diff.Summary.Modified)),
		"removed":  types.Int64Value(int64(p.Diff.Summary.Removed)),
	})
	m.HasBreakingChanges = types.BoolValue(p.Diff.HasBreakingChanges)
	m.Drift = types.BoolValue(false)
}

// settle is what refresh records: the database was read, so nothing is pending any more. Keeping the
// last apply's statements in state would make every later plan show them being "removed" next to the
// new ones; after a refresh the plan shows only what the next apply runs.
func (m *migrationModel) settle() {
	m.PlannedStatements = stringList(nil)
	m.Changes = stringList(nil)
	m.ChangeSummary = types.ObjectValueMust(summaryType, map[string]attr.Value{
		"added": types.Int64Value(0), "modified": types.Int64Value(0), "removed": types.Int64Value(0)})
	m.HasBreakingChanges = types.BoolValue(false)
}

// refuseDestructive adds one error per destructive change whose kind is not allowed.
func refuseDestructive(p *engine.Plan, allow []engine.DestructiveKind, where string, diags *diag.Diagnostics) {
	if err := p.CheckAllowed(allow); err == nil {
		return
	}
	allowed := map[engine.DestructiveKind]bool{}
	for _, k := range allow {
		allowed[k] = true
	}
	n := 0
	for _, d := range p.Destructive {
		if allowed[d.Kind] {
			continue
		}
		n++
		target := d.Object
		if d.Field != "" {
			target += "." + d.Field
		}
		diags.AddAttributeError(path.Root("allow_destructive"), "Destructive change refused",
			fmt.Sprintf("%s: %s %s: %s\nNothing was applied. To allow it, add %q to allow_destructive.",
				where, d.Kind, target, d.Message, string(d.Kind)))
	}
	if n == 0 {
		diags.AddAttributeError(path.Root("allow_destructive"), "Destructive change refused",
			fmt.Sprintf("%s: %v", where, p.CheckAllowed(allow)))
	}
}

type bundlePlan struct {
	b    *bundle.Bundle
	db   *sql.DB // nil when the plan came from the cache
	plan *engine.Plan
}

// planBundle loads the bundle and plans it against the tenant database; plan is nil (without error
// diagnostics) when the tenant does not exist yet. With cached, an up-to-date plan that refresh found
// moments ago for the same folder content is reused instead of introspecting again.
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
	if cached {
		if p, ok := r.client.Plans.Get(tenantID, owner, key); ok {
			return &bundlePlan{b: b, plan: p}, true
		}
	}
	_, db, err := r.client.TenantDB(ctx, tenantID)
	if errors.Is(err, provider.ErrTenantNotFound) {
		return &bundlePlan{b: b}, true
	}
	if err != nil {
		diags.AddError("Cannot open tenant database", err.Error())
		return nil, false
	}
	p, err := engine.PlanOwner(ctx, db, owner, b.Objects, engine.PlanOptions{})
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
	return &bundlePlan{b: b, db: db, plan: p}, true
}

// ModifyPlan computes the migration against the live tenant database, so the DDL is part of the plan.
func (r *deployBundleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or the provider is not configured yet (validation)
	}
	var plan deployBundleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *deployBundleModel
	if !req.State.Raw.IsNull() {
		state = &deployBundleModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
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
		plan.Name = types.StringValue(b.Manifest.Name)
		plan.ID = types.StringValue(plan.TenantID.ValueString() + "/" + b.Manifest.Name)
		plan.Version = types.StringValue(b.Manifest.Version)
		plan.Objects = sortedNames(b.Objects)
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	bp, ok := r.planBundle(ctx, &plan, &resp.Diagnostics, state != nil && !state.Drift.ValueBool())
	if !ok {
		return
	}
	name := bp.b.Manifest.Name
	plan.Name = types.StringValue(name)
	plan.ID = types.StringValue(plan.TenantID.ValueString() + "/" + name)
	plan.Version = types.StringValue(bp.b.Manifest.Version)
	plan.Objects = sortedNames(bp.b.Objects)
	if bp.plan == nil { // tenant not provisioned yet: the migration is only known at apply
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	where := fmt.Sprintf("tenant %s, bundle %s", plan.TenantID.ValueString(), name)
	refuseDestructive(bp.plan, allowedKinds(ctx, plan.AllowDestructive, &resp.Diagnostics), where, &resp.Diagnostics)
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
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// apply re-plans against the database and applies, refusing when the database changed since plan.
func (r *deployBundleResource) apply(ctx context.Context, m *deployBundleModel, prior *deployBundleModel, diags *diag.Diagnostics) {
	bp, ok := r.planBundle(ctx, m, diags, false)
	if !ok {
		return
	}
	tenantID := m.TenantID.ValueString()
	defer r.client.Plans.Forget(tenantID, engine.BundleOwner(bp.b.Manifest.Name))
	if bp.plan == nil {
		diags.AddError("Tenant not found", fmt.Sprintf("tenant %s does not exist or is being destroyed", tenantID))
		return
	}
	name := bp.b.Manifest.Name
	where := fmt.Sprintf("tenant %s, bundle %s", tenantID, name)
	allow := allowedKinds(ctx, m.AllowDestructive, diags)
	refuseDestructive(bp.plan, allow, where, diags)
	if diags.HasError() {
		return
	}
	if !m.PlannedStatements.IsUnknown() && !m.PlannedStatements.IsNull() {
		var planned []string
		diags.Append(m.PlannedStatements.ElementsAs(ctx, &planned, false)...)
		if got := statementSQL(bp.plan); !equalStrings(planned, got) {
			diags.AddError("Tenant database changed since plan",
				fmt.Sprintf("%s: the plan showed %d statement(s) but the database now needs %d different one(s). Nothing was applied; run plan again.",
					where, len(planned), len(got)))
			return
		}
	}
	m.Name = types.StringValue(name)
	m.ID = types.StringValue(tenantID + "/" + name)
	m.Version = types.StringValue(bp.b.Manifest.Version)
	m.Objects = sortedNames(bp.b.Objects)
	noop := prior != nil && bp.plan.UpToDate && !prior.Drift.ValueBool() && prior.Version.ValueString() == bp.b.Manifest.Version &&
		prior.Checksum.ValueString() == bp.plan.Checksum
	if noop {
		m.migrationModel = prior.migrationModel
		return
	}
	res, err := engine.Apply(ctx, bp.db, bp.plan, engine.ApplyOptions{Allow: allow, Version: bp.b.Manifest.Version, Source: "terraform"})
	if err != nil {
		diags.AddError("Deployment failed", fmt.Sprintf("%s: %v\nThe transaction was rolled back; the database is unchanged.", where, err))
		return
	}
	if m.PlannedStatements.IsUnknown() || m.PlannedStatements.IsNull() || m.Changes.IsUnknown() {
		m.fromPlan(bp.plan)
	}
	m.Checksum = types.StringValue(bp.plan.Checksum)
	m.Drift = types.BoolValue(false)
	m.DeploymentID = types.StringValue(res.DeploymentID)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (r *deployBundleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m deployBundleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, &m, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *deployBundleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, prior deployBundleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, &m, &prior, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// ownerState is what refresh learns about one owner in a tenant database.
type ownerState struct {
	checksum   string
	objects    []bundle.Object
	drift      bool
	deployment *engine.Deployment // only when asked for
}

// readOwner re-plans the owner's registered definitions against the live schema: any statement needed
// means someone changed the database by hand. found is false when the owner has nothing deployed.
func readOwner(ctx context.Context, db *sql.DB, owner engine.Owner, withDeployment bool) (*ownerState, bool, error) {
	regs, err := engine.RegisteredObjects(ctx, db)
	if err != nil {
		return nil, false, err
	}
	st := &ownerState{}
	for _, ro := range regs {
		if ro.Owner == owner {
			st.objects = append(st.objects, ro.Definition)
		}
	}
	if len(st.objects) == 0 {
		return nil, false, nil
	}
	p, err := engine.PlanOwner(ctx, db, owner, st.objects, engine.PlanOptions{})
	if err != nil {
		return nil, false, err
	}
	st.drift = len(p.Migration.Statements) > 0
	st.checksum = p.Checksum
	if !p.UpToDate {
		if st.checksum, err = engine.OwnerChecksum(ctx, db, owner); err != nil {
			return nil, false, err
		}
	}
	if withDeployment {
		deps, err := engine.Deployments(ctx, db, owner)
		if err != nil {
			return nil, false, err
		}
		for i := range deps {
			if deps[i].Status == engine.StatusReady && (st.deployment == nil || deps[i].CompletedAt >= st.deployment.CompletedAt) {
				st.deployment = &deps[i]
			}
		}
	}
	return st, true, nil
}

// readDesired is refresh's fast path: when the configured folder still plans nothing against the
// live database, there is no drift and no pending change, and the plan step can reuse the finding.
func (r *deployBundleResource) readDesired(ctx context.Context, db *sql.DB, m *deployBundleModel) (*ownerState, bool) {
	if m.Path.IsNull() || m.Path.IsUnknown() {
		return nil, false
	}
	b, res, key, err := r.client.BundleKeyed(m.Path.ValueString())
	if err != nil || !res.Valid || b.Manifest.Name != m.Name.ValueString() {
		return nil, false
	}
	owner := engine.BundleOwner(b.Manifest.Name)
	p, err := engine.PlanOwner(ctx, db, owner, b.Objects, engine.PlanOptions{})
	if err != nil || !p.UpToDate || p.Checksum == "" {
		return nil, false
	}
	r.client.Plans.Put(m.TenantID.ValueString(), owner, key, p)
	return &ownerState{checksum: p.Checksum, objects: b.Objects}, true
}

func (r *deployBundleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m deployBundleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenantID, name := m.TenantID.ValueString(), m.Name.ValueString()
	_, db, err := r.client.TenantDB(ctx, tenantID)
	if errors.Is(err, provider.ErrTenantNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot open tenant database", err.Error())
		return
	}
	r.client.Plans.Forget(tenantID, engine.BundleOwner(name)) // refresh decides afresh
	wantDeployment := m.DeploymentID.IsNull() || m.DeploymentID.IsUnknown() || m.DeploymentID.ValueString() == ""
	st, found := r.readDesired(ctx, db, &m)
	if !found || wantDeployment {
		st, found, err = readOwner(ctx, db, engine.BundleOwner(name), wantDeployment)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read bundle deployment", fmt.Sprintf("tenant %s, bundle %s: %v", tenantID, name, err))
		return
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
	}
	if st.deployment != nil {
		m.DeploymentID = types.StringValue(st.deployment.ID)
		if m.Version.IsNull() {
			m.Version = types.StringValue(st.deployment.Version)
		}
	}
	if m.Version.IsNull() {
		m.Version = types.StringValue("")
	}
	if m.PurgeOnDestroy.IsNull() {
		m.PurgeOnDestroy = types.BoolValue(false)
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
	_, db, err := r.client.TenantDB(ctx, tenantID)
	if errors.Is(err, provider.ErrTenantNotFound) {
		return // the tenant (and with it the database) is gone already
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot open tenant database", err.Error())
		return
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
	tenantID, name, err := splitImportID(req.ID, "bundle name")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant_id"), tenantID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("drift"), false)...)
}
