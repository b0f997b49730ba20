// Package apps owns marketplace apps inside a tenant database: the app package format (app.yaml + objects, views,
// flows and seed datasets), catalogs of app folders with dependency resolution, the compatibility check, and
// install / upgrade / uninstall. Schema changes go through internal/schema as owner "app:<name>"; this package owns
// the seeding SQL and the _objectstack_apps registry table, both written inside the engine's apply transaction so an
// install is all-or-nothing.
package apps

import (
	"context"
	"errors"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// KernelVersion is the ObjectStack kernel version this project implements; an app's minKernelVersion is compared
// against it.
const KernelVersion = "1.0.0"

// App is an app package loaded from a folder.
type App struct {
	Manifest Manifest
	Objects  []bundle.Object
	Datasets []bundle.Dataset
	Views    []map[string]any
	Flows    []map[string]any
	// Dir is the folder the app was loaded from.
	Dir string
	// Checksum is the SHA-256 (hex) of the manifest, objects, views, flows and seed data, independent of formatting.
	Checksum string

	invalid error // set by Load when validation found errors; Install and PlanInstall refuse such an app
}

// Owner is the engine owner the app's objects are registered under.
func (a *App) Owner() schema.Owner { return schema.AppOwner(a.Manifest.Name) }

// ObjectNames lists the app's objects in definition order.
func (a *App) ObjectNames() []string {
	out := make([]string, len(a.Objects))
	for i := range a.Objects {
		out[i] = a.Objects[i].Name
	}
	return out
}

// Limits are the tenant quotas an install must respect; nil means unlimited.
type Limits struct {
	MaxObjects          *int64
	MaxRecordsPerObject *int64
	// MaxDeploymentsPerDay counts the deployments (engine registry rows, failed ones aside) started this UTC day;
	// its usage is read with the tenant (QuotaReads), so it costs no round trip of its own.
	MaxDeploymentsPerDay *int64
}

// InstallOptions steer Check, PlanInstall and Install.
type InstallOptions struct {
	// ConfigOverrides are validated against the manifest's config declarations and stored with the install.
	ConfigOverrides map[string]any
	SkipSeedData    bool
	// Allow lists the destructive change kinds an upgrade may make.
	Allow          []schema.DestructiveKind
	AllowDowngrade bool
	Limits         Limits
	// Source is recorded with the deployment ("cli", "terraform", ...).
	Source string
	// Holder is the migration-lease holder the install runs under (see schema.AcquireLock); empty = a one-off id,
	// which fails while anybody else holds the lease.
	Holder string
	// Env selects which seed datasets apply (a dataset's env list, default all of prod, dev, test). Default "prod".
	Env string
	// Catalog, when set, lets Check explain dependency chains of apps that are not installed yet.
	Catalog *Catalog
	// RestorePoint is the engine's restore-point hook for an upgrade with a destructive change
	// (schema.ApplyOptions.RestorePoint: a snapshot on the local backend).
	RestorePoint func(context.Context) (time.Time, error)
}

// Compatibility issue categories (protocol §1.5).
const (
	CategoryKernelVersion     = "kernel_version"
	CategoryObjectConflict    = "object_conflict"
	CategoryDependencyMissing = "dependency_missing"
	CategoryQuotaExceeded     = "quota_exceeded"
)

// CompatibilityIssue is one problem found by Check.
type CompatibilityIssue struct {
	Severity string `json:"severity"` // error | warning
	Message  string `json:"message"`
	Category string `json:"category"`
}

// AppCompatibilityCheck is the protocol's result of checkCompatibility: every issue found, not just the first.
type AppCompatibilityCheck struct {
	Compatible bool                 `json:"compatible"`
	Issues     []CompatibilityIssue `json:"issues"`
}

// AppInstallResult is the protocol's AppInstallResult.
type AppInstallResult struct {
	Success          bool     `json:"success"`
	AppID            string   `json:"appId"`
	Version          string   `json:"version"`
	InstalledObjects []string `json:"installedObjects"`
	CreatedTables    []string `json:"createdTables"`
	SeededRecords    int      `json:"seededRecords"`
	DurationMs       int64    `json:"durationMs"`
	Error            string   `json:"error,omitempty"`
	// The fields below extend the protocol shape for callers that need to know what happened.
	Action             Action `json:"action"`
	PreviousVersion    string `json:"previousVersion,omitempty"`
	DeploymentID       string `json:"deploymentId,omitempty"`
	StatementsExecuted int    `json:"statementsExecuted"`
}

// Action is what an install does to the tenant.
type Action string

// Install actions.
const (
	ActionInstall   Action = "install"   // not installed before
	ActionUpgrade   Action = "upgrade"   // a newer version
	ActionDowngrade Action = "downgrade" // an older version (needs AllowDowngrade)
	ActionReinstall Action = "reinstall" // same version, different contents or configuration
	ActionNone      Action = "none"      // same version, same checksum, same configuration
)

// SeedCount is how many records a dataset holds for one object.
type SeedCount struct {
	Object  string `json:"object"`
	Mode    string `json:"mode"`
	Records int    `json:"records"`
}

// InstallPlan is what Install would do, computed without writing anything (Terraform plan time).
type InstallPlan struct {
	App              string                `json:"appId"`
	Version          string                `json:"version"`
	InstalledVersion string                `json:"installedVersion,omitempty"`
	Action           Action                `json:"action"`
	Check            AppCompatibilityCheck `json:"check"`
	// Schema is the engine's plan for the app's objects (DDL, diff, destructive changes). It is nil when Check
	// found object conflicts: the engine cannot plan objects another owner holds.
	Schema *schema.Plan `json:"schema"`
	Seed   []SeedCount  `json:"seed"`
	// SeedRecords is the total of Seed (0 when seed data is skipped).
	SeedRecords int `json:"seedRecords"`
	// Config is the configuration that would be stored: declared defaults merged with the overrides.
	Config map[string]any `json:"config"`

	seeds   []seedTarget    // the encoded seed rows, reused by Install
	existed map[string]bool // the app's tables that existed when the tenant was read (they may hold rows)
}

// InstalledApp is one row of _objectstack_apps.
type InstalledApp struct {
	Name         string         `json:"name"`
	Version      string         `json:"version"`
	Checksum     string         `json:"checksum"`
	Config       map[string]any `json:"config"`
	Objects      []string       `json:"objects"`
	Dependencies []Dependency   `json:"dependencies"`
	InstalledAt  string         `json:"installedAt"`
	UpdatedAt    string         `json:"updatedAt"`
}

// UninstallOptions steer Uninstall.
type UninstallOptions struct {
	// Purge drops the app's tables (and their data). Without it the tables stay and only the ownership is removed.
	Purge  bool
	Source string
	Holder string // migration-lease holder, as InstallOptions.Holder
}

// Errors callers can test with errors.Is.
var (
	// ErrIncompatible: the compatibility check found at least one error; the message lists them all.
	ErrIncompatible = errors.New("app is not compatible with this tenant")
	// ErrNotInstalled: the app is not installed in this tenant database.
	ErrNotInstalled = errors.New("app is not installed")
	// ErrDowngrade: the installed version is newer and AllowDowngrade was not set.
	ErrDowngrade = errors.New("downgrade refused")
	// ErrHasDependents: another installed app depends on the app being uninstalled.
	ErrHasDependents = errors.New("other installed apps depend on it")
	// ErrInvalidApp: the app package failed validation.
	ErrInvalidApp = errors.New("invalid app package")
)
