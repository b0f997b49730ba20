package tenant

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// store owns the control-plane tables (tenant_registry and tenant_registry_version). All SQL on them
// lives in this file.
type store struct{ db *sql.DB }

// migrations are applied in order; the version table records how many ran. Append only.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS tenant_registry (
		id              TEXT PRIMARY KEY,
		requested_id    TEXT NOT NULL,
		org_id          TEXT NOT NULL,
		display_name    TEXT NOT NULL DEFAULT '',
		plan            TEXT NOT NULL,
		region          TEXT NOT NULL,
		labels          TEXT NOT NULL DEFAULT '{}',
		quotas          TEXT NOT NULL DEFAULT '{}',
		status          TEXT NOT NULL,
		database_name   TEXT NOT NULL UNIQUE,
		database_url    TEXT NOT NULL DEFAULT '',
		database_group  TEXT NOT NULL DEFAULT '',
		token_enc       TEXT NOT NULL DEFAULT '',
		steps           TEXT NOT NULL DEFAULT '[]',
		error           TEXT NOT NULL DEFAULT '',
		admin_email     TEXT NOT NULL DEFAULT '',
		purge_after     TEXT NOT NULL DEFAULT '',
		destroy_backup  INTEGER NOT NULL DEFAULT 1,
		backup_path     TEXT NOT NULL DEFAULT '',
		provisioned_at  TEXT NOT NULL DEFAULT '',
		created_at      TEXT NOT NULL,
		updated_at      TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS tenant_registry_org ON tenant_registry(org_id)`,
	`CREATE INDEX IF NOT EXISTS tenant_registry_status ON tenant_registry(status)`,
	// One provisioning run per tenant across processes: the run holding the claim works, others wait.
	`CREATE TABLE IF NOT EXISTS tenant_provision_claims (
		tenant_id  TEXT PRIMARY KEY,
		holder     TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	)`,
	// What a suspension or destroy found block_writes at ('' when none is in force): resume unblocks only
	// writes it blocked itself.
	`ALTER TABLE tenant_registry ADD COLUMN writes_before_lock TEXT NOT NULL DEFAULT ''`,
	// Restores (restore_store.go), in the shape the table had when restores created it on first use; then the
	// state of an unfinished restore and the run that started it (rows from before are finished restores).
	`CREATE TABLE IF NOT EXISTS tenant_restores (
		id             INTEGER PRIMARY KEY,
		tenant_id      TEXT NOT NULL,
		deployment_id  TEXT NOT NULL,
		restore_point  TEXT NOT NULL,
		old_database   TEXT NOT NULL,
		new_database   TEXT NOT NULL,
		restored_at    TEXT NOT NULL,
		purged_at      TEXT NOT NULL DEFAULT ''
	)`,
	`ALTER TABLE tenant_restores ADD COLUMN state TEXT NOT NULL DEFAULT 'done'`,
	`ALTER TABLE tenant_restores ADD COLUMN holder TEXT NOT NULL DEFAULT ''`,
}

func (s *store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS tenant_registry_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("control plane: create version table: %w", err)
	}
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM tenant_registry_version`).Scan(&v)
	if err != nil {
		return fmt.Errorf("control plane: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("control plane schema version %d is newer than this binary understands (%d); upgrade objectstack", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		// Every migration is idempotent (IF NOT EXISTS; a column another process added first is fine), so
		// two processes racing here both succeed.
		if _, err := s.db.ExecContext(ctx, migrations[i]); err != nil && !strings.Contains(err.Error(), "duplicate column name") {
			return fmt.Errorf("control plane: migration %d: %w", i+1, err)
		}
	}
	if v < len(migrations) {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM tenant_registry_version`); err != nil {
			return fmt.Errorf("control plane: record schema version: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `INSERT INTO tenant_registry_version(version) VALUES (?)`, len(migrations)); err != nil {
			return fmt.Errorf("control plane: record schema version: %w", err)
		}
	}
	return nil
}

// row is a registry row including the columns that never leave this package.
type row struct {
	Tenant
	requestedID   string
	adminEmail    string
	tokenEnc      string
	destroyBackup bool
	// writesBeforeLock is what block_writes was when the tenant was last suspended or put to destroy
	// (writesOpen or writesBlocked), "" while neither is in force.
	writesBeforeLock string
}

const (
	writesOpen    = "open"
	writesBlocked = "blocked"
)

const rowColumns = `id, requested_id, org_id, display_name, plan, region, labels, quotas, status, database_name,
	database_url, database_group, token_enc, steps, error, admin_email, purge_after, destroy_backup, backup_path,
	provisioned_at, created_at, updated_at, writes_before_lock`

type scanner interface{ Scan(dest ...any) error }

func scanRow(sc scanner) (*row, error) {
	var (
		r                                                   row
		labels, quotas, steps, purge, prov, created, update string
		backup                                              int64
	)
	err := sc.Scan(&r.ID, &r.requestedID, &r.OrgID, &r.DisplayName, &r.Plan, &r.Region, &labels, &quotas, &r.Status,
		&r.DatabaseName, &r.DatabaseURL, &r.Group, &r.tokenEnc, &steps, &r.Error, &r.adminEmail, &purge, &backup,
		&r.BackupPath, &prov, &created, &update, &r.writesBeforeLock)
	if err != nil {
		return nil, err
	}
	r.destroyBackup = backup != 0
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return nil, fmt.Errorf("tenant %s: labels column: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(quotas), &r.Quotas); err != nil {
		return nil, fmt.Errorf("tenant %s: quotas column: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(steps), &r.Steps); err != nil {
		return nil, fmt.Errorf("tenant %s: steps column: %w", r.ID, err)
	}
	r.PurgeAfter = parseTimePtr(purge)
	r.ProvisionedAt = parseTimePtr(prov)
	r.CreatedAt = parseTime(created)
	r.UpdatedAt = parseTime(update)
	return &r, nil
}

func (s *store) get(ctx context.Context, id string) (*row, error) {
	r, err := scanRow(s.db.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM tenant_registry WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read tenant %s: %w", id, err)
	}
	return r, nil
}

func (s *store) list(ctx context.Context, f Filter) ([]Tenant, error) {
	q, args := listQuery(f)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		if matchLabels(r.Labels, f.Labels) {
			out = append(out, r.Tenant)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// listQuery is the registry query for f; labels are matched by the caller (they are a JSON column).
func listQuery(f Filter) (string, []any) {
	q := `SELECT ` + rowColumns + ` FROM tenant_registry WHERE 1=1`
	var args []any
	for _, c := range []struct{ col, v string }{{"plan", f.Plan}, {"region", f.Region}, {"status", f.Status}, {"org_id", f.OrgID}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	return q + ` ORDER BY id`, args
}

func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// insert registers a new row; it reports false (and no error) when a row with that id already exists,
// so concurrent provisioners of the same tenant converge on one row.
func (s *store) insert(ctx context.Context, r *row) (bool, error) {
	labels, quotas, steps, err := encodeJSON(r)
	if err != nil {
		return false, err
	}
	t := time.Now().UTC()
	r.CreatedAt, r.UpdatedAt = t, t
	now := formatTime(t)
	res, err := s.db.ExecContext(ctx, `INSERT INTO tenant_registry (`+rowColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 1, '', '', ?, ?, '')
		ON CONFLICT(id) DO NOTHING`,
		r.ID, r.requestedID, r.OrgID, r.DisplayName, r.Plan, r.Region, labels, quotas, r.Status, r.DatabaseName,
		r.DatabaseURL, r.Group, r.tokenEnc, steps, r.Error, r.adminEmail, now, now)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return false, fmt.Errorf("register tenant %s: database name %s is already registered to another tenant: %w", r.ID, r.DatabaseName, ErrConflict)
		}
		return false, fmt.Errorf("register tenant %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("register tenant %s: %w", r.ID, err)
	}
	return n == 1, nil
}

