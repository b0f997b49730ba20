package tenant

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// restoreStore owns tenant_restores — one row per restore: which database the tenant moved from and
// to, and whether the old one was purged — and the registry update that repoints a tenant. The table is
// a control-plane migration (store.go).
//
// A restore's row is written before its new database is created (state started, with the holder of the
// run) and marked done in the transaction that repoints the tenant. A run killed in between leaves a
// started row naming the copy it may have made: the next restore or purge of the tenant removes that copy
// once its run is provably gone (RestoreRecord.abandoned), instead of leaving a database nobody knows
// about (on Turso, a billed one).
type restoreStore struct{ db *sql.DB }

const (
	restoreStarted = "started"
	restoreDone    = "done"
)

// restoreAbandonedAfter is the age after which a started restore of another host is taken for dead: a
// restore takes seconds to minutes.
const restoreAbandonedAfter = 24 * time.Hour

// RestoreRecord is one restore of a tenant.
type RestoreRecord struct {
	TenantID     string `json:"tenantId"`
	DeploymentID string `json:"deploymentId"`
	RestorePoint string `json:"restorePoint"`
	// OldDatabase is kept (writes blocked, tokens rotated) for inspection until purged.
	OldDatabase string `json:"oldDatabase"`
	NewDatabase string `json:"newDatabase"`
	RestoredAt  string `json:"restoredAt"`
	PurgedAt    string `json:"purgedAt,omitempty"`
	// Unfinished is a restore whose run stopped before repointing the tenant (Holder is that run): the
	// tenant stays on OldDatabase, and NewDatabase, if it was made, is removed by the tenant's next restore
	// or purge once that run is provably gone.
	Unfinished bool   `json:"unfinished,omitempty"`
	Holder     string `json:"holder,omitempty"`
}

// start records rec as a restore that holder has begun, before its database is created.
func (s restoreStore) start(ctx context.Context, rec RestoreRecord, holder string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tenant_restores (tenant_id, deployment_id, restore_point, old_database,
		new_database, restored_at, state, holder) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, rec.TenantID, rec.DeploymentID, rec.RestorePoint,
		rec.OldDatabase, rec.NewDatabase, rec.RestoredAt, restoreStarted, holder)
	if err != nil {
		return fmt.Errorf("record restore of tenant %s: %w", rec.TenantID, err)
	}
	return nil
}

// forget drops the started restore of tenantID into newDatabase (its run undid it, or it was abandoned and
// its database removed).
func (s restoreStore) forget(ctx context.Context, tenantID, newDatabase string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tenant_restores WHERE tenant_id = ? AND new_database = ? AND state = ?`,
		tenantID, newDatabase, restoreStarted); err != nil {
		return fmt.Errorf("drop the record of an unfinished restore of tenant %s: %w", tenantID, err)
	}
	return nil
}

func (s restoreStore) list(ctx context.Context, tenantID string) ([]RestoreRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant_id, deployment_id, restore_point, old_database, new_database,
		restored_at, purged_at, state, holder FROM tenant_restores WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("read restores of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []RestoreRecord
	for rows.Next() {
		var r RestoreRecord
		var state string
		if err := rows.Scan(&r.TenantID, &r.DeploymentID, &r.RestorePoint, &r.OldDatabase, &r.NewDatabase, &r.RestoredAt, &r.PurgedAt,
			&state, &r.Holder); err != nil {
			return nil, fmt.Errorf("read restores of tenant %s: %w", tenantID, err)
		}
		r.Unfinished = state == restoreStarted
		if !r.Unfinished {
			r.Holder = ""
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// abandoned reports whether the unfinished restore rec will never finish: its run is a process of this
// host that is gone, or it started longer ago than any restore takes.
func (rec RestoreRecord) abandoned(now time.Time) bool {
	if holderGone(rec.Holder) {
		return true
	}
	started, err := time.Parse(time.RFC3339Nano, rec.RestoredAt)
	return err == nil && now.Sub(started) > restoreAbandonedAfter
}

func (s restoreStore) markPurged(ctx context.Context, tenantID, oldDatabase string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tenant_restores SET purged_at = ? WHERE tenant_id = ? AND old_database = ? AND purged_at = ''`,
		formatTime(at), tenantID, oldDatabase)
	if err != nil {
		return fmt.Errorf("record purge of %s: %w", oldDatabase, err)
	}
	return nil
}

// finish moves tenant r to database name at url with the sealed token — only if the row still names the
// database the restore started from and was not changed meanwhile — and marks the restore done, in one
// transaction: a restore is recorded done exactly when the tenant uses its database.
func (s restoreStore) finish(ctx context.Context, r *row, name, url, tokenEnc string) error {
	next := time.Now().UTC()
	if !next.After(r.UpdatedAt) {
		next = r.UpdatedAt.Add(time.Microsecond)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("repoint tenant %s: %w", r.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE tenant_registry SET database_name = ?, database_url = ?, token_enc = ?, updated_at = ?
		WHERE id = ? AND database_name = ? AND updated_at = ?`, name, url, tokenEnc, formatTime(next), r.ID, r.DatabaseName, formatTime(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("repoint tenant %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("repoint tenant %s: %w: it was changed by another process meanwhile; retry", r.ID, ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tenant_restores SET state = ?, holder = '' WHERE tenant_id = ? AND new_database = ? AND state = ?`,
		restoreDone, r.ID, name, restoreStarted); err != nil {
		return fmt.Errorf("record restore of tenant %s: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("repoint tenant %s: %w", r.ID, err)
	}
	r.DatabaseName, r.DatabaseURL, r.tokenEnc, r.UpdatedAt = name, url, tokenEnc, next
	return nil
}
