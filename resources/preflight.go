package resources

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// preflightPlan runs the engine's pre-flight for p (a bundle's or an app's; no request when it touches no existing rows)
// and turns a predicted failure into one error diagnostic per rule broken, naming the tenant and bundle or app (where),
// the object, the field, the rule, the count and the samples. It reports whether planning may go on.
func preflightPlan(ctx context.Context, db *sql.DB, p *engine.Plan, where string, diags *diag.Diagnostics) bool {
	err := engine.Preflight(ctx, db, p)
	if err == nil {
		return true
	}
	pe, ok := engine.AsPreflightError(err)
	if !ok {
		diags.AddError("Cannot check the data", fmt.Sprintf("%s: %v", where, err))
		return false
	}
	for _, f := range pe.Failures {
		target := f.Object
		if f.Field != "" {
			target += "." + f.Field
		}
		diags.AddAttributeError(path.Root("path"), "Pre-flight: the data would fail the migration",
			fmt.Sprintf("%s: %s: rule %s broken by %d existing row(s) or key(s): %s\nSamples: %s\nNothing was applied: fix those rows (or the bundle) and plan again.",
				where, target, f.Rule, f.Count, f.Message, strings.Join(f.Samples, "; ")))
	}
	return false
}

// losslessWarnings says, at plan time, which type changes the data shows to be lossless (they need no
// lossy_type_change; the apply re-checks them in its transaction).
func losslessWarnings(p *engine.Plan, where string, diags *diag.Diagnostics) {
	if p.Preflight == nil {
		return
	}
	for _, f := range p.Preflight.Lossless {
		diags.AddWarning("Type change lossless for this data", fmt.Sprintf("%s: %s.%s: %s", where, f.Object, f.Field, f.Message))
	}
}