func encodeJSON(r *row) (labels, quotas, steps string, err error) {
	l := r.Labels
	if l == nil {
		l = map[string]string{}
	}
	lb, err := json.Marshal(l)
	if err != nil {
		return "", "", "", fmt.Errorf("encode labels: %w", err)
	}
	qb, err := json.Marshal(r.Quotas)
	if err != nil {
		return "", "", "", fmt.Errorf("encode quotas: %w", err)
	}
	st := r.Steps
	if st == nil {
		st = []Step{}
	}
	sb, err := json.Marshal(st)
	if err != nil {
		return "", "", "", fmt.Errorf("encode steps: %w", err)
	}
	return string(lb), string(qb), string(sb), nil
}

// save writes every mutable column of r back and bumps updated_at. It is a compare-and-swap on
// updated_at: if another process changed the row since r was read, nothing is written and the
// error wraps ErrConflict (re-read and retry), so a stale writer never overwrites newer state.
func (s *store) save(ctx context.Context, r *row) error {
	labels, quotas, steps, err := encodeJSON(r)
	if err != nil {
		return err
	}
	prev := formatTime(r.UpdatedAt)
	next := time.Now().UTC()
	if !next.After(r.UpdatedAt) {
		next = r.UpdatedAt.Add(time.Microsecond)
	}
	backup := 0
	if r.destroyBackup {
		backup = 1
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tenant_registry SET display_name = ?, plan = ?, region = ?, labels = ?,
		quotas = ?, status = ?, database_url = ?, database_group = ?, token_enc = ?, steps = ?, error = ?,
		admin_email = ?, purge_after = ?, destroy_backup = ?, backup_path = ?, provisioned_at = ?, updated_at = ?,
		writes_before_lock = ?
		WHERE id = ? AND updated_at = ?`,
		r.DisplayName, r.Plan, r.Region, labels, quotas, r.Status, r.DatabaseURL, r.Group, r.tokenEnc, steps, r.Error,
		r.adminEmail, formatTimePtr(r.PurgeAfter), backup, r.BackupPath, formatTimePtr(r.ProvisionedAt),
		formatTime(next), r.writesBeforeLock, r.ID, prev)
	if err != nil {
		return fmt.Errorf("save tenant %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("save tenant %s: %w", r.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("save tenant %s: %w: it was changed (or removed) by another process meanwhile; retry", r.ID, ErrConflict)
	}
	r.UpdatedAt = next
	return nil
}

// delete removes a row; only used to undo a row this process inserted for a request it then refused.
func (s *store) delete(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tenant_registry WHERE id = ?`, id); err != nil {
		return fmt.Errorf("remove tenant %s: %w", id, err)
	}
	return nil
}

