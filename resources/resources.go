// Package resources owns the objectstack provider's resources, data sources and ephemeral resources:
// their schemas, plan-time behaviour (the DDL in planned_statements, destructive-change refusals, drift)
// and CRUD, all delegating to the engine (internal/schema), tenants (internal/tenant) and apps
// (internal/apps) through the shared provider.Client.
package resources

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/provider"
)

// Provider returns the objectstack provider factory with every resource, data source and ephemeral
// resource of this package registered.
func Provider(version string) func() fwprovider.Provider {
	return provider.New(version, Registry())
}

// Registry lists everything this package serves.
func Registry() provider.Registry {
	return provider.Registry{
		Resources: []func() resource.Resource{
			NewTenantResource, NewDeployBundleResource, NewAppInstallResource, NewGroupResource,
		},
		DataSources: []func() datasource.DataSource{
			NewTenantDataSource, NewTenantsDataSource, NewBundleDataSource, NewGroupDataSource,
		},
		EphemeralResources: []func() ephemeral.EphemeralResource{
			NewTenantTokenEphemeralResource, NewGroupTokenEphemeralResource,
		},
	}
}

// Validation patterns shared by several schemas.
var (
	// tenantIDRE is ARCHITECTURE.md §4's tenant id rule; it maps to a deterministic database name.
	tenantIDRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)
	labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$`)
)

const tenantIDRule = "must be 2-41 characters: a lower-case letter, then lower-case letters, digits or dashes"

// Protocol enums (objectstack-protocol.md §1.1).
var (
	tenantPlans   = []string{"free", "pro", "enterprise"}
	tenantRegions = []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast", "ap-northeast"}
	tenantStates  = []string{"provisioning", "active", "suspended", "failed", "destroying", "archived"}
)

// clientFrom extracts the shared client from provider data, reporting a wrong type as a diagnostic.
// A nil client (provider not configured yet, as during validation) is not an error.
func clientFrom(data any, diags *diag.Diagnostics) *provider.Client {
	if data == nil {
		return nil
	}
	c, ok := data.(*provider.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *provider.Client, got %T; this is a bug in the provider", data))
		return nil
	}
	return c
}

// validationDiagnostics turns a bundle/app validation result into diagnostics: one per issue,
// errors as errors and warnings as warnings, each naming file:line, the path inside it and the rule.
func validationDiagnostics(kind, dir string, res bundle.ValidationResult) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, is := range res.Issues {
		msg := issueLine(dir, is)
		switch is.Severity {
		case bundle.SeverityError:
			diags.AddError(fmt.Sprintf("Invalid %s", kind), msg)
		case bundle.SeverityWarning:
			diags.AddWarning(fmt.Sprintf("%s warning", strings.ToUpper(kind[:1])+kind[1:]), msg)
		}
	}
	if !res.Valid && !diags.HasError() {
		diags.AddError(fmt.Sprintf("Invalid %s", kind), fmt.Sprintf("%s: the %s is not valid", dir, kind))
	}
	return diags
}

// splitImportID splits "tenant_id/name" import identifiers.
func splitImportID(id, what string) (string, string, error) {
	parts := strings.Split(id, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("import id %q must be \"<tenant_id>/<%s>\"", id, what)
	}
	if !tenantIDRE.MatchString(parts[0]) {
		return "", "", fmt.Errorf("import id %q: tenant id %q %s", id, parts[0], tenantIDRule)
	}
	return parts[0], parts[1], nil
}

// issueLine formats one validation issue as "file:line: path: message (code)".
func issueLine(dir string, is bundle.Issue) string {
	where := is.File
	if where == "" {
		where = dir
	}
	if is.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, is.Line)
	}
	msg := fmt.Sprintf("%s: %s: %s", where, is.Path, is.Message)
	if is.Code != "" {
		msg += " (" + is.Code + ")"
	}
	return msg
}

// stringList is a known list of strings; nil gives an empty list, never a null one, so computed
// attributes stay known.
func stringList(items []string) types.List {
	vals := make([]attr.Value, len(items))
	for i, s := range items {
		vals[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, vals)
}

// sortedStrings lists s sorted, leaving s alone: callers pass slices owned by cached bundles and apps.
func sortedStrings(s []string) types.List {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return stringList(c)
}

// sortedNames lists the objects' names sorted.
func sortedNames(objs []bundle.Object) types.List {
	names := make([]string, len(objs))
	for i := range objs {
		names[i] = objs[i].Name
	}
	return sortedStrings(names)
}
