// Package provider owns the objectstack Terraform/OpenTofu provider: its configuration schema, how the
// configuration is resolved from attributes and environment variables, and the one shared Client that
// Configure builds and hands to every resource, data source and ephemeral resource (package resources).
package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Backends.
const (
	BackendLocal = "local"
	BackendTurso = "turso"
)

// Defaults applied when neither the attribute nor its environment variable is set.
const (
	DefaultDataDir    = ".objectstack"
	DefaultAPIURL     = "https://api.turso.tech"
	DefaultGroup      = "default"
	DefaultMaxRetries = 3
)

// Registry lists the resources, data sources and ephemeral resources the provider serves. Package
// resources supplies it; keeping the list outside this package lets resources depend on Client
// without an import cycle.
type Registry struct {
	Resources          []func() resource.Resource
	DataSources        []func() datasource.DataSource
	EphemeralResources []func() ephemeral.EphemeralResource
}

// Provider is the objectstack provider.
type Provider struct {
	version  string
	registry Registry
}

var (
	_ provider.Provider                       = (*Provider)(nil)
	_ provider.ProviderWithEphemeralResources = (*Provider)(nil)
)

// New returns a provider factory for providerserver.Serve and terraform-plugin-testing.
func New(version string, reg Registry) func() provider.Provider {
	return func() provider.Provider { return &Provider{version: version, registry: reg} }
}

// Model is the provider configuration as written.
type Model struct {
	Backend      types.String `tfsdk:"backend"`
	DataDir      types.String `tfsdk:"data_dir"`
	APIURL       types.String `tfsdk:"api_url"`
	Organization types.String `tfsdk:"organization"`
	APIToken     types.String `tfsdk:"api_token"`
	Group        types.String `tfsdk:"group"`
	MaxRetries   types.Int64  `tfsdk:"max_retries"`
	RegionGroups types.Map    `tfsdk:"region_groups"`
}

// Metadata names the provider.
func (p *Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "objectstack"
	resp.Version = p.version
}

