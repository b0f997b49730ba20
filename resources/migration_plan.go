package resources

// The plan-time migration attributes objectstack_deploy_bundle and objectstack_app_install both
// compute: the engine plans one owner (a bundle or an app) against one tenant database, and both
// resources show, refuse and re-check that plan the same way.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

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

// summaryType is the object type of change_summary.
var summaryType = map[string]attr.Type{"added": types.Int64Type, "modified": types.Int64Type, "removed": types.Int64Type}

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
			"`lossy_type_change`, `drop_constraint` (a rebuild dropping UNIQUE/CHECK/... clauses written by hand into " +
			"an adopted table). A type change that the data shows lossless (every value survives the cast) needs no " +
			"`lossy_type_change`: the apply re-checks it in its transaction. A plan with a destructive change whose kind is not listed fails, naming each change; " +
			"nothing is applied. A destructive change that only repairing drift needs (say a column added by hand, " +
			"which restoring the deployed schema drops) does not fail the plan: it is a warning, so `destroy` and " +
			"changes elsewhere are never blocked by a hand edit, but applying that repair is refused unless its kind " +
			"is listed.",
		Optional:    true,
		ElementType: types.StringType,
		Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(
			string(engine.DropTable), string(engine.DropColumn), string(engine.LossyTypeChange), string(engine.DropConstraint)))},
	}
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
	if r, ok := c.OldValue.(engine.RenameInfo); ok {
		return fmt.Sprintf("%s %s %s (renamed from %s)", c.ChangeType, c.EntityType, name, r.Name)
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

// refuseDestructive adds one diagnostic per destructive change whose kind is not allowed. At apply every
// such change is an error: allow_destructive is what apply may run. At plan time (atPlan) only the changes
// the configuration asks for are errors; those that only repairing drift needs (a column added by hand, a
// type changed by hand) are warnings. Terraform and OpenTofu plan in normal mode before every destroy, so
// an error there would make a tenant changed by hand impossible to destroy, and a change elsewhere in the
// configuration impossible to plan; the update stays in the plan, visible, and its apply refuses it.
func refuseDestructive(p *engine.Plan, allow []engine.DestructiveKind, where string, atPlan bool, diags *diag.Diagnostics) {
	if err := p.CheckAllowed(allow); err == nil {
		return
	}
	allowed := map[engine.DestructiveKind]bool{}
	for _, k := range allow {
		allowed[k] = true
	}
	fromDrift := driftOnly(p)
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
		if !fromDrift[d] {
			diags.AddAttributeError(path.Root("allow_destructive"), "Destructive change refused",
				fmt.Sprintf("%s: %s %s: %s\nNothing was applied. To allow it, add %q to allow_destructive.",
					where, d.Kind, target, d.Message, string(d.Kind)))
			continue
		}
		msg := fmt.Sprintf("%s: the database was changed outside Terraform; restoring the deployed schema needs %s %s: %s\n",
			where, d.Kind, target, d.Message)
		if atPlan {
			diags.AddAttributeWarning(path.Root("allow_destructive"), "Drift needs a destructive change",
				msg+fmt.Sprintf("The configuration does not ask for it, so the plan goes on (a destroy is not blocked), "+
					"but applying this update refuses it. To restore the schema, add %q to allow_destructive; "+
					"or undo the change by hand.", string(d.Kind)))
			continue
		}
		diags.AddAttributeError(path.Root("allow_destructive"), "Destructive change refused",
			msg+fmt.Sprintf("Nothing was applied. To allow it, add %q to allow_destructive; or undo the change by hand.", string(d.Kind)))
	}
	if n == 0 {
		diags.AddAttributeError(path.Root("allow_destructive"), "Destructive change refused",
			fmt.Sprintf("%s: %v", where, p.CheckAllowed(allow)))
	}
}

// driftOnly marks the destructive changes of p that only drift asks for: restoring the owner's objects as
// registered (what the last apply deployed) against the live database needs them too, and the configured
// definition of the object or field concerned is the registered one. A change the configuration makes (a
// field removed or retyped in the bundle, an object dropped) is never drift, even where the database also
// drifted. Planned from the State p was made from, so it costs no request.
func driftOnly(p *engine.Plan) map[engine.DestructiveChange]bool {
	st := p.State()
	if st == nil || len(p.Destructive) == 0 {
		return nil
	}
	regs, err := st.Registered()
	if err != nil {
		return nil
	}
	var deployed []bundle.Object
	for _, ro := range regs {
		if ro.Owner == p.Owner {
			deployed = append(deployed, ro.Definition)
		}
	}
	if len(deployed) == 0 {
		return nil
	}
	restore, err := st.Plan(p.Owner, deployed)
	if err != nil {
		return nil
	}
	needed := map[engine.DestructiveChange]bool{}
	for _, d := range restore.Destructive {
		needed[engine.DestructiveChange{Kind: d.Kind, Object: d.Object, Field: d.Field}] = true
	}
	out := map[engine.DestructiveChange]bool{}
	for _, d := range p.Destructive {
		if needed[engine.DestructiveChange{Kind: d.Kind, Object: d.Object, Field: d.Field}] &&
			sameDefinition(deployed, p.Objects(), d.Object, d.Field) {
			out[d] = true
		}
	}
	return out
}

// sameDefinition reports whether object (and field, when not empty) is defined the same way in a and b:
// both absent counts as the same (a column added by hand belongs to no field).
func sameDefinition(a, b []bundle.Object, object, field string) bool {
	oa, ob := findObject(a, object), findObject(b, object)
	if oa == nil || ob == nil {
		return oa == nil && ob == nil
	}
	if field == "" {
		return sameJSON(*oa, *ob)
	}
	fa, fb := findField(oa, field), findField(ob, field)
	if fa == nil || fb == nil {
		return fa == nil && fb == nil
	}
	return sameJSON(*fa, *fb)
}

// sameJSON compares two definitions as the registry stores them (JSON), which leaves out where they were
// loaded from (file, line).
func sameJSON(a, b any) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

func findObject(objs []bundle.Object, name string) *bundle.Object {
	for i := range objs {
		if objs[i].Name == name {
			return &objs[i]
		}
	}
	return nil
}

func findField(o *bundle.Object, key string) *bundle.Field {
	for i := range o.Fields {
		if o.Fields[i].Key == key || o.Fields[i].Column() == key {
			return &o.Fields[i]
		}
	}
	return nil
}

// plannedStatementsChanged refuses an apply whose database moved since the plan: it compares the
// statements the plan showed with the ones p (planned again at apply time) needs, and when they
// differ adds the error and returns true. planned_statements is unknown when the tenant did not
// exist at plan time; then nothing was shown and there is nothing to compare.
func plannedStatementsChanged(ctx context.Context, planned types.List, p *engine.Plan, where string, diags *diag.Diagnostics) bool {
	if planned.IsUnknown() || planned.IsNull() {
		return false
	}
	var shown []string
	diags.Append(planned.ElementsAs(ctx, &shown, false)...)
	got := statementSQL(p)
	if slices.Equal(shown, got) {
		return false
	}
	diags.AddError("Tenant database changed since plan",
		fmt.Sprintf("%s: the plan showed %d statement(s) but the database now needs %d different one(s). Nothing was applied; run plan again.",
			where, len(shown), len(got)))
	return true
}
