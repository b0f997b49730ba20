// Package status owns the reconciler's tables in the control-plane database (the same libSQL database as
// the tenant registry): per-tenant status with conditions and a bounded history (reconcile_status,
// reconcile_history), rollout records that let a restarted reconciler resume without migrating a tenant
// twice (reconcile_rollouts, reconcile_tasks), per-tenant leases that split tenants between replicas
// (reconcile_leases) and the last fetched source revision (reconcile_source).
package status

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
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

// Store reads and writes the reconciler tables.
type Store struct{ db *sql.DB }

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

// Open creates the tables if needed. The caller owns db.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	for _, m := range migrations {
		if _, err := db.ExecContext(ctx, m); err != nil {
			return nil, fmt.Errorf("status store: migrate: %w", err)
		}
	}
	st := &Store{db: db}
	if err := st.scrubSources(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// RedactRepo returns a repository URL without its user info (where a Git token may sit). Stored and served
// repositories never carry one.
func RedactRepo(repo string) string {
	if !strings.Contains(repo, "://") {
		return repo
	}
	u, err := url.Parse(repo)
	if err != nil {
		return "<unparseable repository URL>"
	}
	if u.User == nil {
		return repo
	}
	u.User = nil
	return u.String()
}

// scrubSources rewrites source rows an older version stored under a URL with credentials in it (and any
// error text repeating them), so `objectstack status` and /status stop serving them.
func (s *Store) scrubSources(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, error FROM reconcile_source WHERE repo LIKE '%@%'`)
	if err != nil {
		return fmt.Errorf("status store: scrub sources: %w", err)
	}
	type legacy struct{ repo, clean, errText string }
	var found []legacy
	for rows.Next() {
		var l legacy
		if err := rows.Scan(&l.repo, &l.errText); err != nil {
			rows.Close()
			return fmt.Errorf("status store: scrub sources: %w", err)
		}
		if l.clean = RedactRepo(l.repo); l.clean != l.repo {
			found = append(found, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("status store: scrub sources: %w", err)
	}
	for _, l := range found {
		msg := l.errText
		if u, err := url.Parse(l.repo); err == nil && u.User != nil {
			// The password, or a user name standing alone (a bare token), is the secret.
			secret := u.User.Username()
			if p, ok := u.User.Password(); ok {
				secret = p
			}
			if secret != "" {
				msg = strings.ReplaceAll(msg, secret, "REDACTED")
			}
		}
		// The clean URL's row, if a newer run wrote one, wins; the legacy row goes either way.
		if _, err := s.db.ExecContext(ctx, `INSERT INTO reconcile_source (repo, revision, digest, valid, issues, error, fetched_at)
			SELECT ?, revision, digest, valid, issues, ?, fetched_at FROM reconcile_source WHERE repo = ?
			ON CONFLICT(repo) DO NOTHING`, l.clean, msg, l.repo); err != nil {
			return fmt.Errorf("status store: scrub sources: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM reconcile_source WHERE repo = ?`, l.repo); err != nil {
			return fmt.Errorf("status store: scrub sources: %w", err)
		}
	}
	return nil
}

// DB returns the control-plane handle.
func (s *Store) DB() *sql.DB { return s.db }

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTS(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

const statusCols = `tenant_id, last_applied_revision, last_attempted_revision, checksum, attempted_checksum, owners,
	condition, reason, message, error, drifted, drift_checked_at, updated_at`

func scanTenant(sc interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var owners, driftAt, updated string
	var drifted int
	if err := sc.Scan(&t.TenantID, &t.LastAppliedRevision, &t.LastAttemptedRevision, &t.Checksum, &t.AttemptedChecksum,
		&owners, &t.Condition, &t.Reason, &t.Message, &t.Error, &drifted, &driftAt, &updated); err != nil {
		return t, err
	}
	if owners != "" && owners != "{}" {
		_ = json.Unmarshal([]byte(owners), &t.Owners)
	}
	t.Drifted = drifted != 0
	if driftAt != "" {
		d := parseTS(driftAt)
		t.DriftCheckedAt = &d
	}
	t.UpdatedAt = parseTS(updated)
	return t, nil
}

// All returns every tenant's status row (without history) in one query: the fast path that decides which
// tenants need work without opening any tenant database.
func (s *Store) All(ctx context.Context) (map[string]Tenant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+statusCols+` FROM reconcile_status`)
	if err != nil {
		return nil, fmt.Errorf("status store: list: %w", err)
	}
	defer rows.Close()
	out := map[string]Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("status store: scan: %w", err)
		}
		out[t.TenantID] = t
	}
	return out, rows.Err()
}