// expired lists tenants in status destroying whose purge time has passed.
func (s *store) expired(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, purge_after FROM tenant_registry WHERE status = ? AND purge_after <> ''`, StatusDestroying)
	if err != nil {
		return nil, fmt.Errorf("list expired tenants: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, p string
		if err := rows.Scan(&id, &p); err != nil {
			return nil, fmt.Errorf("list expired tenants: %w", err)
		}
		// Compared as times, not strings: fractional-second widths differ between writers.
		if t := parseTimePtr(p); t != nil && !t.After(now) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func parseTimePtr(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := parseTime(s)
	return &t
}

// claim takes (or renews) the provisioning claim of tenant id for holder until now+ttl when it is free,
// expired or already holder's, and reports whether holder has it. The conditional upsert makes processes
// racing for one id agree: only one row can hold it.
func (s *store) claim(ctx context.Context, id, holder string, ttl time.Duration) (bool, error) {
	now := time.Now().UnixMilli()
	// The upsert writes a row only when the claim is free, expired or already holder's: one row changed
	// means holder has it, none that somebody else does.
	res, err := s.db.ExecContext(ctx, `INSERT INTO tenant_provision_claims (tenant_id, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT(tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE tenant_provision_claims.holder = excluded.holder OR tenant_provision_claims.expires_at < ?`,
		id, holder, now+ttl.Milliseconds(), now)
	if err != nil {
		return false, fmt.Errorf("claim tenant %s for provisioning: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim tenant %s for provisioning: %w", id, err)
	}
	return n == 1, nil
}

// claimHolder returns who holds an unexpired provisioning claim on tenant id, "" when nobody does.
func (s *store) claimHolder(ctx context.Context, id string) (string, error) {
	var holder string
	err := s.db.QueryRowContext(ctx, `SELECT holder FROM tenant_provision_claims WHERE tenant_id = ? AND expires_at >= ?`,
		id, time.Now().UnixMilli()).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read provisioning claim of tenant %s: %w", id, err)
	}
	return holder, nil
}

// unclaim drops holder's provisioning claim of tenant id.
func (s *store) unclaim(ctx context.Context, id, holder string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tenant_provision_claims WHERE tenant_id = ? AND holder = ?`, id, holder); err != nil {
		return fmt.Errorf("release provisioning claim of tenant %s: %w", id, err)
	}
	return nil
}
