package reconciler

import (
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Tenant outcomes of one reconcile.
const (
	OutcomeApplied  = "applied"  // statements ran
	OutcomeUpToDate = "uptodate" // planned, nothing to run (e.g. applied before a crash, or by another replica)
	OutcomeFailed   = "failed"   // plan or apply failed
	OutcomeRefused  = "refused"  // destructive changes without allowance
	OutcomeHalted   = "halted"   // not attempted: the failure policy stopped the rollout
	OutcomeLeased   = "leased"   // another replica holds the tenant's lease
	// OutcomeSuspended: not attempted, the tenant (or the repository) is suspended; not a failure.
	OutcomeSuspended = "suspended"
	// OutcomeDeferred: planned but not applied, the tenant is outside its sync windows; not a failure.
	OutcomeDeferred = "deferred"
)

// TenantResult is what happened to one tenant that needed work.
type TenantResult struct {
	TenantID      string   `json:"tenantId"`
	Wave          string   `json:"wave"`
	Outcome       string   `json:"outcome"`
	Statements    int      `json:"statements"`
	DeploymentIDs []string `json:"deploymentIds,omitempty"`
	Error         string   `json:"error,omitempty"`
	Refused       []string `json:"refused,omitempty"`
	// Pruned are owners removed because the repository no longer targets them here ("bundle:x (detach)").
	Pruned []string `json:"pruned,omitempty"`
	// Orphaned are owners no longer targeted here that stay because prune is off.
	Orphaned []string `json:"orphaned,omitempty"`
	// LeftAlone are owners no longer targeted here that Terraform or the CLI deployed last: never pruned.
	LeftAlone  []string `json:"leftAlone,omitempty"`
	DurationMs int64    `json:"durationMs"`
	// NextWindowAt is when a deferred tenant's next sync window opens (nil: none is scheduled).
	NextWindowAt *time.Time `json:"nextWindowAt,omitempty"`
	// WindowOverridden: applied outside its sync windows by --override-windows.
	WindowOverridden bool `json:"windowOverridden,omitempty"`
}

// Summary is the result of reconciling one revision.
type Summary struct {
	Revision string         `json:"revision"`
	Digest   string         `json:"digest"`
	Valid    bool           `json:"valid"`
	Issues   []bundle.Issue `json:"issues,omitempty"`
	Targeted int            `json:"targeted"`
	// Unknown lists tenant ids objectstack.yaml names explicitly that are not active tenants.
	Unknown []string `json:"unknown,omitempty"`
	Skipped int      `json:"skipped"` // already at the revision's checksum: database not opened
	// WithOrphans counts tenants holding owners the reconciler applied that the repository no longer
	// targets there (including tenants no target selects any more, which Targeted does not count).
	WithOrphans int `json:"withOrphans,omitempty"`
	Pruned      int `json:"pruned,omitempty"` // owners removed by prune in this reconcile
	Applied     int `json:"applied"`
	UpToDate    int `json:"upToDate"`
	Failed      int `json:"failed"`
	Refused     int `json:"refused"`
	Halted      int `json:"halted"`
	Leased      int `json:"leased"`
	Suspended   int `json:"suspended,omitempty"` // tenants not attempted: suspended
	Deferred    int `json:"deferred,omitempty"`  // tenants planned but outside their sync windows
	// NextWindowAt is the earliest time a deferred tenant's sync window opens.
	NextWindowAt *time.Time `json:"nextWindowAt,omitempty"`
	// Gates are the wave gates checked in this reconcile, in order.
	Gates        []GateResult   `json:"gates,omitempty"`
	RolloutID    int64          `json:"rolloutId,omitempty"`
	RolloutState string         `json:"rolloutState,omitempty"`
	Resumed      bool           `json:"resumed,omitempty"`
	Results      []TenantResult `json:"results,omitempty"`
	DurationMs   int64          `json:"durationMs"`
}

// OK reports whether the revision is valid and no tenant failed, was refused or was halted. Tenants held by
// another replica (Leased) are not failures: that replica migrates them.
func (s *Summary) OK() bool {
	return s != nil && s.Valid && s.Failed == 0 && s.Refused == 0 && s.Halted == 0
}
