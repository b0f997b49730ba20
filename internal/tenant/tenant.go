// Package tenant owns the tenant control plane: the tenant registry (a libSQL database, control.db by
// default), the provisioning pipeline that gives every tenant its own database (create_database,
// create_token, register_tenant, sync_schema, seed_data, activate), the lifecycle around it
// (suspend, resume, destroy with grace period and backup, purge), quotas and usage, and — through
// the router sub-package — the per-tenant database handles the rest of the system uses.
//
// Everything here works the same against the local platform (SQLite files) and the Turso platform
// (the Turso Platform API or `objectstack dev`). Database tokens are kept encrypted at rest and are
// never logged, printed or put into errors.
package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Errors callers branch on with errors.Is.
var (
	// ErrNotFound: no tenant with that id in the registry.
	ErrNotFound = errors.New("tenant not found")
	// ErrInvalid: the request breaks a rule (id format, plan, region, quotas, ...). Nothing was created.
	ErrInvalid = errors.New("invalid tenant request")
	// ErrConflict: the id collides with an existing tenant (after normalisation, or with another org),
	// or a database with the tenant's name belongs to something else.
	ErrConflict = errors.New("tenant conflict")
	// ErrState: the operation is not allowed in the tenant's current status.
	ErrState = errors.New("tenant status does not allow this")
)

// Plan is the TenantPlan enum (protocol §1.1; §6.2: one type, free|pro|enterprise).
const (
	PlanFree       = "free"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Plans lists the valid plans.
var Plans = []string{PlanFree, PlanPro, PlanEnterprise}

// Regions lists the TenantRegion enum (protocol §1.1). Each maps to a Turso group through Config.Regions.
var Regions = []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast", "ap-northeast"}

// Defaults of a TenantProvisioningRequest (protocol §1.3).
const (
	DefaultPlan   = PlanFree
	DefaultRegion = "us-east"
)

// Status values (protocol §1.1 plus archived, §6.3).
const (
	StatusProvisioning = "provisioning"
	StatusActive       = "active"
	StatusSuspended    = "suspended"
	StatusFailed       = "failed"
	StatusDestroying   = "destroying"
	StatusArchived     = "archived"
)

// Statuses lists every status in lifecycle order.
var Statuses = []string{StatusProvisioning, StatusActive, StatusSuspended, StatusFailed, StatusDestroying, StatusArchived}

// Provisioning step names, in order (protocol §1.3 Rec.).
const (
	StepCreateDatabase = "create_database"
	StepCreateToken    = "create_token"
	StepRegisterTenant = "register_tenant"
	StepSyncSchema     = "sync_schema"
	StepSeedData       = "seed_data"
	StepActivate       = "activate"
)

// StepNames lists the pipeline's steps in the order they run.
var StepNames = []string{StepCreateDatabase, StepCreateToken, StepRegisterTenant, StepSyncSchema, StepSeedData, StepActivate}

// ProvisioningStepStatus values.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepCompleted = "completed"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
)

// Step is one observable provisioning step (protocol ProvisioningStep).
type Step struct {
	Name        string `json:"name"`
	Status      string `json:"status"`
	StartedAt   string `json:"startedAt,omitempty"`
	CompletedAt string `json:"completedAt,omitempty"`
	DurationMs  *int64 `json:"durationMs,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Tenant is one row of the tenant registry.
type Tenant struct {
	ID           string            `json:"id"`
	OrgID        string            `json:"orgId"`
	DisplayName  string            `json:"displayName,omitempty"`
	Plan         string            `json:"plan"`
	Region       string            `json:"region"`
	Labels       map[string]string `json:"labels,omitempty"`
	Quotas       Quotas            `json:"quotas"`
	Status       string            `json:"status"`
	DatabaseName string            `json:"databaseName"`
	DatabaseURL  string            `json:"databaseUrl,omitempty"`
	Group        string            `json:"group,omitempty"`
	Steps        []Step            `json:"steps"`
	Error        string            `json:"error,omitempty"`
	// PurgeAfter is set while Status is destroying: PurgeExpired deletes the database after it.
	PurgeAfter *time.Time `json:"purgeAfter,omitempty"`
	// BackupPath is the file the database was backed up to before deletion, if any.
	BackupPath    string     `json:"backupPath,omitempty"`
	ProvisionedAt *time.Time `json:"provisionedAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

// Request is a TenantProvisioningRequest plus the tenant id and an optional bundle to sync.
type Request struct {
	ID          string            `json:"id"`
	OrgID       string            `json:"orgId"`
	DisplayName string            `json:"displayName,omitempty"`
	Plan        string            `json:"plan,omitempty"`
	Region      string            `json:"region,omitempty"`
	AdminEmail  string            `json:"adminEmail,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Quotas      Quotas            `json:"quotas"`
	// Bundle is the schema (and seed data) to sync at provisioning; nil skips sync_schema and seed_data.
	Bundle *bundle.Bundle `json:"-"`
	// SeedDatabase names a template database to copy instead of running the bundle's DDL (template.go):
	// the copy is verified against Bundle (its plan must be empty) and the deployment recorded.
	SeedDatabase string `json:"seedDatabase,omitempty"`
}

// Result is the protocol's TenantProvisioningResult.
type Result struct {
	TenantID        string `json:"tenantId"`
	ConnectionURL   string `json:"connectionUrl"`
	Status          string `json:"status"`
	Region          string `json:"region"`
	Plan            string `json:"plan"`
	Steps           []Step `json:"steps"`
	TotalDurationMs int64  `json:"totalDurationMs"`
	ProvisionedAt   string `json:"provisionedAt,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Filter selects tenants in List; empty fields match everything, Labels must all match.
type Filter struct {
	Labels map[string]string
	Plan   string
	Region string
	Status string
	OrgID  string
}

// Update changes a tenant's mutable fields; nil fields stay as they are.
type Update struct {
	DisplayName *string
	Plan        *string
	Labels      *map[string]string
	Quotas      *Quotas
}

// DestroyOptions is the onTenantDelete lifecycle hook (protocol §1.6) for one call.
type DestroyOptions struct {
	// Immediate deletes the database now; otherwise the tenant waits in status destroying
	// (writes blocked, data intact, Resume cancels) until GracePeriod has passed and PurgeExpired runs.
	Immediate bool
	// GracePeriod; zero means DefaultGracePeriod. Ignored when Immediate.
	GracePeriod time.Duration
	// Backup copies the database into DataDir/backups before it is deleted.
	Backup bool
}

// DefaultGracePeriod is onTenantDelete.gracePeriodHours' default (72 h).
const DefaultGracePeriod = 72 * time.Hour

// idPattern is ARCHITECTURE.md §4: the tenant id doubles as (part of) a Turso database name.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)

// NormalizeID maps an id to its canonical form: trimmed, lower-cased, '_' → '-'. It then must match
// ^[a-z][a-z0-9-]{1,40}$; any other character is an error rather than being silently dropped.
func NormalizeID(raw string) (string, error) {
	id := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(raw)), "_", "-")
	if id == "" {
		return "", invalidf("id", raw, "is required")
	}
	if !idPattern.MatchString(id) {
		return "", invalidf("id", raw, "must match ^[a-z][a-z0-9-]{1,40}$ after normalisation (trim, lower-case, '_' → '-'): a letter first, then 1–40 letters, digits or dashes")
	}
	return id, nil
}

