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

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Store reads and writes the reconciler tables.
type Store struct {
	db *sql.DB
	b  database.Batcher
}

// Open creates the tables if needed (one request). The caller owns db.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	s := &Store{db: db, b: database.For(db)}
	stmts := make([]database.Stmt, len(migrations), len(migrations)+1)
	for i, m := range migrations {
		stmts[i] = database.Stmt{SQL: m}
	}
	// Source rows an older version stored under a URL with credentials in it come back with the same request.
	stmts = append(stmts, database.Stmt{SQL: `SELECT repo, error FROM reconcile_source WHERE repo LIKE '%@%'`, Query: true})
	res, err := s.write(ctx, stmts)
	if err != nil {
		return nil, fmt.Errorf("status store: migrate: %w", err)
	}
	if err := s.scrubSources(ctx, res[len(res)-1]); err != nil {
		return nil, err
	}
	return s, nil
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
func (s *Store) scrubSources(ctx context.Context, legacy database.Result) error {
	var stmts []database.Stmt
	for _, row := range legacy.Rows {
		var repo, errText string
		if err := database.Row(row).Scan(&repo, &errText); err != nil {
			return fmt.Errorf("status store: scrub sources: %w", err)
		}
		clean := RedactRepo(repo)
		if clean == repo {
			continue
		}
		msg := errText
		if u, err := url.Parse(repo); err == nil && u.User != nil {
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
		stmts = append(stmts,
			database.Stmt{SQL: `INSERT INTO reconcile_source (repo, revision, digest, valid, issues, error, fetched_at)
			SELECT ?, revision, digest, valid, issues, ?, fetched_at FROM reconcile_source WHERE repo = ?
			ON CONFLICT(repo) DO NOTHING`, Args: []any{clean, msg, repo}},
			database.Stmt{SQL: `DELETE FROM reconcile_source WHERE repo = ?`, Args: []any{repo}})
	}
	if len(stmts) == 0 {
		return nil
	}
	if _, err := s.write(ctx, stmts); err != nil {
		return fmt.Errorf("status store: scrub sources: %w", err)
	}
	return nil
}

// DB returns the control-plane handle.
func (s *Store) DB() *sql.DB { return s.db }

// Remote reports whether the control plane is reached over the network (every call is a round trip).
func (s *Store) Remote() bool { return s.b.Remote() }

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

func jsonArg(v any) string {
	b, _ := json.Marshal(v) // maps and slices of strings: cannot fail
	return string(b)
}

// write runs stmts as one transaction in one request, retrying the whole transaction while SQLite reports
// the database busy (two replicas writing at once; the server's busy timeout can still run out).
func (s *Store) write(ctx context.Context, stmts []database.Stmt) ([]database.Result, error) {
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := s.b.Write(ctx, stmts, database.WriteOptions{})
		if err == nil || !isBusy(err) || attempt >= 12 {
			return res, err
		}
		t := time.NewTimer(delay/2 + time.Duration(rand.Int64N(int64(delay))))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting for a busy control plane: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

// read answers stmts from one snapshot in one request; a statement's own failure is an error here (the
// reconciler's tables always exist once Open ran).
func (s *Store) read(ctx context.Context, stmts []database.Stmt) ([]database.Result, error) {
	res, err := s.b.Read(ctx, stmts)
	if err != nil {
		return nil, err
	}
	for i, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, r.Err)
		}
	}
	return res, nil
}

func isBusy(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy") || strings.Contains(msg, "database is busy")
}

const statusCols = `tenant_id, last_applied_revision, last_attempted_revision, checksum, attempted_checksum, owners,
	condition, reason, message, error, drifted, drift_checked_at, updated_at`

var (
	statusQuery  = database.Stmt{SQL: `SELECT ` + statusCols + ` FROM reconcile_status ORDER BY tenant_id`, Query: true}
	historyQuery = database.Stmt{SQL: `SELECT tenant_id, revision, checksum, result, reason, message, statements, duration_ms, at
		FROM reconcile_history ORDER BY tenant_id, id DESC`, Query: true}
	latestRolloutQuery = database.Stmt{SQL: `SELECT id, revision, digest, state, wave, message, started_at, updated_at FROM reconcile_rollouts
		ORDER BY id DESC LIMIT 1`, Query: true}
	latestTasksQuery = database.Stmt{SQL: `SELECT tenant_id, state FROM reconcile_tasks
		WHERE rollout_id = (SELECT MAX(id) FROM reconcile_rollouts)`, Query: true}
	sourcesQuery = database.Stmt{SQL: `SELECT repo, revision, digest, valid, issues, error, fetched_at FROM reconcile_source ORDER BY repo`, Query: true}
)

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

