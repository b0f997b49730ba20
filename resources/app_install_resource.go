package resources

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

var (
	_ resource.ResourceWithConfigure   = (*appInstallResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*appInstallResource)(nil)
	_ resource.ResourceWithImportState = (*appInstallResource)(nil)
)

// NewAppInstallResource is the objectstack_app_install resource.
func NewAppInstallResource() resource.Resource { return &appInstallResource{} }

type appInstallResource struct{ client *provider.Client }

type appInstallModel struct {
	ID               types.String `tfsdk:"id"`
	TenantID         types.String `tfsdk:"tenant_id"`
	Path             types.String `tfsdk:"path"`
	ConfigOverrides  types.Map    `tfsdk:"config_overrides"`
	SkipSeedData     types.Bool   `tfsdk:"skip_seed_data"`
	AllowDestructive types.Set    `tfsdk:"allow_destructive"`
	AllowDowngrade   types.Bool   `tfsdk:"allow_downgrade"`
	PurgeOnDestroy   types.Bool   `tfsdk:"purge_on_destroy"`
	Name             types.String `tfsdk:"name"`
	Version          types.String `tfsdk:"version"`
	InstalledObjects types.List   `tfsdk:"installed_objects"`
	SeededRecords    types.Int64  `tfsdk:"seeded_records"`
	PlannedAction    types.String `tfsdk:"planned_action"`
	Config           types.Map    `tfsdk:"config"`
	migrationModel
}

func (r *appInstallResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_app_install"
}

