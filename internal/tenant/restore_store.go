package tenant

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// restoreStore owns tenant_restores — one row per restore: which database the tenant moved from and
// to, and whether the old one was purged — and the registry update that repoints a tenant. The table
// is created on first use (CREATE IF NOT EXISTS) rather than by a numbered control-plane migration,
// so restores add nothing to the fleet's startup path.
type restoreStore struct{ db *sql.DB }

const restoreDDL = `CREATE TABLE IF NOT EXISTS tenant_restores (
	id             INTEGER PRIMARY KEY,
	tenant_id      TEXT NOT NULL,
	deployment_id  TEXT NOT NULL,
	restore_point  TEXT NOT NULL,
	old_database   TEXT NOT NULL,
	new_database   TEXT NOT NULL,
	restored_at    TEXT NOT NULL,
	purged_at      TEXT NOT NULL DEFAULT ''
)`

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
}

func (s restoreStore) ensure(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, restoreDDL); err != nil {
		return fmt.Errorf("control plane: create tenant_restores: %w", err)
	}
	return nil
}

func (s restoreStore) insert(ctx context.Context, rec RestoreRecord) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tenant_restores (tenant_id, deployment_id, restore_point, old_database,
		new_database, restored_at) VALUES (?, ?, ?, ?, ?, ?)`, rec.TenantID, rec.DeploymentID, rec.RestorePoint,
		rec.OldDatabase, rec.NewDatabase, rec.RestoredAt)
	if err != nil {
		return fmt.Errorf("record restore of tenant %s: %w", rec.TenantID, err)
	}
	return nil
}

func (s restoreStore) list(ctx context.Context, tenantID string) ([]RestoreRecord, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT tenant_id, deployment_id, restore_point, old_database, new_database,
		restored_at, purged_at FROM tenant_restores WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("read restores of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []RestoreRecord
	for rows.Next() {
		var r RestoreRecord
		if err := rows.Scan(&r.TenantID, &r.DeploymentID, &r.RestorePoint, &r.OldDatabase, &r.NewDatabase, &r.RestoredAt, &r.PurgedAt); err != nil {
			return nil, fmt.Errorf("read restores of tenant %s: %w", tenantID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s restoreStore) markPurged(ctx context.Context, tenantID, oldDatabase string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tenant_restores SET purged_at = ? WHERE tenant_id = ? AND old_database = ? AND purged_at = ''`,
		formatTime(at), tenantID, oldDatabase)
	if err != nil {
		return fmt.Errorf("record purge of %s: %w", oldDatabase, err)
	}
	return nil
}

// repoint moves tenant r to database name at url with the sealed token, only if the row still names
// the database the restore started from and was not changed meanwhile.
func (s restoreStore) repoint(ctx context.Context, r *row, name, url, tokenEnc string) error {
	next := time.Now().UTC()
	if !next.After(r.UpdatedAt) {
		next = r.UpdatedAt.Add(time.Microsecond)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tenant_registry SET database_name = ?, database_url = ?, token_enc = ?, updated_at = ?
		WHERE id = ? AND database_name = ? AND updated_at = ?`, name, url, tokenEnc, formatTime(next), r.ID, r.DatabaseName, formatTime(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("repoint tenant %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("repoint tenant %s: %w: it was changed by another process meanwhile; retry", r.ID, ErrConflict)
	}
	r.DatabaseName, r.DatabaseURL, r.tokenEnc, r.UpdatedAt = name, url, tokenEnc, next
	return nil
}
