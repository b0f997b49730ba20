package schema

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The migration lease is one row of _objectstack_lock. It keeps Terraform and the reconciler from
// migrating the same database at once across a whole plan→apply cycle; Apply itself re-checks it inside
// its transaction.
const leaseName = "migrate"

// LockedError is returned when another holder has an unexpired lease.
type LockedError struct {
	Holder    string
	ExpiresAt time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("database is locked for migration by %s until %s", e.Holder, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// AcquireLock takes (or renews) the migration lease for holder for ttl. It fails with *LockedError when
// somebody else holds an unexpired lease.
func AcquireLock(ctx context.Context, db *sql.DB, holder string, ttl time.Duration) error {
	if holder == "" {
		return fmt.Errorf("acquire migration lock: empty holder")
	}
	if err := EnsureRegistry(ctx, db); err != nil {
		return err
	}
	nowT := time.Now()
	res, err := db.ExecContext(ctx, `INSERT INTO _objectstack_lock (name, holder, expires_at, acquired_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
WHERE _objectstack_lock.holder = excluded.holder OR _objectstack_lock.expires_at <= ?`,
		leaseName, holder, nowT.Add(ttl).UnixMilli(), nowT.UTC().Format(time.RFC3339), nowT.UnixMilli())
	if err != nil {
		return fmt.Errorf("acquire migration lock: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	h, exp, err := currentLease(ctx, db)
	if err != nil {
		return fmt.Errorf("acquire migration lock: %w", err)
	}
	if h == holder {
		return nil
	}
	return &LockedError{Holder: h, ExpiresAt: exp}
}

// ReleaseLock gives the lease up if holder holds it.
func ReleaseLock(ctx context.Context, db *sql.DB, holder string) error {
	if ok, err := registryExists(ctx, db); err != nil || !ok {
		return err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM _objectstack_lock WHERE name = ? AND holder = ?`, leaseName, holder); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}

func currentLease(ctx context.Context, q queryer) (string, time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT holder, expires_at FROM _objectstack_lock WHERE name = ?`, leaseName)
	if err != nil {
		return "", time.Time{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", time.Time{}, rows.Err()
	}
	var h string
	var ms int64
	if err := rows.Scan(&h, &ms); err != nil {
		return "", time.Time{}, err
	}
	return h, time.UnixMilli(ms), rows.Err()
}

// checkLease refuses when a holder other than holder has an unexpired lease.
func checkLease(ctx context.Context, q queryer, holder string) error {
	h, exp, err := currentLease(ctx, q)
	if err != nil {
		return fmt.Errorf("read migration lock: %w", err)
	}
	if h != "" && h != holder && exp.After(time.Now()) {
		return &LockedError{Holder: h, ExpiresAt: exp}
	}
	return nil
}

// Lock is the migration lease as stored in _objectstack_lock.
type Lock struct {
	Holder     string    `json:"holder"` // also the lock id `objectstack unlock` asks for
	ExpiresAt  time.Time `json:"expiresAt"`
	AcquiredAt string    `json:"acquiredAt,omitempty"`
	Expired    bool      `json:"expired"`
}

// CurrentLock reads the migration lease; nil when there is none (or no registry yet). It only reads.
func CurrentLock(ctx context.Context, db *sql.DB) (*Lock, error) {
	if ok, err := lockTableExists(ctx, db); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT holder, expires_at, acquired_at FROM _objectstack_lock WHERE name = ?`, leaseName)
	if err != nil {
		return nil, fmt.Errorf("read migration lock: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var l Lock
	var ms int64
	if err := rows.Scan(&l.Holder, &ms, &l.AcquiredAt); err != nil {
		return nil, fmt.Errorf("read migration lock: %w", err)
	}
	l.ExpiresAt = time.UnixMilli(ms).UTC()
	l.Expired = !l.ExpiresAt.After(time.Now())
	return &l, rows.Err()
}

// ForceUnlock deletes the migration lease if holder (the lock id) holds it, expired or not, and reports
// whether it did. Like `terraform force-unlock`, it needs the id, so a stale command line cannot clear a
// lease somebody else took since.
func ForceUnlock(ctx context.Context, db *sql.DB, holder string) (bool, error) {
	if ok, err := lockTableExists(ctx, db); err != nil || !ok {
		return false, err
	}
	res, err := db.ExecContext(ctx, `DELETE FROM _objectstack_lock WHERE name = ? AND holder = ?`, leaseName, holder)
	if err != nil {
		return false, fmt.Errorf("force-unlock migration lock of %s: %w", holder, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func lockTableExists(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '_objectstack_lock'`).Scan(&n); err != nil {
		return false, fmt.Errorf("read migration lock: %w", err)
	}
	return n > 0, nil
}