// Schema describes the provider block.
func (p *Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The ObjectStack provider manages multi-tenant SaaS databases: **tenants** (one SQLite/libSQL " +
			"database each), the **metadata bundles** deployed to them (typed objects and fields turned into DDL) and the " +
			"**marketplace apps** installed in them.\n\n" +
			"`terraform plan` / `tofu plan` shows, per tenant database, the exact SQL statements `apply` will run " +
			"(`planned_statements`); destructive changes (dropping a table or column, lossy type changes) fail the plan " +
			"unless explicitly allowed.\n\n" +
			"Two backends share one code path: `local` (the default), where every tenant database is a SQLite file " +
			"under `data_dir` and no account is needed; and `turso`, where tenant databases are created through the Turso " +
			"Platform API (or a compatible server such as `objectstack dev`) in `organization` and `group`. " +
			"With either backend the tenant registry (control plane) is a SQLite database in `data_dir`.\n\n" +
			"Every argument can also be set through an environment variable, which is used when the argument is omitted.",
		Attributes: map[string]schema.Attribute{
			"backend": schema.StringAttribute{
				MarkdownDescription: "Where tenant databases live: `local` (SQLite files under `data_dir`) or `turso` (Turso " +
					"Platform API at `api_url`). Environment variable: `OBJECTSTACK_BACKEND`. Default: `local`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(BackendLocal, BackendTurso)},
			},
			"data_dir": schema.StringAttribute{
				MarkdownDescription: "Folder for the tenant registry (`control.db`), local tenant databases and backups, " +
					"relative to the working directory. Created when missing. Environment variable: `OBJECTSTACK_DATA_DIR`. " +
					"Default: `" + DefaultDataDir + "`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"api_url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the Turso Platform API (backend `turso` only). Must be `https://`, except " +
					"for a loopback address such as `http://127.0.0.1:8080` served by `objectstack dev`. Environment " +
					"variable: `OBJECTSTACK_API_URL`. Default: `" + DefaultAPIURL + "`.",
				Optional:   true,
				Validators: []validator.String{apiURLValidator{}},
			},
			"organization": schema.StringAttribute{
				MarkdownDescription: "Turso organization slug (backend `turso` only, required there). Environment variables: " +
					"`OBJECTSTACK_ORG`, then `TURSO_ORG`.",
				Optional: true,
				Validators: []validator.String{stringvalidator.RegexMatches(slugRE,
					"must be an organization slug: lower-case letters, digits and dashes")},
			},
			"api_token": schema.StringAttribute{
				MarkdownDescription: "Turso Platform API token (backend `turso` only, required there). Never logged or " +
					"stored in state. Environment variables: `OBJECTSTACK_API_TOKEN`, then `TURSO_API_TOKEN`.",
				Optional:   true,
				Sensitive:  true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"group": schema.StringAttribute{
				MarkdownDescription: "Turso database group new tenant databases are created in (backend `turso`). " +
					"Environment variable: `OBJECTSTACK_GROUP`. Default: `" + DefaultGroup + "`.",
				Optional: true,
				Validators: []validator.String{stringvalidator.RegexMatches(slugRE,
					"must be a group name: lower-case letters, digits and dashes")},
			},
			"max_retries": schema.Int64Attribute{
				MarkdownDescription: "How many times an idempotent Platform API request is retried after a rate limit " +
					"(HTTP 429, honouring `Retry-After`) or a transient server error, with jittered exponential backoff. " +
					"Requests that create something are never retried blindly. Environment variable: " +
					"`OBJECTSTACK_MAX_RETRIES`. Default: `3`.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(0, 20)},
			},
			"region_groups": regionGroupsAttribute(),
		},
	}
}

// Settings is the resolved provider configuration: attributes, then environment variables, then defaults.
type Settings struct {
	Backend      string
	DataDir      string
	APIURL       string
	Organization string
	APIToken     string // secret
	Group        string
	MaxRetries   int
	// RegionGroups maps a tenant region to the group its databases are created in.
	RegionGroups map[string]string
}

// key identifies a configuration for the process-wide client cache. It includes a hash of the
// token rather than the token itself.
func (s Settings) key() string {
	return strings.Join([]string{s.Backend, s.DataDir, s.APIURL, s.Organization, fingerprint(s.APIToken), s.Group,
		fmt.Sprint(s.MaxRetries), regionGroupsKey(s.RegionGroups)}, "\x00")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func pick(attr types.String, def string, env ...string) string {
	if !attr.IsNull() && !attr.IsUnknown() && attr.ValueString() != "" {
		return attr.ValueString()
	}
	if v := firstEnv(env...); v != "" {
		return v
	}
	return def
}

// Resolve turns the written configuration into Settings, reporting problems against the attribute
// (or environment variable) they come from.
func Resolve(m Model) (Settings, []SettingError) {
	s := Settings{
		Backend:      pick(m.Backend, BackendLocal, "OBJECTSTACK_BACKEND"),
		DataDir:      pick(m.DataDir, DefaultDataDir, "OBJECTSTACK_DATA_DIR"),
		APIURL:       pick(m.APIURL, DefaultAPIURL, "OBJECTSTACK_API_URL"),
		Organization: pick(m.Organization, "", "OBJECTSTACK_ORG", "TURSO_ORG"),
		APIToken:     pick(m.APIToken, "", "OBJECTSTACK_API_TOKEN", "TURSO_API_TOKEN"),
		Group:        pick(m.Group, DefaultGroup, "OBJECTSTACK_GROUP"),
		MaxRetries:   DefaultMaxRetries,
	}
	var errs []SettingError
	if !m.MaxRetries.IsNull() && !m.MaxRetries.IsUnknown() {
		s.MaxRetries = int(m.MaxRetries.ValueInt64())
	} else if v := os.Getenv("OBJECTSTACK_MAX_RETRIES"); v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 0 || n > 20 {
			errs = append(errs, SettingError{"max_retries", "OBJECTSTACK_MAX_RETRIES must be a whole number between 0 and 20"})
		} else {
			s.MaxRetries = n
		}
	}
	switch s.Backend {
	case BackendLocal:
	case BackendTurso:
		if s.Organization == "" {
			errs = append(errs, SettingError{"organization", "backend \"turso\" needs an organization: set `organization` or OBJECTSTACK_ORG / TURSO_ORG"})
		}
		if s.APIToken == "" {
			errs = append(errs, SettingError{"api_token", "backend \"turso\" needs a Platform API token: set `api_token` or OBJECTSTACK_API_TOKEN / TURSO_API_TOKEN"})
		}
		if msg := checkAPIURL(s.APIURL); msg != "" {
			errs = append(errs, SettingError{"api_url", msg})
		}
	default:
		errs = append(errs, SettingError{"backend", fmt.Sprintf("backend %q (from OBJECTSTACK_BACKEND) must be \"local\" or \"turso\"", s.Backend)})
	}
	return s, errs
}

// SettingError is a configuration problem tied to one provider attribute.
type SettingError struct {
	Attribute string
	Message   string
}

// Configure resolves the configuration and builds (or reuses) the shared Client.
func (p *Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m Model
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, a := range []struct {
		name string
		v    interface{ IsUnknown() bool }
	}{{"backend", m.Backend}, {"data_dir", m.DataDir}, {"api_url", m.APIURL}, {"organization", m.Organization},
		{"api_token", m.APIToken}, {"group", m.Group}, {"max_retries", m.MaxRetries}, {"region_groups", m.RegionGroups}} {
		if a.v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(a.name), "Unknown provider setting",
				"The provider's "+a.name+" depends on a value that is only known after apply. Provider settings must be "+
					"known at plan time: use a literal, a variable or an environment variable.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	s, errs := Resolve(m)
	rg, diags := regionGroupsFrom(ctx, m.RegionGroups)
	resp.Diagnostics.Append(diags...)
	s.RegionGroups = rg
	for _, e := range errs {
		resp.Diagnostics.AddAttributeError(path.Root(e.Attribute), "Invalid provider configuration", e.Message)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := SharedClient(ctx, s)
	if err != nil {
		resp.Diagnostics.AddError("Cannot open the ObjectStack control plane", err.Error())
		return
	}
	resp.ResourceData = c
	resp.DataSourceData = c
	resp.EphemeralResourceData = c
}

// Resources lists the managed resources.
func (p *Provider) Resources(context.Context) []func() resource.Resource { return p.registry.Resources }

// DataSources lists the data sources.
func (p *Provider) DataSources(context.Context) []func() datasource.DataSource {
	return p.registry.DataSources
}

// EphemeralResources lists the ephemeral resources.
func (p *Provider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return p.registry.EphemeralResources
}

func checkAPIURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("api_url %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return ""
		}
		return fmt.Sprintf("api_url %q must use https:// (plain http:// is only accepted for a loopback address such as objectstack dev)", raw)
	default:
		return fmt.Sprintf("api_url %q must be an https:// URL", raw)
	}
}

// apiURLValidator checks api_url at validate time.
type apiURLValidator struct{}

func (apiURLValidator) Description(context.Context) string {
	return "must be an https:// URL, or http:// on a loopback address"
}
func (v apiURLValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (apiURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := checkAPIURL(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid api_url", msg)
	}
}