func decodeStatuses(res database.Result) ([]Tenant, error) {
	out := make([]Tenant, 0, len(res.Rows))
	for _, row := range res.Rows {
		t, err := scanTenant(database.Row(row))
		if err != nil {
			return nil, fmt.Errorf("status store: scan: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

func decodeRollout(ro, tasks database.Result) (*Rollout, error) {
	if len(ro.Rows) == 0 {
		return nil, nil
	}
	var r Rollout
	var started, updated string
	if err := database.Row(ro.Rows[0]).Scan(&r.ID, &r.Revision, &r.Digest, &r.State, &r.Wave, &r.Message, &started, &updated); err != nil {
		return nil, fmt.Errorf("status store: rollout: %w", err)
	}
	r.StartedAt, r.UpdatedAt = parseTS(started), parseTS(updated)
	r.Tasks = make(map[string]string, len(tasks.Rows))
	for _, row := range tasks.Rows {
		var id, st string
		if err := database.Row(row).Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("status store: tasks: %w", err)
		}
		r.Tasks[id] = st
	}
	return &r, nil
}

func decodeSources(res database.Result) ([]Source, error) {
	var out []Source
	for _, row := range res.Rows {
		var src Source
		var valid int
		var issues, at string
		if err := database.Row(row).Scan(&src.Repo, &src.Revision, &src.Digest, &valid, &issues, &src.Error, &at); err != nil {
			return nil, fmt.Errorf("status store: sources: %w", err)
		}
		src.Valid = valid != 0
		src.Repo = RedactRepo(src.Repo)
		_ = json.Unmarshal([]byte(issues), &src.Issues)
		src.FetchedAt = parseTS(at)
		out = append(out, src)
	}
	return out, nil
}

// Snapshot reads every tenant's status row (without history) together with the caller's extra
// statements — the tenant registry, for the reconciler — from one snapshot in ONE request: the fast path
// that decides which tenants need work without opening any tenant database.
func (s *Store) Snapshot(ctx context.Context, extra ...database.Stmt) (map[string]Tenant, []database.Result, error) {
	stmts := append([]database.Stmt{statusQuery}, extra...)
	res, err := s.b.Read(ctx, stmts)
	if err != nil {
		return nil, nil, fmt.Errorf("status store: read: %w", err)
	}
	if res[0].Err != nil {
		return nil, nil, fmt.Errorf("status store: read: %w", res[0].Err)
	}
	list, err := decodeStatuses(res[0])
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]Tenant, len(list))
	for _, t := range list {
		out[t.TenantID] = t
	}
	return out, res[1:], nil
}

// All returns every tenant's status row (without history) in one request.
func (s *Store) All(ctx context.Context) (map[string]Tenant, error) {
	all, _, err := s.Snapshot(ctx)
	return all, err
}

// Overview is everything the status document shows, read from one snapshot.
type Overview struct {
	Sources []Source
	Rollout *Rollout // the latest, with its tasks; nil when there is none
	Tenants []Tenant // with history, ordered by tenant id
	Leases  []Lease  // which replica holds which tenant, ordered by tenant id
	// Suspensions in force ("*" first, then by tenant).
	Suspensions []Suspension
}

// Overview reads sources, the latest rollout, every tenant's status with history and the leases in ONE request.
func (s *Store) Overview(ctx context.Context) (*Overview, error) {
	res, err := s.read(ctx, []database.Stmt{sourcesQuery, latestRolloutQuery, latestTasksQuery, statusQuery, historyQuery, leasesQuery, SuspensionsStmt})
	if err != nil {
		return nil, fmt.Errorf("status store: overview: %w", err)
	}
	o := &Overview{}
	if o.Leases, err = decodeLeases(res[5], time.Now()); err != nil {
		return nil, err
	}
	sus, err := DecodeSuspensions(res[6])
	if err != nil {
		return nil, err
	}
	o.Suspensions = sus.List()
	if o.Sources, err = decodeSources(res[0]); err != nil {
		return nil, err
	}
	if o.Rollout, err = decodeRollout(res[1], res[2]); err != nil {
		return nil, err
	}
	if o.Tenants, err = decodeStatuses(res[3]); err != nil {
		return nil, err
	}
	for i := range o.Tenants {
		if sp, ok := sus.Of(o.Tenants[i].TenantID); ok {
			o.Tenants[i].Suspension = &sp
		}
	}
	idx := make(map[string]int, len(o.Tenants))
	for i, t := range o.Tenants {
		idx[t.TenantID] = i
	}
	for _, row := range res[4].Rows {
		var id, at string
		var h HistoryEntry
		if err := database.Row(row).Scan(&id, &h.Revision, &h.Checksum, &h.Result, &h.Reason, &h.Message, &h.Statements, &h.DurationMs, &at); err != nil {
			return nil, fmt.Errorf("status store: history: %w", err)
		}
		h.At = parseTS(at)
		if i, ok := idx[id]; ok {
			o.Tenants[i].History = append(o.Tenants[i].History, h)
		}
	}
	return o, nil
}

// List returns every tenant's status with its history, ordered by tenant id.
func (s *Store) List(ctx context.Context) ([]Tenant, error) {
	o, err := s.Overview(ctx)
	if err != nil {
		return nil, err
	}
	return o.Tenants, nil
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

// LatestRollout returns the most recent rollout (nil when there is none), with its tasks.
func (s *Store) LatestRollout(ctx context.Context) (*Rollout, error) {
	res, err := s.read(ctx, []database.Stmt{latestRolloutQuery, latestTasksQuery})
	if err != nil {
		return nil, fmt.Errorf("status store: latest rollout: %w", err)
	}
	return decodeRollout(res[0], res[1])
}

// Sources returns every recorded source.
func (s *Store) Sources(ctx context.Context) ([]Source, error) {
	res, err := s.read(ctx, []database.Stmt{sourcesQuery})
	if err != nil {
		return nil, fmt.Errorf("status store: sources: %w", err)
	}
	return decodeSources(res[0])
}

// RolloutState sets a rollout's state, current wave and message.
type RolloutState struct {
	ID                   int64
	State, Wave, Message string
}

// Batch is one control-plane write: everything in it commits together, as one transaction sent in ONE
// request. Updates apply in order, so a later update of the same tenant wins.
type Batch struct {
	Source  *Source
	Updates []Update
	Rollout *RolloutState
}

func (b Batch) empty() bool { return b.Source == nil && len(b.Updates) == 0 && b.Rollout == nil }

// Write commits b in one request; an empty batch sends nothing.
func (s *Store) Write(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	now := time.Now()
	var stmts []database.Stmt
	if b.Source != nil {
		stmts = append(stmts, sourceStmt(*b.Source, now))
	}
	stmts = append(stmts, recordStmts(b.Updates, now)...)
	if ro := b.Rollout; ro != nil {
		stmts = append(stmts, database.Stmt{SQL: `UPDATE reconcile_rollouts SET state = ?, wave = ?, message = ?, updated_at = ? WHERE id = ?`,
			Args: []any{ro.State, ro.Wave, ro.Message, ts(now), ro.ID}})
	}
	if _, err := s.write(ctx, stmts); err != nil {
		return fmt.Errorf("status store: write %d tenant update(s): %w", len(b.Updates), err)
	}
	return nil
}

// Record writes a batch of tenant outcomes in one transaction (one request): status rows, history
// (trimmed to HistoryLimit), rollout task states and lease releases.
func (s *Store) Record(ctx context.Context, updates []Update) error {
	return s.Write(ctx, Batch{Updates: updates})
}

// UpdateRollout sets a rollout's state, current wave and message.
func (s *Store) UpdateRollout(ctx context.Context, id int64, state, wave, message string) error {
	return s.Write(ctx, Batch{Rollout: &RolloutState{ID: id, State: state, Wave: wave, Message: message}})
}

// SetSource records the last fetched revision and its validation outcome.
func (s *Store) SetSource(ctx context.Context, src Source) error {
	return s.Write(ctx, Batch{Source: &src})
}

func sourceStmt(src Source, now time.Time) database.Stmt {
	issues := "[]"
	if src.Issues != nil {
		issues = jsonArg(src.Issues)
	}
	valid := 0
	if src.Valid {
		valid = 1
	}
	if src.FetchedAt.IsZero() {
		src.FetchedAt = now
	}
	src.Repo = RedactRepo(src.Repo)
	return database.Stmt{SQL: `INSERT INTO reconcile_source (repo, revision, digest, valid, issues, error, fetched_at) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(repo) DO UPDATE SET revision=excluded.revision, digest=excluded.digest, valid=excluded.valid, issues=excluded.issues,
		error=excluded.error, fetched_at=excluded.fetched_at`, Args: []any{src.Repo, src.Revision, src.Digest, valid, issues, src.Error, ts(src.FetchedAt)}}
}

// recordStmts are the statements of a batch of tenant outcomes: per update its status row, history entry
// and task state (in order, so a later update of the same tenant wins), then one history trim and one
// lease release for the whole batch.
func recordStmts(updates []Update, now time.Time) []database.Stmt {
	var stmts []database.Stmt
	var trim []string
	release := map[string][]string{} // holder → tenants
	for _, u := range updates {
		t := u.Status
		if t.UpdatedAt.IsZero() {
			t.UpdatedAt = now
		}
		owners := "{}"
		if len(t.Owners) > 0 {
			owners = jsonArg(t.Owners)
		}
		drifted := 0
		if t.Drifted {
			drifted = 1
		}
		driftAt := ""
		if t.DriftCheckedAt != nil {
			driftAt = ts(*t.DriftCheckedAt)
		}
		stmts = append(stmts, database.Stmt{SQL: `INSERT INTO reconcile_status (` + statusCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT(tenant_id) DO UPDATE SET last_applied_revision=excluded.last_applied_revision,
			last_attempted_revision=excluded.last_attempted_revision, checksum=excluded.checksum,
			attempted_checksum=excluded.attempted_checksum, owners=excluded.owners, condition=excluded.condition,
			reason=excluded.reason, message=excluded.message, error=excluded.error, drifted=excluded.drifted,
			drift_checked_at=excluded.drift_checked_at, updated_at=excluded.updated_at`,
			Args: []any{t.TenantID, t.LastAppliedRevision, t.LastAttemptedRevision, t.Checksum, t.AttemptedChecksum, owners,
				t.Condition, t.Reason, t.Message, t.Error, drifted, driftAt, ts(t.UpdatedAt)}})
		if h := u.History; h != nil {
			at := h.At
			if at.IsZero() {
				at = now
			}
			stmts = append(stmts, database.Stmt{SQL: `INSERT INTO reconcile_history (tenant_id, revision, checksum, result, reason, message,
				statements, duration_ms, at) VALUES (?,?,?,?,?,?,?,?,?)`,
				Args: []any{t.TenantID, h.Revision, h.Checksum, h.Result, h.Reason, h.Message, h.Statements, h.DurationMs, ts(at)}})
			trim = append(trim, t.TenantID)
		}
		if u.RolloutID > 0 && u.TaskState != "" {
			stmts = append(stmts, database.Stmt{SQL: `UPDATE reconcile_tasks SET state = ?, updated_at = ? WHERE rollout_id = ? AND tenant_id = ?`,
				Args: []any{u.TaskState, ts(now), u.RolloutID, t.TenantID}})
		}
		if u.ReleaseHolder != "" {
			release[u.ReleaseHolder] = append(release[u.ReleaseHolder], t.TenantID)
		}
	}
	if len(trim) > 0 {
		stmts = append(stmts, database.Stmt{SQL: `DELETE FROM reconcile_history WHERE tenant_id IN (SELECT value FROM json_each(?))
			AND id NOT IN (SELECT h.id FROM reconcile_history h WHERE h.tenant_id = reconcile_history.tenant_id ORDER BY h.id DESC LIMIT ?)`,
			Args: []any{jsonArg(trim), HistoryLimit}})
	}
	for holder, ids := range release {
		stmts = append(stmts, releaseStmt(holder, ids))
	}
	return stmts
}

func releaseStmt(holder string, ids []string) database.Stmt {
	return database.Stmt{SQL: `DELETE FROM reconcile_leases WHERE holder = ? AND tenant_id IN (SELECT value FROM json_each(?))`,
		Args: []any{holder, jsonArg(ids)}}
}

// RolloutStart asks Begin for the rollout of one revision.
type RolloutStart struct {
	Revision, Digest string
	// Tasks maps every tenant the rollout must visit to its wave; tenants new to a resumed rollout are added.
	Tasks map[string]string
	// Wave, when set, is recorded as the rollout's current wave.
	Wave string
	// Source, when set, is recorded in the same transaction.
	Source *Source
}

// runningOf selects the running rollout of one revision (the newest, should there be several).
const runningOf = `(SELECT MAX(id) FROM reconcile_rollouts WHERE state = 'running' AND revision = ? AND digest = ?)`

// Begin resumes the running rollout of the same revision and digest, or supersedes any running rollout
// and starts a new one with every task pending — in ONE request. The decision is made inside the write
// transaction (an INSERT … WHERE NOT EXISTS), so two replicas starting the same revision at once agree on
// one rollout, as they did when this took a read-then-write transaction of several requests.
func (s *Store) Begin(ctx context.Context, rs RolloutStart) (*Rollout, bool, error) {
	now := ts(time.Now())
	key := []any{rs.Revision, rs.Digest}
	var stmts []database.Stmt
	if rs.Source != nil {
		stmts = append(stmts, sourceStmt(*rs.Source, time.Now()))
	}
	first := len(stmts)
	stmts = append(stmts,
		database.Stmt{SQL: `INSERT INTO reconcile_rollouts (revision, digest, state, wave, started_at, updated_at)
			SELECT ?, ?, 'running', '', ?, ? WHERE NOT EXISTS (SELECT 1 FROM reconcile_rollouts WHERE state = 'running' AND revision = ? AND digest = ?)`,
			Args: []any{rs.Revision, rs.Digest, now, now, rs.Revision, rs.Digest}},
		database.Stmt{SQL: `UPDATE reconcile_rollouts SET state = 'superseded', updated_at = ? WHERE state = 'running' AND id <> ` + runningOf,
			Args: append([]any{now}, key...)},
		// Keep only recent rollouts' tasks; old records are not needed to resume.
		database.Stmt{SQL: `DELETE FROM reconcile_tasks WHERE rollout_id NOT IN (SELECT id FROM reconcile_rollouts ORDER BY id DESC LIMIT 5)`},
		// INSERT OR IGNORE: a resumed rollout keeps the states its tasks reached before the restart.
		database.Stmt{SQL: `INSERT OR IGNORE INTO reconcile_tasks (rollout_id, tenant_id, wave, state, updated_at)
			SELECT ` + runningOf + `, key, value, 'pending', ? FROM json_each(?)`,
			Args: append(append([]any{}, key...), now, jsonArg(rs.Tasks))},
	)
	if rs.Wave != "" {
		stmts = append(stmts, database.Stmt{SQL: `UPDATE reconcile_rollouts SET wave = ?, updated_at = ? WHERE id = ` + runningOf,
			Args: append([]any{rs.Wave, now}, key...)})
	}
	q := len(stmts)
	stmts = append(stmts,
		database.Stmt{SQL: `SELECT id, revision, digest, state, wave, message, started_at, updated_at FROM reconcile_rollouts WHERE id = ` + runningOf,
			Args: key, Query: true},
		database.Stmt{SQL: `SELECT tenant_id, state FROM reconcile_tasks WHERE rollout_id = ` + runningOf, Args: key, Query: true},
	)
	res, err := s.write(ctx, stmts)
	if err != nil {
		return nil, false, fmt.Errorf("status store: start rollout: %w", err)
	}
	r, err := decodeRollout(res[q], res[q+1])
	if err != nil {
		return nil, false, err
	}
	if r == nil {
		return nil, false, errors.New("status store: start rollout: no running rollout after starting one")
	}
	return r, res[first].RowsAffected == 0, nil
}

// StartRollout is Begin without a source or wave.
func (s *Store) StartRollout(ctx context.Context, revision, digest string, tasks map[string]string) (*Rollout, bool, error) {
	return s.Begin(ctx, RolloutStart{Revision: revision, Digest: digest, Tasks: tasks})
}

// AcquireLeases takes the lease of each tenant that is free, expired or already ours, in one transaction
// (one request), and returns the ones acquired. A conditional upsert makes two replicas racing for a
// tenant agree: only one row can hold it.
func (s *Store) AcquireLeases(ctx context.Context, holder string, ids []string, ttl time.Duration) (map[string]bool, error) {
	got := map[string]bool{}
	if len(ids) == 0 {
		return got, nil
	}
	now := time.Now().UnixMilli()
	list := jsonArg(ids)
	res, err := s.write(ctx, []database.Stmt{
		// "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
		{SQL: `INSERT INTO reconcile_leases (tenant_id, holder, expires_at) SELECT value, ?, ? FROM json_each(?) WHERE true
			ON CONFLICT(tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE reconcile_leases.holder = excluded.holder OR reconcile_leases.expires_at < ?`, Args: []any{holder, now + ttl.Milliseconds(), list, now}},
		// Every row the holder has among ids is one it just took or renewed.
		{SQL: `SELECT tenant_id FROM reconcile_leases WHERE holder = ? AND tenant_id IN (SELECT value FROM json_each(?))`,
			Args: []any{holder, list}, Query: true},
	})
	if err != nil {
		return nil, fmt.Errorf("lease: acquire %d tenant(s): %w", len(ids), err)
	}
	for _, row := range res[1].Rows {
		var id string
		if err := database.Row(row).Scan(&id); err != nil {
			return nil, fmt.Errorf("lease: acquire: %w", err)
		}
		got[id] = true
	}
	return got, nil
}

// ReleaseLeases drops the given tenants' leases held by holder (one request).
func (s *Store) ReleaseLeases(ctx context.Context, holder string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.write(ctx, []database.Stmt{releaseStmt(holder, ids)}); err != nil {
		return fmt.Errorf("lease: release: %w", err)
	}
	return nil
}

// Lease is one reconciler replica's hold on one tenant.
type Lease struct {
	TenantID  string    `json:"tenantId"`
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expiresAt"`
	Expired   bool      `json:"expired,omitempty"` // past its expiry: any replica may take it over
}

var leasesQuery = database.Stmt{SQL: `SELECT tenant_id, holder, expires_at FROM reconcile_leases ORDER BY tenant_id`, Query: true}

func decodeLeases(res database.Result, now time.Time) ([]Lease, error) {
	out := []Lease{}
	for _, row := range res.Rows {
		var l Lease
		var ms int64
		if err := database.Row(row).Scan(&l.TenantID, &l.Holder, &ms); err != nil {
			return nil, fmt.Errorf("status store: leases: %w", err)
		}
		l.ExpiresAt = time.UnixMilli(ms).UTC()
		l.Expired = !l.ExpiresAt.After(now)
		out = append(out, l)
	}
	return out, nil
}

// Leases returns every tenant lease, expired ones included (one request).
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	res, err := s.read(ctx, []database.Stmt{leasesQuery})
	if err != nil {
		return nil, fmt.Errorf("status store: leases: %w", err)
	}
	return decodeLeases(res[0], time.Now())
}

// RenewLeases extends, in ONE request, the leases holder still has among ids to now+ttl: the heartbeat of
// a replica at work. A lease another replica took over (after it expired) is not touched; the count of
// leases renewed is returned.
func (s *Store) RenewLeases(ctx context.Context, holder string, ids []string, ttl time.Duration) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.write(ctx, []database.Stmt{{SQL: `UPDATE reconcile_leases SET expires_at = ? WHERE holder = ? AND tenant_id IN (SELECT value FROM json_each(?))`,
		Args: []any{time.Now().Add(ttl).UnixMilli(), holder, jsonArg(ids)}}})
	if err != nil {
		return 0, fmt.Errorf("lease: renew %d tenant(s) of %s: %w", len(ids), holder, err)
	}
	return res[0].RowsAffected, nil
}

// ClearLeases deletes holder's leases (only tenant's, when tenant is set) whatever their expiry — what
// `objectstack unlock` does once given the holder (the lock id) — and returns how many it removed.
func (s *Store) ClearLeases(ctx context.Context, holder, tenant string) (int64, error) {
	stmt := database.Stmt{SQL: `DELETE FROM reconcile_leases WHERE holder = ?`, Args: []any{holder}}
	if tenant != "" {
		stmt = database.Stmt{SQL: `DELETE FROM reconcile_leases WHERE holder = ? AND tenant_id = ?`, Args: []any{holder, tenant}}
	}
	res, err := s.write(ctx, []database.Stmt{stmt})
	if err != nil {
		return 0, fmt.Errorf("lease: clear leases of %s: %w", holder, err)
	}
	return res[0].RowsAffected, nil
}