func (r *appInstallResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := migrationAttributes("app")
	attrs["checksum"] = schema.StringAttribute{
		MarkdownDescription: "Checksum of the app package (manifest, objects, views, flows, seed data). Plan time shows " +
			"the checksum the apply will record; a refresh reads the installed one.",
		Computed: true,
	}
	addInTenantAttributes(attrs, "app name", "Tenant the app is installed in. Changing it replaces the resource.")
	attrs["path"] = schema.StringAttribute{
		MarkdownDescription: "Folder of the app package (`app.yaml` + `objects/*.yaml`, optional views, flows and seed " +
			"data), relative to the working directory. Pointing it at a folder with a higher `version` upgrades the app " +
			"in place.",
		Required:   true,
		Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
	}
	attrs["config_overrides"] = schema.MapAttribute{
		MarkdownDescription: "Values for configuration keys the app declares in `app.yaml`, as strings; numbers and " +
			"booleans are converted to the declared type. Undeclared keys and values of the wrong type fail the plan.",
		Optional:    true,
		ElementType: types.StringType,
		Validators:  []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1))},
	}
	attrs["skip_seed_data"] = schema.BoolAttribute{
		MarkdownDescription: "Do not load the app's seed datasets. Default: `false`.",
		Optional:            true, Computed: true, Default: booldefault.StaticBool(false),
	}
	attrs["allow_destructive"] = allowDestructiveAttribute("app install or upgrade")
	attrs["allow_downgrade"] = schema.BoolAttribute{
		MarkdownDescription: "Allow installing a lower version than the one installed. Default: `false` (a downgrade fails the plan).",
		Optional:            true, Computed: true, Default: booldefault.StaticBool(false),
	}
	attrs["purge_on_destroy"] = schema.BoolAttribute{
		MarkdownDescription: "What destroying the resource (uninstalling) does. `false` (default): the app's tables and " +
			"data stay, detached, and a later install adopts them again. `true`: the tables are dropped with their data.",
		Optional: true, Computed: true, Default: booldefault.StaticBool(false),
	}
	attrs["name"] = schema.StringAttribute{
		MarkdownDescription: "App name from `app.yaml`; a different name is a different app, so changing it replaces the resource.",
		Computed:            true,
	}
	attrs["version"] = schema.StringAttribute{MarkdownDescription: "Installed app version.", Computed: true}
	attrs["installed_objects"] = schema.ListAttribute{
		MarkdownDescription: "Objects (tables) the app owns, sorted.",
		Computed:            true, ElementType: types.StringType,
	}
	attrs["seeded_records"] = schema.Int64Attribute{
		MarkdownDescription: "Seed records written by the last install or upgrade.",
		Computed:            true,
	}
	attrs["planned_action"] = schema.StringAttribute{
		MarkdownDescription: "What applying the plan does to the app: `install`, `upgrade`, `downgrade`, `reinstall` " +
			"(same version with other package contents or another configuration, or a drifted schema: the registry " +
			"row is rewritten and seed data loaded again), `repair` (the schema is restored, nothing else) or `none`. " +
			"Computed at plan time, so a reinstall is visible in the plan even when no statement runs. Right after an " +
			"apply it holds the action that ran; a refresh sets `none`.",
		Computed: true,
	}
	attrs["config"] = schema.MapAttribute{
		MarkdownDescription: "The app's configuration as installed: the declared defaults merged with `config_overrides`, " +
			"values as strings. Refresh reads it from the tenant database, so it is known after an import too; the " +
			"plan shows the configuration the apply will store, and a change of it is a reinstall.",
		Computed:    true,
		ElementType: types.StringType,
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Installs a marketplace app (an `app.yaml` manifest with objects, views, flows and seed " +
			"data) into one tenant database; changing `path` to a newer version upgrades it.\n\n" +
			"At plan time the provider runs the app's compatibility check against the tenant (kernel version, " +
			"dependencies on other installed apps — including an upgrade or downgrade that would break the version " +
			"constraint another installed app declares on this one —, object conflicts with bundles and other apps, the tenant's " +
			"`max_objects`, `max_records_per_object` and `max_deployments_per_day` quotas): every problem is a plan error. `planned_statements` " +
			"shows the DDL. Apply runs the schema change, the seed data and the app registry row in one transaction.\n\n" +
			"Destroying uninstalls the app (refused while another installed app depends on it).\n\n" +
			"Import with `<tenant_id>/<app name>`. An import recovers what the tenant database records (name, version, " +
			"checksum, objects, `config`) but not the arguments only the configuration holds: `path`, " +
			"`config_overrides`, `skip_seed_data`, `allow_destructive`, `allow_downgrade` and `purge_on_destroy`. " +
			"The first plan after an import compares the configured package and configuration with the installed " +
			"ones: when they differ it shows `config` changing and `planned_action = \"reinstall\"`.",
		Attributes: attrs,
	}
}