// List returns every tenant's status with its history, ordered by tenant id.
func (s *Store) List(ctx context.Context) ([]Tenant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+statusCols+` FROM reconcile_status ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("status store: list: %w", err)
	}
	var out []Tenant
	idx := map[string]int{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("status store: scan: %w", err)
		}
		idx[t.TenantID] = len(out)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	hrows, err := s.db.QueryContext(ctx, `SELECT tenant_id, revision, checksum, result, reason, message, statements, duration_ms, at
		FROM reconcile_history ORDER BY tenant_id, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("status store: history: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var id, at string
		var h HistoryEntry
		if err := hrows.Scan(&id, &h.Revision, &h.Checksum, &h.Result, &h.Reason, &h.Message, &h.Statements, &h.DurationMs, &at); err != nil {
			return nil, fmt.Errorf("status store: history: %w", err)
		}
		h.At = parseTS(at)
		if i, ok := idx[id]; ok {
			out[i].History = append(out[i].History, h)
		}
	}
	return out, hrows.Err()
}

// Get returns one tenant's status with history; ok is false when the tenant has none.
func (s *Store) Get(ctx context.Context, id string) (Tenant, bool, error) {
	all, err := s.List(ctx)
	if err != nil {
		return Tenant{}, false, err
	}
	for _, t := range all {
		if t.TenantID == id {
			return t, true, nil
		}
	}
	return Tenant{}, false, nil
}

// Record writes a batch of tenant outcomes in one transaction: status rows, history (trimmed to
// HistoryLimit), rollout task states and lease releases.
func (s *Store) Record(ctx context.Context, updates []Update) error {
	if len(updates) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return record(ctx, tx, updates) })
}

func record(ctx context.Context, tx *sql.Tx, updates []Update) error {
	now := time.Now()
	for _, u := range updates {
		t := u.Status
		if t.UpdatedAt.IsZero() {
			t.UpdatedAt = now
		}
		owners := "{}"
		if len(t.Owners) > 0 {
			b, _ := json.Marshal(t.Owners)
			owners = string(b)
		}
		drifted := 0
		if t.Drifted {
			drifted = 1
		}
		driftAt := ""
		if t.DriftCheckedAt != nil {
			driftAt = ts(*t.DriftCheckedAt)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reconcile_status (`+statusCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT(tenant_id) DO UPDATE SET last_applied_revision=excluded.last_applied_revision,
			last_attempted_revision=excluded.last_attempted_revision, checksum=excluded.checksum,
			attempted_checksum=excluded.attempted_checksum, owners=excluded.owners, condition=excluded.condition,
			reason=excluded.reason, message=excluded.message, error=excluded.error, drifted=excluded.drifted,
			drift_checked_at=excluded.drift_checked_at, updated_at=excluded.updated_at`,
			t.TenantID, t.LastAppliedRevision, t.LastAttemptedRevision, t.Checksum, t.AttemptedChecksum, owners,
			t.Condition, t.Reason, t.Message, t.Error, drifted, driftAt, ts(t.UpdatedAt)); err != nil {
			return fmt.Errorf("status store: write %s: %w", t.TenantID, err)
		}
		if h := u.History; h != nil {
			at := h.At
			if at.IsZero() {
				at = now
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO reconcile_history (tenant_id, revision, checksum, result, reason, message,
				statements, duration_ms, at) VALUES (?,?,?,?,?,?,?,?,?)`, t.TenantID, h.Revision, h.Checksum, h.Result, h.Reason,
				h.Message, h.Statements, h.DurationMs, ts(at)); err != nil {
				return fmt.Errorf("status store: history %s: %w", t.TenantID, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM reconcile_history WHERE tenant_id = ? AND id NOT IN
				(SELECT id FROM reconcile_history WHERE tenant_id = ? ORDER BY id DESC LIMIT ?)`, t.TenantID, t.TenantID, HistoryLimit); err != nil {
				return fmt.Errorf("status store: trim history %s: %w", t.TenantID, err)
			}
		}
		if u.RolloutID > 0 && u.TaskState != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE reconcile_tasks SET state = ?, updated_at = ? WHERE rollout_id = ? AND tenant_id = ?`,
				u.TaskState, ts(now), u.RolloutID, t.TenantID); err != nil {
				return fmt.Errorf("status store: task %s: %w", t.TenantID, err)
			}
		}
		if u.ReleaseHolder != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM reconcile_leases WHERE tenant_id = ? AND holder = ?`, t.TenantID, u.ReleaseHolder); err != nil {
				return fmt.Errorf("status store: release lease %s: %w", t.TenantID, err)
			}
		}
	}
	return nil
}