// ValidPlan reports whether p is one of Plans.
func ValidPlan(p string) bool { return contains(Plans, p) }

// ValidRegion reports whether r is one of Regions.
func ValidRegion(r string) bool { return contains(Regions, r) }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ValidationError names the field, the offending value and the rule it breaks. It wraps ErrInvalid.
type ValidationError struct {
	Field string
	Value string
	Rule  string
}

func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s %s", e.Field, e.Rule)
	}
	return fmt.Sprintf("%s %q %s", e.Field, e.Value, e.Rule)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalidf(field, value, rule string, a ...any) error {
	return &ValidationError{Field: field, Value: value, Rule: fmt.Sprintf(rule, a...)}
}

var labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$`)

func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if !labelKeyPattern.MatchString(k) {
			return invalidf("labels", k, "key must be 1–64 letters, digits, '.', '_', '/', '-' starting and ending with a letter or digit")
		}
		if len(v) > 256 {
			return invalidf("labels."+k, "", "value must be at most 256 characters")
		}
	}
	return nil
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// normalize validates r, fills the protocol defaults and returns the canonical id. Nothing is touched.
func (r *Request) normalize() (string, error) {
	id, err := NormalizeID(r.ID)
	if err != nil {
		return "", err
	}
	r.OrgID = strings.TrimSpace(r.OrgID)
	if r.OrgID == "" {
		return "", invalidf("orgId", "", "is required")
	}
	if r.Plan == "" {
		r.Plan = DefaultPlan
	}
	if !ValidPlan(r.Plan) {
		return "", invalidf("plan", r.Plan, "is not one of %s", strings.Join(Plans, ", "))
	}
	if r.Region == "" {
		r.Region = DefaultRegion
	}
	if !ValidRegion(r.Region) {
		return "", invalidf("region", r.Region, "is not one of %s", strings.Join(Regions, ", "))
	}
	if r.AdminEmail != "" && !emailPattern.MatchString(r.AdminEmail) {
		return "", invalidf("adminEmail", r.AdminEmail, "is not a valid email address")
	}
	if len(r.DisplayName) > 200 {
		return "", invalidf("displayName", "", "must be at most 200 characters")
	}
	if err := validateLabels(r.Labels); err != nil {
		return "", err
	}
	if err := r.Quotas.Validate(); err != nil {
		return "", err
	}
	if err := validateSeedDatabase(r.SeedDatabase); err != nil {
		return "", err
	}
	// The bundle synced at provisioning is the tenant's first deployment: it must fit the quotas the tenant is
	// created with (protocol: deny when current + requested > limit; a new database has no objects). Refusing it
	// here creates nothing, instead of a tenant born over its quota.
	if b := r.Bundle; b != nil && r.Quotas.MaxObjects != nil && int64(len(b.Objects)) > *r.Quotas.MaxObjects {
		return "", invalidf("quotas.maxObjects", strconv.FormatInt(*r.Quotas.MaxObjects, 10),
			"[quota_exceeded] is below the %d objects bundle %s declares; the tenant would start over its quota", len(b.Objects), b.Manifest.Name)
	}
	return id, nil
}
