// Package status owns the reconciler's tables in the control-plane database (the same libSQL database as
// the tenant registry): per-tenant status with conditions and a bounded history (reconcile_status,
// reconcile_history), rollout records that let a restarted reconciler resume without migrating a tenant
// twice (reconcile_rollouts, reconcile_tasks), per-tenant leases that split tenants between replicas
// (reconcile_leases) and the last fetched source revision (reconcile_source).
//
// The control plane may be a remote libSQL database shared by replicas, where every request is a WAN
// round trip; so every method here is ONE request (database.Batcher): a read answers from one snapshot,
// a write is one transaction. Callers batch what they write (Batch) instead of writing row by row.
package status

import (
	"time"
)

// Condition types (kstatus): exactly one holds per tenant.
const (
	Ready       = "Ready"
	Reconciling = "Reconciling"
	Stalled     = "Stalled"
)

// Reasons.
const (
	ReasonApplied            = "Applied"
	ReasonUpToDate           = "UpToDate"
	ReasonProgressing        = "Progressing"
	ReasonInvalidRevision    = "InvalidRevision"
	ReasonDestructiveRefused = "DestructiveRefused"
	ReasonPlanFailed         = "PlanFailed"
	ReasonApplyFailed        = "ApplyFailed"
	ReasonHalted             = "RolloutHalted"
	ReasonDrifted            = "Drifted"
	ReasonHealed             = "DriftHealed"
	ReasonSuspended          = "Suspended"         // not attempted: suspended by `objectstack suspend`
	ReasonOutsideWindow      = "OutsideSyncWindow" // planned, not applied: outside the tenant's sync windows
)

// HistoryLimit is how many history entries are kept per tenant (Argo CD's default).
const HistoryLimit = 10

// HistoryEntry is one reconcile attempt of one tenant.
type HistoryEntry struct {
	Revision   string    `json:"revision"`
	Checksum   string    `json:"checksum,omitempty"`
	Result     string    `json:"result"` // applied | failed | refused | drifted | healed
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	Statements int       `json:"statements"`
	DurationMs int64     `json:"durationMs"`
	At         time.Time `json:"at"`
}

// Tenant is the reconcile status of one tenant.
type Tenant struct {
	TenantID              string            `json:"tenantId"`
	LastAppliedRevision   string            `json:"lastAppliedRevision,omitempty"`
	LastAttemptedRevision string            `json:"lastAttemptedRevision,omitempty"`
	Checksum              string            `json:"checksum,omitempty"` // of everything last applied to the tenant
	AttemptedChecksum     string            `json:"attemptedChecksum,omitempty"`
	Owners                map[string]string `json:"owners,omitempty"` // owner → checksum last applied
	Condition             string            `json:"condition"`
	Reason                string            `json:"reason,omitempty"`
	Message               string            `json:"message,omitempty"`
	Error                 string            `json:"error,omitempty"`
	Drifted               bool              `json:"drifted"`
	DriftCheckedAt        *time.Time        `json:"driftCheckedAt,omitempty"`
	UpdatedAt             time.Time         `json:"updatedAt"`
	History               []HistoryEntry    `json:"history,omitempty"`
	// Suspension, when set, stops the reconciler from applying anything to this tenant (derived from the
	// suspensions in force when status is read; not stored in the tenant's row).
	Suspension *Suspension `json:"suspension,omitempty"`
}

// Update records the outcome of one tenant: the new status row, an optional history entry, and the
// rollout task state to set (when RolloutID > 0).
type Update struct {
	Status    Tenant
	History   *HistoryEntry
	RolloutID int64
	TaskState string
	// ReleaseHolder, when set, drops the tenant's lease held by that holder in the same transaction.
	ReleaseHolder string
}

// Task states of a rollout.
const (
	TaskPending = "pending"
	TaskApplied = "applied"
	TaskFailed  = "failed"
	TaskSkipped = "skipped" // halted before it ran
)

// Rollout states.
const (
	RolloutRunning    = "running"
	RolloutCompleted  = "completed"
	RolloutHalted     = "halted"
	RolloutFailed     = "failed"
	RolloutSuperseded = "superseded"
	RolloutSuspended  = "suspended" // stopped starting tenants: suspended; resumed by a new rollout once lifted
)

// Rollout is the persisted record of applying one revision.
type Rollout struct {
	ID        int64             `json:"id"`
	Revision  string            `json:"revision"`
	Digest    string            `json:"digest"`
	State     string            `json:"state"`
	Wave      string            `json:"wave,omitempty"`
	Message   string            `json:"message,omitempty"`
	StartedAt time.Time         `json:"startedAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Tasks     map[string]string `json:"tasks,omitempty"` // tenant → task state
}

// Issue is a validation problem of a revision, by file, line and path.
type Issue struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// Source is the last revision the reconciler fetched and whether it was valid.
type Source struct {
	Repo      string    `json:"repo"`
	Revision  string    `json:"revision,omitempty"`
	Digest    string    `json:"digest,omitempty"`
	Valid     bool      `json:"valid"`
	Issues    []Issue   `json:"issues,omitempty"`
	Error     string    `json:"error,omitempty"`
	FetchedAt time.Time `json:"fetchedAt"`
}

var migrations = []string{
	`CREATE TABLE IF NOT EXISTS reconcile_status (
		tenant_id TEXT PRIMARY KEY,
		last_applied_revision TEXT NOT NULL DEFAULT '',
		last_attempted_revision TEXT NOT NULL DEFAULT '',
		checksum TEXT NOT NULL DEFAULT '',
		attempted_checksum TEXT NOT NULL DEFAULT '',
		owners TEXT NOT NULL DEFAULT '{}',
		condition TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT '',
		error TEXT NOT NULL DEFAULT '',
		drifted INTEGER NOT NULL DEFAULT 0,
		drift_checked_at TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS reconcile_history (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		tenant_id TEXT NOT NULL,
		revision TEXT NOT NULL,
		checksum TEXT NOT NULL DEFAULT '',
		result TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT '',
		statements INTEGER NOT NULL DEFAULT 0,
		duration_ms INTEGER NOT NULL DEFAULT 0,
		at TEXT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS reconcile_history_tenant ON reconcile_history(tenant_id, id)`,
	`CREATE TABLE IF NOT EXISTS reconcile_rollouts (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		revision TEXT NOT NULL,
		digest TEXT NOT NULL,
		state TEXT NOT NULL,
		wave TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT '',
		started_at TEXT NOT NULL,
		updated_at TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS reconcile_tasks (
		rollout_id INTEGER NOT NULL,
		tenant_id TEXT NOT NULL,
		wave TEXT NOT NULL,
		state TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		PRIMARY KEY (rollout_id, tenant_id))`,
	`CREATE TABLE IF NOT EXISTS reconcile_leases (
		tenant_id TEXT PRIMARY KEY,
		holder TEXT NOT NULL,
		expires_at INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS reconcile_source (
		repo TEXT PRIMARY KEY,
		revision TEXT NOT NULL DEFAULT '',
		digest TEXT NOT NULL DEFAULT '',
		valid INTEGER NOT NULL DEFAULT 0,
		issues TEXT NOT NULL DEFAULT '[]',
		error TEXT NOT NULL DEFAULT '',
		fetched_at TEXT NOT NULL)`,
}