// inTx runs fn in one transaction and commits it, retrying the whole transaction while SQLite reports the
// database busy. Over a remote control plane (Hrana) transactions begin DEFERRED, so two replicas that both
// read before writing can collide on the lock upgrade, which SQLite fails at once instead of waiting.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || !isBusy(err) || attempt >= 12 {
			return err
		}
		t := time.NewTimer(delay/2 + time.Duration(rand.Int64N(int64(delay))))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up waiting for a busy control plane: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("status store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("status store: commit: %w", err)
	}
	return nil
}

func isBusy(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy") || strings.Contains(msg, "database is busy")
}

// StartRollout resumes the running rollout of the same revision digest, or supersedes any running rollout
// and starts a new one with every task pending. tasks maps tenant → wave name.
func (s *Store) StartRollout(ctx context.Context, revision, digest string, tasks map[string]string) (*Rollout, bool, error) {
	var r Rollout
	var resumed bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, resumed, err = startRollout(ctx, tx, revision, digest, tasks)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return &r, resumed, nil
}

func startRollout(ctx context.Context, tx *sql.Tx, revision, digest string, tasks map[string]string) (Rollout, bool, error) {
	now := ts(time.Now())
	var r Rollout
	var started, updated string
	err := tx.QueryRowContext(ctx, `SELECT id, revision, digest, state, wave, message, started_at, updated_at FROM reconcile_rollouts
		WHERE state = ? ORDER BY id DESC LIMIT 1`, RolloutRunning).Scan(&r.ID, &r.Revision, &r.Digest, &r.State, &r.Wave, &r.Message, &started, &updated)
	resumed := false
	switch {
	case err == nil && r.Digest == digest && r.Revision == revision:
		resumed = true
		r.StartedAt, r.UpdatedAt = parseTS(started), parseTS(updated)
	case err == nil || errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `UPDATE reconcile_rollouts SET state = ?, updated_at = ? WHERE state = ?`, RolloutSuperseded, now, RolloutRunning); err != nil {
			return r, false, fmt.Errorf("status store: supersede rollouts: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO reconcile_rollouts (revision, digest, state, started_at, updated_at) VALUES (?,?,?,?,?)`,
			revision, digest, RolloutRunning, now, now)
		if err != nil {
			return r, false, fmt.Errorf("status store: start rollout: %w", err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return r, false, fmt.Errorf("status store: start rollout: %w", err)
		}
		r.Revision, r.Digest, r.State, r.Wave, r.Message = revision, digest, RolloutRunning, "", ""
		r.StartedAt, r.UpdatedAt = parseTS(now), parseTS(now)
		// Keep only recent rollouts' tasks; old records are not needed to resume.
		if _, err := tx.ExecContext(ctx, `DELETE FROM reconcile_tasks WHERE rollout_id NOT IN (SELECT id FROM reconcile_rollouts ORDER BY id DESC LIMIT 5)`); err != nil {
			return r, false, fmt.Errorf("status store: prune tasks: %w", err)
		}
	default:
		return r, false, fmt.Errorf("status store: read rollout: %w", err)
	}
	r.Tasks = map[string]string{}
	if resumed {
		rows, err := tx.QueryContext(ctx, `SELECT tenant_id, state FROM reconcile_tasks WHERE rollout_id = ?`, r.ID)
		if err != nil {
			return r, false, fmt.Errorf("status store: read tasks: %w", err)
		}
		for rows.Next() {
			var id, st string
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return r, false, fmt.Errorf("status store: read tasks: %w", err)
			}
			r.Tasks[id] = st
		}
		rows.Close()
	}
	for id, wave := range tasks {
		if _, ok := r.Tasks[id]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO reconcile_tasks (rollout_id, tenant_id, wave, state, updated_at) VALUES (?,?,?,?,?)`,
			r.ID, id, wave, TaskPending, now); err != nil {
			return r, false, fmt.Errorf("status store: write task: %w", err)
		}
		r.Tasks[id] = TaskPending
	}
	return r, resumed, nil
}

// UpdateRollout sets a rollout's state, current wave and message.
func (s *Store) UpdateRollout(ctx context.Context, id int64, state, wave, message string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE reconcile_rollouts SET state = ?, wave = ?, message = ?, updated_at = ? WHERE id = ?`,
		state, wave, message, ts(time.Now()), id)
	if err != nil {
		return fmt.Errorf("status store: update rollout: %w", err)
	}
	return nil
}

