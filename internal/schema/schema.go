package schema

import (
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Owner identifies who owns a set of objects in a tenant database: "bundle:<name>" or "app:<name>".
// A plan only ever touches the objects of its own owner.
type Owner string

// BundleOwner is the owner of the objects of deploy bundle name.
func BundleOwner(name string) Owner { return Owner("bundle:" + name) }

// AppOwner is the owner of the objects of installed app name.
func AppOwner(name string) Owner { return Owner("app:" + name) }

// Kind returns "bundle" or "app" (or "" for a malformed owner).
func (o Owner) Kind() string {
	k, _, ok := strings.Cut(string(o), ":")
	if !ok {
		return ""
	}
	return k
}

// Name returns the bundle or app name of the owner.
func (o Owner) Name() string {
	_, n, _ := strings.Cut(string(o), ":")
	return n
}

// SchemaChange is the protocol's SchemaChange.
type SchemaChange struct {
	EntityType   string `json:"entityType"` // object | field | index
	EntityName   string `json:"entityName"`
	ParentEntity string `json:"parentEntity,omitempty"`
	ChangeType   string `json:"changeType"` // added | modified | removed
	OldValue     any    `json:"oldValue,omitempty"`
	NewValue     any    `json:"newValue,omitempty"`
}

// Entity and change types of a SchemaChange.
const (
	EntityObject = "object"
	EntityField  = "field"
	EntityIndex  = "index"

	ChangeAdded    = "added"
	ChangeModified = "modified"
	ChangeRemoved  = "removed"
)

// DiffSummary counts the changes of a DeployDiff.
type DiffSummary struct {
	Added    int `json:"added"`
	Modified int `json:"modified"`
	Removed  int `json:"removed"`
}

// DeployDiff is the protocol's DeployDiff.
type DeployDiff struct {
	Changes            []SchemaChange `json:"changes"`
	Summary            DiffSummary    `json:"summary"`
	HasBreakingChanges bool           `json:"hasBreakingChanges"`
}

// Statement kinds (MigrationStatement.Kind).
const (
	KindCreateTable   = "create_table"
	KindAddColumn     = "add_column"
	KindRebuild       = "rebuild_table"
	KindCreateIndex   = "create_index"
	KindDropIndex     = "drop_index"
	KindDropColumn    = "drop_column"
	KindDropTable     = "drop_table"
	KindDropView      = "drop_view"
	KindCreateView    = "create_view"
	KindCreateTrigger = "create_trigger"
	KindDropTrigger   = "drop_trigger"
)

// MigrationStatement is the protocol's MigrationStatement plus the statement kind and the table it touches.
type MigrationStatement struct {
	SQL         string `json:"sql"`
	Reversible  bool   `json:"reversible"`
	RollbackSQL string `json:"rollbackSql,omitempty"`
	Order       int    `json:"order"`
	Kind        string `json:"kind"`
	Object      string `json:"object"`
}

// MigrationPlan is the protocol's MigrationPlan.
type MigrationPlan struct {
	Statements          []MigrationStatement `json:"statements"`
	Dialect             string               `json:"dialect"`
	Reversible          bool                 `json:"reversible"`
	EstimatedDurationMs int64                `json:"estimatedDurationMs"`
}

// DeployExecutionResult is the protocol's DeployExecutionResult. FailedAtIndex is set (≥0) when a
// statement failed; it is -1 otherwise.
type DeployExecutionResult struct {
	DeploymentID       string `json:"deploymentId"`
	Status             string `json:"status"`
	DurationMs         int64  `json:"durationMs"`
	StatementsExecuted int    `json:"statementsExecuted"`
	Error              string `json:"error,omitempty"`
	CompletedAt        string `json:"completedAt"`
	FailedAtIndex      *int   `json:"failedAtIndex,omitempty"`
	// RestorePoint is the time recorded just before the transaction of a deployment with a
	// destructive change (RFC 3339, UTC); empty for other deployments.
	RestorePoint string `json:"restorePoint,omitempty"`
}

// Deployment statuses (protocol DeployStatus values the engine records).
const (
	StatusReady  = "ready"
	StatusFailed = "failed"
)

// DestructiveKind names a class of change that can lose data and must be allowed explicitly.
type DestructiveKind string

// The destructive kinds.
const (
	DropTable       DestructiveKind = "drop_table"
	DropColumn      DestructiveKind = "drop_column"
	LossyTypeChange DestructiveKind = "lossy_type_change"
	// DropConstraint: a rebuild drops constraints written by hand into an adopted table (UNIQUE, CHECK, ...),
	// which the engine's DDL cannot recreate.
	DropConstraint DestructiveKind = "drop_constraint"
)

// AllDestructiveKinds lists every destructive kind.
var AllDestructiveKinds = []DestructiveKind{DropTable, DropColumn, LossyTypeChange, DropConstraint}

// ParseDestructiveKinds parses a comma-separated list such as "drop_table,drop_column" ("all" allows every kind).
func ParseDestructiveKinds(s string) ([]DestructiveKind, error) {
	var out []DestructiveKind
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == "all" {
			return append([]DestructiveKind(nil), AllDestructiveKinds...), nil
		}
		k := DestructiveKind(p)
		switch k {
		case DropTable, DropColumn, LossyTypeChange, DropConstraint:
			out = append(out, k)
		default:
			return nil, &UnknownKindError{Kind: p}
		}
	}
	return out, nil
}

// UnknownKindError reports a destructive kind that does not exist.
type UnknownKindError struct{ Kind string }

func (e *UnknownKindError) Error() string {
	return "unknown destructive change kind " + quoteName(e.Kind) + " (want drop_table, drop_column, lossy_type_change, drop_constraint or all)"
}

// DestructiveChange is one change of a plan that can lose data.
type DestructiveChange struct {
	Kind    DestructiveKind `json:"kind"`
	Object  string          `json:"object"`
	Field   string          `json:"field,omitempty"`
	Message string          `json:"message"`
}

// RegisteredObject is one row of _objectstack_objects.
type RegisteredObject struct {
	Owner      Owner
	Name       string
	Table      string
	Checksum   string
	Definition bundle.Object
}

// Deployment is one row of _objectstack_deployments.
type Deployment struct {
	ID           string               `json:"id"`
	Owner        Owner                `json:"owner"`
	Version      string               `json:"version"`
	Checksum     string               `json:"checksum"`
	Source       string               `json:"source"`
	Status       string               `json:"status"`
	Statements   []MigrationStatement `json:"statements"`
	StartedAt    string               `json:"startedAt"`
	CompletedAt  string               `json:"completedAt"`
	Error        string               `json:"error,omitempty"`
	RolledBackBy string               `json:"rolledBackBy,omitempty"`
	// RestorePoint is set only by DeploymentRestorePoint (restore_point.go): the row's restore point.
	RestorePoint string `json:"restorePoint,omitempty"`
}

func quoteName(s string) string { return "\"" + s + "\"" }
