package platform

// Seeded creation and point-in-time restore points, shared by both backends.
//
// A database can be created as a copy of another one (Turso's seed {"type":"database"}): a
// template that already holds a bundle's schema and seed data, or — with a timestamp — another
// database as it was at that moment (Turso's point-in-time restore). Turso keeps that history
// itself, so on Turso a restore point is only a timestamp. A file has no such history: the local
// backend keeps a snapshot file per restore point (Snapshotter, taken by the engine right before a
// destructive change), and `objectstack dev` snapshots a database itself before a Hrana request
// that drops a table or column.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SeedTypeDatabase is Turso's seed type for a copy of another database of the organization,
// optionally as it was at a timestamp.
const SeedTypeDatabase = "database"

// DefaultSnapshotRetention is how long the local backend keeps restore-point snapshots when not
// configured otherwise: a week, so a bad deployment found days later can still be undone.
const DefaultSnapshotRetention = 7 * 24 * time.Hour

// ErrNoRestorePoint is returned (wrapped) when a seed timestamp is not covered by the history the
// platform keeps: before the retention window, or a moment the backend kept no snapshot of.
var ErrNoRestorePoint = errors.New("no restore point covers that time")

// Seed says what a new database starts from. Nil CreateOptions.Seed means empty.
type Seed struct {
	// Type is SeedTypeDatabase (the only type both backends serve; Turso's "database_upload" needs
	// a file upload to the database host, which is not part of the Platform API client).
	Type string
	// Database is the source database's name (a template, or the database to restore).
	Database string
	// Timestamp, when set, copies the source as it was at that moment instead of as it is now.
	Timestamp *time.Time
}

// Validate checks the seed before anything is created.
func (s *Seed) Validate() error {
	if s == nil {
		return nil
	}
	switch s.Type {
	case "", SeedTypeDatabase:
	default:
		return fmt.Errorf("seed type %q is not supported (only %q)", s.Type, SeedTypeDatabase)
	}
	if err := ValidateName(s.Database); err != nil {
		return fmt.Errorf("seed database: %w", err)
	}
	if s.Timestamp != nil && s.Timestamp.After(time.Now().Add(time.Minute)) {
		return fmt.Errorf("seed timestamp %s is in the future", s.Timestamp.UTC().Format(time.RFC3339))
	}
	return nil
}

// FormatRestorePoint is how restore points are written everywhere (deployment rows, Terraform
// state, the Platform API's seed timestamp): RFC 3339 in UTC with nanoseconds, so a restore point
// taken a few microseconds before a transaction does not round to a moment after it.
func FormatRestorePoint(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseRestorePoint reads FormatRestorePoint's form (any RFC 3339 time).
func ParseRestorePoint(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("restore point %q is not an RFC 3339 time: %w", s, err)
	}
	return t, nil
}

// Snapshotter is implemented by backends that keep no point-in-time history of their own (the
// local backend): Snapshot copies the database as it is now and returns the time the copy stands
// for, which a later Seed{Timestamp: that time} restores.
type Snapshotter interface {
	Snapshot(ctx context.Context, name string) (time.Time, error)
}

// RestorePoint records a point the named database can be restored to and returns its time: a
// snapshot on backends without history, the current time on Turso and `objectstack dev` (which keep
// the history themselves). Call it right before a destructive change, outside its transaction.
func RestorePoint(ctx context.Context, p Platform, name string) (time.Time, error) {
	if s, ok := p.(Snapshotter); ok {
		t, err := s.Snapshot(ctx, name)
		if err != nil {
			return time.Time{}, fmt.Errorf("restore point of %s: %w", name, err)
		}
		return t, nil
	}
	return time.Now().UTC(), nil
}