// LatestRollout returns the most recent rollout (nil when there is none), with its tasks.
func (s *Store) LatestRollout(ctx context.Context) (*Rollout, error) {
	var r Rollout
	var started, updated string
	err := s.db.QueryRowContext(ctx, `SELECT id, revision, digest, state, wave, message, started_at, updated_at FROM reconcile_rollouts
		ORDER BY id DESC LIMIT 1`).Scan(&r.ID, &r.Revision, &r.Digest, &r.State, &r.Wave, &r.Message, &started, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status store: latest rollout: %w", err)
	}
	r.StartedAt, r.UpdatedAt = parseTS(started), parseTS(updated)
	rows, err := s.db.QueryContext(ctx, `SELECT tenant_id, state FROM reconcile_tasks WHERE rollout_id = ?`, r.ID)
	if err != nil {
		return nil, fmt.Errorf("status store: read tasks: %w", err)
	}
	defer rows.Close()
	r.Tasks = map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		r.Tasks[id] = st
	}
	return &r, rows.Err()
}

// AcquireLeases takes the lease of each tenant that is free, expired or already ours, in one transaction,
// and returns the ones acquired. A conditional upsert makes two replicas racing for a tenant agree: only
// one row can hold it.
func (s *Store) AcquireLeases(ctx context.Context, holder string, ids []string, ttl time.Duration) (map[string]bool, error) {
	got := map[string]bool{}
	if len(ids) == 0 {
		return got, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(got)
		now := time.Now().UnixMilli()
		exp := now + ttl.Milliseconds()
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `INSERT INTO reconcile_leases (tenant_id, holder, expires_at) VALUES (?,?,?)
				ON CONFLICT(tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
				WHERE reconcile_leases.holder = excluded.holder OR reconcile_leases.expires_at < ?`, id, holder, exp, now)
			if err != nil {
				return fmt.Errorf("lease %s: %w", id, err)
			}
			if n, err := res.RowsAffected(); err == nil && n > 0 {
				got[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// ReleaseLeases drops the given tenants' leases held by holder.
func (s *Store) ReleaseLeases(ctx context.Context, holder string, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 200)
		args := []any{holder}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		q := `DELETE FROM reconcile_leases WHERE holder = ? AND tenant_id IN (?` + strings.Repeat(",?", n-1) + `)`
		if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("lease: release: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// SetSource records the last fetched revision and its validation outcome.
func (s *Store) SetSource(ctx context.Context, src Source) error {
	issues, _ := json.Marshal(src.Issues)
	if src.Issues == nil {
		issues = []byte("[]")
	}
	valid := 0
	if src.Valid {
		valid = 1
	}
	if src.FetchedAt.IsZero() {
		src.FetchedAt = time.Now()
	}
	src.Repo = RedactRepo(src.Repo)
	_, err := s.db.ExecContext(ctx, `INSERT INTO reconcile_source (repo, revision, digest, valid, issues, error, fetched_at) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(repo) DO UPDATE SET revision=excluded.revision, digest=excluded.digest, valid=excluded.valid, issues=excluded.issues,
		error=excluded.error, fetched_at=excluded.fetched_at`, src.Repo, src.Revision, src.Digest, valid, string(issues), src.Error, ts(src.FetchedAt))
	if err != nil {
		return fmt.Errorf("status store: write source: %w", err)
	}
	return nil
}

// Sources returns every recorded source.
func (s *Store) Sources(ctx context.Context) ([]Source, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, revision, digest, valid, issues, error, fetched_at FROM reconcile_source ORDER BY repo`)
	if err != nil {
		return nil, fmt.Errorf("status store: sources: %w", err)
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		var src Source
		var valid int
		var issues, at string
		if err := rows.Scan(&src.Repo, &src.Revision, &src.Digest, &valid, &issues, &src.Error, &at); err != nil {
			return nil, err
		}
		src.Valid = valid != 0
		src.Repo = RedactRepo(src.Repo)
		_ = json.Unmarshal([]byte(issues), &src.Issues)
		src.FetchedAt = parseTS(at)
		out = append(out, src)
	}
	return out, rows.Err()
}