func (r *appInstallResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

type appPlan struct {
	app  *apps.App
	db   *sql.DB
	opts apps.InstallOptions
	plan *apps.InstallPlan
}

func (r *appInstallResource) options(ctx context.Context, m *appInstallModel, app *apps.App, t *tenant.Tenant, diags *diag.Diagnostics) apps.InstallOptions {
	opts := apps.InstallOptions{
		SkipSeedData:   m.SkipSeedData.ValueBool(),
		Allow:          allowedKinds(ctx, m.AllowDestructive, diags),
		AllowDowngrade: m.AllowDowngrade.ValueBool(),
		Source:         "terraform",
	}
	if t != nil {
		opts.Limits = t.Quotas.Limits()
		opts.RestorePoint = r.client.Tenants.RestorePointFunc(t)
	}
	if !m.ConfigOverrides.IsNull() && !m.ConfigOverrides.IsUnknown() {
		raw := map[string]string{}
		diags.Append(m.ConfigOverrides.ElementsAs(ctx, &raw, false)...)
		opts.ConfigOverrides = map[string]any{}
		for k, v := range raw {
			val, err := app.Manifest.ParseConfigValue(k, v)
			if err != nil {
				diags.AddAttributeError(path.Root("config_overrides").AtMapKey(k), "Invalid app configuration", err.Error())
				continue
			}
			opts.ConfigOverrides[k] = val
		}
	}
	return opts
}

// planApp loads the app and plans its install; plan is nil (without error) when the tenant does not exist yet.
// atPlan is true in ModifyPlan: destructive changes only drift needs are warnings there (see refuseDestructive).
// With cached (the plan step) it plans against what refresh read of the tenant moments ago, so a plan costs no
// request of its own; apply reads afresh (one request) and its batch refuses a database that moved since.
func (r *appInstallResource) planApp(ctx context.Context, m *appInstallModel, diags *diag.Diagnostics, cached, atPlan bool) (*appPlan, bool) {
	dir := m.Path.ValueString()
	app, res, err := r.client.App(dir)
	if err != nil && app == nil && len(res.Issues) == 0 {
		diags.AddAttributeError(path.Root("path"), "Cannot read app", err.Error())
		return nil, false
	}
	diags.Append(validationDiagnostics("app", dir, res)...)
	if err != nil && !diags.HasError() {
		diags.AddAttributeError(path.Root("path"), "Cannot read app", err.Error())
	}
	if diags.HasError() {
		return nil, false
	}
	tenantID := m.TenantID.ValueString()
	t, db, gone := openTenant(ctx, r.client, tenantID, diags)
	if gone {
		opts := r.options(ctx, m, app, nil, diags)
		return &appPlan{app: app, opts: opts}, !diags.HasError()
	}
	if db == nil {
		return nil, false
	}
	opts := r.options(ctx, m, app, t, diags)
	if diags.HasError() {
		return nil, false
	}
	var ip *apps.InstallPlan
	var err2 error = errNoCachedRead
	if cached {
		if st, ok := r.client.Plans.State(tenantID, app.Owner()); ok {
			if tn, err := apps.NewTenant(st); err == nil {
				ip, err2 = tn.PlanInstall(app, opts)
			}
		}
	}
	if err2 != nil { // nothing cached, or the cached read lacks what this package needs (e.g. another quota read)
		if ip, err = apps.PlanInstall(ctx, db, app, opts); err != nil {
			diags.AddError("Cannot plan app install", fmt.Sprintf("tenant %s: %v", tenantID, err))
			return nil, false
		}
		if ip.Schema != nil {
			r.client.Plans.PutState(tenantID, app.Owner(), ip.Schema.State()) // for the apply in the same process
		}
	}
	where := appWhere(tenantID, app)
	for _, is := range ip.Check.Issues {
		msg := fmt.Sprintf("%s: [%s] %s", where, is.Category, is.Message)
		if is.Severity == "error" {
			diags.AddAttributeError(path.Root("path"), "App is not compatible with the tenant", msg)
		} else {
			diags.AddAttributeWarning(path.Root("path"), "App compatibility warning", msg)
		}
	}
	if !ip.Check.Compatible && !diags.HasError() {
		diags.AddAttributeError(path.Root("path"), "App is not compatible with the tenant", where)
	}
	if ip.Action == apps.ActionDowngrade && !opts.AllowDowngrade {
		diags.AddAttributeError(path.Root("allow_downgrade"), "Downgrade refused",
			fmt.Sprintf("%s: version %s is installed; installing %s would downgrade it. Set allow_downgrade = true to allow it.",
				where, ip.InstalledVersion, app.Manifest.Version))
	}
	if ip.Schema != nil {
		if !preflightPlan(ctx, db, ip.Schema, where, diags) {
			return nil, false
		}
		if atPlan {
			losslessWarnings(ip.Schema, where, diags)
		}
	}
	refuseDestructive(ip.Schema, opts.Allow, where, atPlan, diags)
	if diags.HasError() {
		return nil, false
	}
	return &appPlan{app: app, db: db, opts: opts, plan: ip}, true
}

// appWhere names the tenant and the app package in plan and apply errors.
func appWhere(tenantID string, app *apps.App) string {
	return fmt.Sprintf("tenant %s, app %s %s", tenantID, app.Manifest.Name, app.Manifest.Version)
}

// identify fills what names the installation: the app's name, version and objects, and the
// "<tenant_id>/<name>" id that import takes.
func (m *appInstallModel) identify(app *apps.App) {
	m.Name = types.StringValue(app.Manifest.Name)
	m.ID = types.StringValue(m.TenantID.ValueString() + "/" + app.Manifest.Name)
	m.Version = types.StringValue(app.Manifest.Version)
	m.InstalledObjects = sortedStrings(app.ObjectNames())
}

// ModifyPlan runs the compatibility check and computes the install's DDL against the live database.
func (r *appInstallResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	plan, state, ok := plannedAndPrior[appInstallModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if plan.TenantID.IsUnknown() || plan.Path.IsUnknown() || plan.ConfigOverrides.IsUnknown() {
		plan.ID, plan.Name, plan.Version = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		plan.InstalledObjects, plan.SeededRecords = types.ListUnknown(types.StringType), types.Int64Unknown()
		plan.PlannedAction, plan.Config = types.StringUnknown(), types.MapUnknown(types.StringType)
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	if a, res, err := r.client.App(plan.Path.ValueString()); err == nil && res.Valid && state != nil &&
		!state.Name.IsNull() && state.Name.ValueString() != a.Manifest.Name {
		// Another app: replace (uninstall, then install). Its objects are only free once the old app is gone.
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("name"))
		plan.identify(a)
		plan.SeededRecords = types.Int64Unknown()
		plan.PlannedAction, plan.Config = types.StringValue(string(apps.ActionInstall)), types.MapUnknown(types.StringType)
		plan.setUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	ap, ok := r.planApp(ctx, &plan, &resp.Diagnostics, state != nil, true)
	if !ok {
		return
	}
	name := ap.app.Manifest.Name
	plan.identify(ap.app)
	switch {
	case ap.plan == nil:
		// The tenant does not exist yet: a fresh install, with the configuration the manifest resolves.
		plan.setUnknown()
		plan.SeededRecords = types.Int64Unknown()
		plan.PlannedAction = types.StringValue(string(apps.ActionInstall))
		plan.Config = types.MapUnknown(types.StringType)
		if cfg, err := ap.app.Manifest.ResolveConfig(ap.opts.ConfigOverrides); err == nil {
			plan.Config = configMap(cfg)
		}
	case state != nil && state.Name.ValueString() == name && ap.plan.Action == apps.ActionNone && !state.Drift.ValueBool():
		plan.migrationModel = state.migrationModel
		plan.SeededRecords = state.SeededRecords
		// Like planned_statements, planned_action keeps what the last apply did until a refresh settles it.
		plan.PlannedAction = state.PlannedAction
		if plan.PlannedAction.IsNull() || plan.PlannedAction.IsUnknown() {
			plan.PlannedAction = types.StringValue(string(apps.ActionNone))
		}
		plan.Config = configMap(ap.plan.Config)
	default:
		// Every real change is in the plan: the action (a reinstall runs no DDL when only the configuration
		// changed, which would otherwise look like a state-only update) and the configuration it stores.
		plan.PlannedAction = types.StringValue(plannedAction(ap.plan))
		plan.Config = configMap(ap.plan.Config)
		plan.fromPlan(ap.plan.Schema)
		plan.Checksum = types.StringValue(ap.app.Checksum)
		plan.DeploymentID = types.StringUnknown()
		plan.SeededRecords = types.Int64Unknown() // upserts may write fewer rows than the datasets hold
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// install reads the tenant, plans and installs in one batch; a batch made stale by another resource of the same
// tenant (applied in parallel) reads again, as the bundle resource does.
func (r *appInstallResource) install(ctx context.Context, m *appInstallModel, prior *appInstallModel, diags *diag.Diagnostics) {
	applyInTenant(r.client, m.TenantID.ValueString(), diags, func(d *diag.Diagnostics, first, retry bool) bool {
		return r.installOnce(ctx, m, prior, d, first, retry)
	})
}

func (r *appInstallResource) installOnce(ctx context.Context, m *appInstallModel, prior *appInstallModel, diags *diag.Diagnostics, first, retry bool) bool {
	ap, ok := r.planApp(ctx, m, diags, first, false)
	if !ok {
		return false
	}
	tenantID := m.TenantID.ValueString()
	if ap.plan == nil {
		diags.AddError("Tenant not found", fmt.Sprintf("tenant %s does not exist or is being destroyed", tenantID))
		return false
	}
	where := appWhere(tenantID, ap.app)
	// With the package unchanged (ActionNone) the shown statements are not compared: Install does not
	// run, and a drift repair applies the plan computed just now.
	noop := prior != nil && ap.plan.Action == apps.ActionNone
	if !noop && plannedStatementsChanged(ctx, m.PlannedStatements, ap.plan.Schema, where, diags) {
		return false
	}
	m.identify(ap.app)
	if prior != nil && ap.plan.Action == apps.ActionNone && !prior.Drift.ValueBool() {
		m.migrationModel = prior.migrationModel
		m.SeededRecords = prior.SeededRecords
		return false
	}
	if ap.plan.Action == apps.ActionNone {
		// Drift with an unchanged package: Install would do nothing, so repair the schema through the engine.
		_, err := engine.Apply(ctx, ap.db, ap.plan.Schema, engine.ApplyOptions{Allow: ap.opts.Allow,
			Version: ap.app.Manifest.Version, Source: "terraform"})
		if errors.Is(err, engine.ErrStalePlan) && retry {
			return true
		}
		if err != nil {
			diags.AddError("App repair failed", fmt.Sprintf("%s: %v", where, err))
			return false
		}
	} else {
		res, err := apps.InstallPlanned(ctx, ap.db, ap.app, ap.plan, ap.opts)
		if errors.Is(err, engine.ErrStalePlan) && retry {
			return true
		}
		if err != nil {
			diags.AddError("App install failed", fmt.Sprintf("%s: %v\nThe transaction was rolled back; the database is unchanged.", where, err))
			return false
		}
		m.SeededRecords = types.Int64Value(int64(res.SeededRecords))
		m.DeploymentID = types.StringValue(res.DeploymentID)
	}
	if m.PlannedStatements.IsUnknown() || m.PlannedStatements.IsNull() {
		m.fromPlan(ap.plan.Schema)
	}
	m.Checksum = types.StringValue(ap.app.Checksum)
	m.Drift = types.BoolValue(false)
	if m.DeploymentID.IsUnknown() {
		m.DeploymentID = types.StringValue("")
		// The plan's read carried the owner's latest deployment: a reinstall without schema change records none.
		if ap.plan.Schema != nil {
			if dep, err := ap.plan.Schema.State().LatestDeployment(ap.app.Owner()); err == nil && dep != nil {
				m.DeploymentID = types.StringValue(dep.ID)
			}
		}
	}
	if m.SeededRecords.IsUnknown() {
		m.SeededRecords = types.Int64Value(0)
	}
	if m.PlannedAction.IsUnknown() {
		m.PlannedAction = types.StringValue(plannedAction(ap.plan))
	}
	if m.Config.IsUnknown() {
		m.Config = configMap(ap.plan.Config)
	}
	return false
}

// plannedAction names what an apply of ip does; an unchanged package applied to a drifted schema is a repair.
func plannedAction(ip *apps.InstallPlan) string {
	if ip.Action == apps.ActionNone {
		return "repair"
	}
	return string(ip.Action)
}

// configMap is an app configuration as the config attribute shows it: strings as they are, numbers and
// booleans as their JSON text (what config_overrides takes for them).
func configMap(cfg map[string]any) types.Map {
	vals := make(map[string]attr.Value, len(cfg))
	for k, v := range cfg {
		if str, ok := v.(string); ok {
			vals[k] = types.StringValue(str)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		vals[k] = types.StringValue(string(b))
	}
	return types.MapValueMust(types.StringType, vals)
}

func (r *appInstallResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createWith(ctx, req, resp, r.install)
}

func (r *appInstallResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateWith(ctx, req, resp, r.install)
}

// Read refreshes the install from ONE read of the tenant database (app registry, schema, latest deployment, and
// the row counts the package's quota check needs), and keeps that read for the plan step.
func (r *appInstallResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m appInstallModel
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
	owner := engine.AppOwner(name)
	r.client.Plans.Forget(tenantID, owner)
	// What the plan step will need for the configured package, read now so it needs no request of its own.
	reads := apps.Reads(nil, nil)
	if !m.Path.IsNull() && !m.Path.IsUnknown() {
		if app, _, err := r.client.App(m.Path.ValueString()); err == nil && app != nil && app.Manifest.Name == name {
			var ignore diag.Diagnostics
			opts := r.options(ctx, &m, app, t, &ignore)
			reads = apps.Reads([]*apps.App{app}, func(*apps.App) apps.InstallOptions { return opts })
		}
	}
	rep, found, err := engine.InspectOwner(ctx, db, owner, reads)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read app schema", fmt.Sprintf("tenant %s, app %s: %v", tenantID, name, err))
		return
	}
	tn, err := apps.NewTenant(rep.State)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read installed apps", fmt.Sprintf("tenant %s: %v", tenantID, err))
		return
	}
	var inst *apps.InstalledApp
	for _, a := range tn.Installed() {
		if a.Name == name {
			inst = &a
		}
	}
	if inst == nil {
		resp.State.RemoveResource(ctx)
		return
	}
	r.client.Plans.PutState(tenantID, owner, rep.State)
	m.ID = types.StringValue(tenantID + "/" + name)
	m.Version = types.StringValue(inst.Version)
	m.Checksum = types.StringValue(inst.Checksum)
	m.InstalledObjects = sortedStrings(inst.Objects)
	m.Config = configMap(inst.Config)
	m.PlannedAction = types.StringValue(string(apps.ActionNone)) // nothing is pending after a refresh, as settle does
	m.Drift = types.BoolValue(found && rep.Drift)
	if m.DeploymentID.IsNull() {
		m.DeploymentID = types.StringValue("")
	}
	if m.DeploymentID.ValueString() == "" && rep.Deployment != nil {
		m.DeploymentID = types.StringValue(rep.Deployment.ID)
	}
	if m.SeededRecords.IsNull() {
		m.SeededRecords = types.Int64Value(0)
	}
	for _, b := range []*types.Bool{&m.SkipSeedData, &m.AllowDowngrade, &m.PurgeOnDestroy} {
		if b.IsNull() {
			*b = types.BoolValue(false)
		}
	}
	m.settle()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *appInstallResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m appInstallModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenantID, name := m.TenantID.ValueString(), m.Name.ValueString()
	defer r.client.Plans.LockTenant(tenantID)() // one writer per tenant database, as in the bundle's Delete
	_, db, gone := openTenant(ctx, r.client, tenantID, &resp.Diagnostics)
	if gone || db == nil {
		return // gone: the tenant's database, and the app in it, is gone already
	}
	err := apps.Uninstall(ctx, db, name, apps.UninstallOptions{Purge: m.PurgeOnDestroy.ValueBool(), Source: "terraform"})
	if err != nil && !errors.Is(err, apps.ErrNotInstalled) {
		resp.Diagnostics.AddError("Uninstall failed", fmt.Sprintf("tenant %s, app %s: %v", tenantID, name, err))
	}
}

func (r *appInstallResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importInTenant(ctx, req, resp, "app name")
}

// errNoCachedRead marks a plan step that found nothing of refresh's read to plan against.
var errNoCachedRead = errors.New("no cached read of the tenant")
