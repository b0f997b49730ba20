package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Batch is everything one tenant gets from one revision — the plans of every owner, their registry rows and
// deployment records, and statements callers add (an app's seed rows and registry row) — sent as ONE
// transaction in ONE round trip. Its first statements re-check the database against the State the plans were
// made from (schema_version, the registry digest, callers' guards, nobody else's migration lease), so a
// database that moved since makes the whole batch roll back with ErrStalePlan instead of running a plan made
// for another schema. No tenant is ever left with some owners of a revision applied and others not.
type Batch struct {
	st      *State
	holder  string
	stmts   []database.Stmt
	steps   []step
	plans   []*batchPlan
	fkOff   bool
	began   string
	observe func(int)
	// recordFailures writes a failed deployment row per plan after a failed commit (a second request). Single
	// applies (CLI, Terraform) do, so the tenant's deployment log shows the attempt; a reconciler revision does
	// not: its failure is recorded in the control plane, and the tenant stays byte-for-byte as it was.
	recordFailures bool
	registry       bool // the registry tables' DDL is in the batch
	restoreColumn  bool // the batch adds the deployments table's restore_point column (restore_point.go)
}

type stepKind int

const (
	stepStale stepKind = iota
	stepLease
	stepRegistryDDL
	stepForeignKeysOn
	stepDDL
	stepFKRows
	stepFKGuard
	stepRecord
	stepCaller
)

type step struct {
	kind  stepKind
	plan  int // index into plans, for plan steps
	index int // statement index within the plan (stepDDL)
	label string
	// message replaces the statement's own error for a caller's check (AddCheck).
	message string
}

type batchPlan struct {
	p        *Plan
	opts     ApplyOptions
	depID    string
	fkRows   int // step index of the foreign-key rows query, -1 when none
	start    time.Time
	executed int
	// restoreStmt indexes the statement recording the plan's restore point (-1: no destructive change).
	restoreStmt int
}

// NewBatch starts the batch for a tenant whose State was read with ReadState. holder is the migration-lease
// holder the batch runs as (a lease held by anybody else refuses it).
func NewBatch(st *State, holder string) *Batch {
	b := &Batch{st: st.read(), holder: holder, began: now(), fkOff: !testHookKeepForeignKeys}
	b.guards()
	return b
}

func (b *Batch) add(s step, stmt database.Stmt) {
	b.steps = append(b.steps, s)
	b.stmts = append(b.stmts, stmt)
}

// guards are the batch's first statements: each fails (json() of a non-JSON text raises an error) when the
// database is not the one the plans were made against.
func (b *Batch) guards() {
	st := b.st
	if st.hasLockTable {
		b.add(step{kind: stepLease}, database.Stmt{
			SQL:  "SELECT CASE WHEN EXISTS (SELECT 1 FROM _objectstack_lock WHERE name = ? AND holder <> ? AND expires_at > ?) THEN json('objectstack: locked') ELSE 1 END",
			Args: []any{leaseName, b.holder, time.Now().UnixMilli()},
		})
	}
	conds := []string{"(SELECT schema_version FROM pragma_schema_version) = ?"}
	args := []any{st.schemaVersion}
	if st.expectEmpty {
		conds = []string{`NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!')`}
		args = nil
	}
	if st.hasRegDigest {
		conds = append(conds, "("+registryDigestSQL+") IS ?")
		args = append(args, st.regDigest)
	}
	for _, g := range st.guards {
		if g.ok {
			conds = append(conds, "("+g.sql+") IS ?")
			args = append(args, g.value)
		}
	}
	b.add(step{kind: stepStale}, database.Stmt{
		SQL:  "SELECT CASE WHEN " + strings.Join(conds, " AND ") + " THEN 1 ELSE json('objectstack: the database changed since the plan') END",
		Args: args,
	})
}

// Plans returns how many plans that change something were added so far (the index the next one gets in
// BatchResult.Deployments).
func (b *Batch) Plans() int { return len(b.plans) }

// Observe calls fn before each statement of a local batch runs, with the index Add returned for it; crash tests
// use it to stop a process inside the transaction.
func (b *Batch) Observe(fn func(stmt int)) { b.observe = fn }

// Empty reports whether the batch would change nothing (only its guards).
func (b *Batch) Empty() bool {
	for _, s := range b.steps {
		switch s.kind {
		case stepStale, stepLease, stepRegistryDDL:
		default:
			return false
		}
	}
	return true
}

// AddPlan appends p's migration, its foreign-key check, the registry rows that changed and the deployment record.
// An up-to-date plan adds nothing. It returns the deployment id ("" for an up-to-date plan).
func (b *Batch) AddPlan(p *Plan, opts ApplyOptions) (string, error) {
	return b.addPlan(p, opts, "")
}

func (b *Batch) addPlan(p *Plan, opts ApplyOptions, rollbackOf string) (string, error) {
	if err := p.CheckAllowed(opts.Allow); err != nil {
		return "", fmt.Errorf("apply %s: %w", p.Owner, err)
	}
	if opts.InTx != nil {
		return "", fmt.Errorf("apply %s: a batched apply cannot run InTx callbacks", p.Owner)
	}
	if p.UpToDate {
		return "", nil
	}
	if !b.st.cur.HasRegistry && !b.registry {
		// Created only when the read showed them missing, inside the same transaction as the first schema.
		b.registry = true
		for _, s := range registryDDL {
			b.add(step{kind: stepRegistryDDL}, database.Stmt{SQL: s})
		}
	}
	bp := &batchPlan{p: p, opts: opts, depID: newID("dep-"), fkRows: -1, start: time.Now(), restoreStmt: -1}
	pi := len(b.plans)
	b.plans = append(b.plans, bp)
	if len(p.cascadeRisk) > 0 {
		// Enforcement should be off (the batch switches it off before BEGIN); a server that ignored that would
		// run ON DELETE actions on child rows, so the batch refuses to go on.
		b.add(step{kind: stepForeignKeysOn, plan: pi}, database.Stmt{
			SQL: "SELECT CASE WHEN (SELECT foreign_keys FROM pragma_foreign_keys) = 0 THEN 1 ELSE json('objectstack: foreign keys on') END",
		})
	}
	for _, rc := range p.rechecks {
		b.add(step{kind: stepCaller, label: fmt.Sprintf("apply %s: %s", p.Owner, rc.label), message: rc.message}, rc.stmt)
	}
	for i, s := range p.Migration.Statements {
		b.add(step{kind: stepDDL, plan: pi, index: i}, database.Stmt{SQL: s.SQL})
	}
	if len(p.fkCheck) > 0 {
		parts := make([]string, 0, len(p.fkCheck))
		args := make([]any, 0, len(p.fkCheck))
		for _, t := range p.fkCheck {
			parts = append(parts, `SELECT "table", rowid, parent, fkid FROM pragma_foreign_key_check(?)`)
			args = append(args, t)
		}
		union := strings.Join(parts, " UNION ALL ")
		bp.fkRows = len(b.steps)
		b.add(step{kind: stepFKRows, plan: pi}, database.Stmt{SQL: union + " LIMIT 10", Args: args, Query: true})
		b.add(step{kind: stepFKGuard, plan: pi}, database.Stmt{
			SQL:  "SELECT CASE WHEN EXISTS (" + union + ") THEN json('objectstack: foreign key check failed') ELSE 1 END",
			Args: args,
		})
	}
	stmts, err := registryWrites(p, opts, bp.depID, b.began, rollbackOf)
	if err != nil {
		return "", fmt.Errorf("apply %s: %w", p.Owner, err)
	}
	for _, s := range stmts {
		b.add(step{kind: stepRecord, plan: pi}, s)
	}
	b.addRestorePoint(pi, bp)
	return bp.depID, nil
}

// Add appends a caller's statements (labelled for error messages) and returns the index of the first one in
// BatchResult.Results.
func (b *Batch) Add(label string, stmts ...database.Stmt) int {
	first := len(b.stmts)
	for _, s := range stmts {
		b.add(step{kind: stepCaller, label: label}, s)
	}
	return first
}

// AddCheck appends a caller's guard: a statement that fails (e.g. SELECT CASE WHEN … THEN json('x') …) when the
// batch must not go on; the error is then "label: message" and nothing is applied.
func (b *Batch) AddCheck(label, message string, stmt database.Stmt) int {
	b.add(step{kind: stepCaller, label: label, message: message}, stmt)
	return len(b.stmts) - 1
}

// BatchResult is what Commit did.
type BatchResult struct {
	// Deployments holds one result per plan added with AddPlan that was not up to date, in order.
	Deployments []*DeployExecutionResult
	// Results holds every statement's result; Add's return value indexes it.
	Results []database.Result
}

// registryWrites is the registry part of an apply: only the rows whose object was added, changed or removed,
// then the deployment record.
func registryWrites(p *Plan, opts ApplyOptions, depID, startedAt, rollbackOf string) ([]database.Stmt, error) {
	ts := now()
	var out []database.Stmt
	prev := map[string]string{}
	for _, r := range p.registered {
		prev[r.Name] = r.Checksum
	}
	desired := map[string]bool{}
	for _, o := range p.objects {
		desired[o.Name] = true
		if sum, ok := prev[o.Name]; ok && sum == p.checksums[o.Name] {
			continue
		}
		def, err := encodeObject(o)
		if err != nil {
			return nil, err
		}
		out = append(out, database.Stmt{SQL: `INSERT INTO _objectstack_objects (name, owner, table_name, definition, checksum, updated_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, table_name = excluded.table_name,
definition = excluded.definition, checksum = excluded.checksum, updated_at = excluded.updated_at`,
			Args: []any{o.Name, string(p.Owner), p.tables[o.Name], string(def), p.checksums[o.Name], ts}})
	}
	var gone []string
	for _, r := range p.registered {
		if !desired[r.Name] {
			gone = append(gone, r.Name)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		names, _ := json.Marshal(gone)
		out = append(out, database.Stmt{SQL: `DELETE FROM _objectstack_objects WHERE owner = ? AND name IN (SELECT value FROM json_each(?))`,
			Args: []any{string(p.Owner), string(names)}})
	}
	stmts, err := json.Marshal(p.Migration.Statements)
	if err != nil {
		return nil, err
	}
	rb := []string{}
	for i := len(p.Migration.Statements) - 1; i >= 0; i-- {
		if s := p.Migration.Statements[i]; s.Reversible && s.RollbackSQL != "" {
			rb = append(rb, s.RollbackSQL)
		}
	}
	rbJSON, _ := json.Marshal(rb)
	source := opts.Source
	if rollbackOf != "" {
		source = "rollback:" + rollbackOf
	}
	out = append(out, database.Stmt{SQL: `INSERT INTO _objectstack_deployments
(id, owner, version, checksum, source, status, statements, rollback, previous, started_at, completed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Args: []any{depID, string(p.Owner), opts.Version, p.Checksum, source, StatusReady,
		string(stmts), string(rbJSON), string(p.previousJSON), startedAt, ts}})
	if rollbackOf != "" {
		out = append(out, database.Stmt{SQL: `UPDATE _objectstack_deployments SET rolled_back_by = ? WHERE id = ?`, Args: []any{depID, rollbackOf}})
	}
	return out, nil
}

// RecordFailures makes a failed Commit (other than a stale plan or a lease) write a failed deployment row per
// plan afterwards, in a second request, so the tenant's deployment log shows what was attempted.
func (b *Batch) RecordFailures() { b.recordFailures = true }

// Commit sends the batch. An empty batch sends nothing. On failure nothing was applied; the error is
// ErrStalePlan (wrapped) when the database moved since the State was read, a *LockedError when another holder
// has the lease, an *ApplyError for a failed migration statement, or the caller's label with its statement's
// error.
func (b *Batch) Commit(ctx context.Context, db *sql.DB) (*BatchResult, error) {
	res := &BatchResult{}
	if b.Empty() {
		return res, nil
	}
	if err := b.fillRestorePoints(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	opts := database.WriteOptions{ForeignKeysOff: b.fkOff}
	if testHookBeforeStatement != nil || b.observe != nil {
		opts.BeforeStatement = func(i int) {
			if s := b.steps[i]; s.kind == stepDDL && testHookBeforeStatement != nil {
				testHookBeforeStatement(s.index)
			}
			if b.observe != nil {
				b.observe(i)
			}
		}
	}
	out, err := database.For(db).Write(ctx, b.stmts, opts)
	res.Results = out
	elapsed := time.Since(start).Milliseconds()
	for _, bp := range b.plans {
		r := &DeployExecutionResult{DeploymentID: bp.depID, Status: StatusReady, CompletedAt: now(), DurationMs: elapsed,
			StatementsExecuted: len(bp.p.Migration.Statements), RestorePoint: b.restorePointOf(bp)}
		res.Deployments = append(res.Deployments, r)
	}
	if err == nil {
		return res, nil
	}
	err = b.explain(err, out)
	var le *LockedError
	if errors.Is(err, ErrStalePlan) || errors.As(err, &le) {
		// The lease table may have appeared since the read (a holder took the first lease): a lease held by
		// somebody else is the better answer, and the caller must not re-plan into it.
		if h, exp, lerr := currentLease(ctx, db); lerr == nil && h != "" && h != b.holder && exp.After(time.Now()) {
			err = &LockedError{Holder: h, ExpiresAt: exp}
		}
	}
	var ae *ApplyError
	failedPlan := -1
	if errors.As(err, &ae) {
		for i, bp := range b.plans {
			if bp.depID == ae.DeploymentID {
				failedPlan = i
			}
		}
	}
	for i, r := range res.Deployments {
		r.Status, r.Error, r.StatementsExecuted = StatusFailed, err.Error(), 0
		if i == failedPlan {
			fi := ae.FailedAtIndex
			r.FailedAtIndex = &fi
			r.StatementsExecuted = fi
		}
	}
	if b.recordFailures && !errors.Is(err, ErrStalePlan) && !isLocked(err) && len(b.plans) > 0 {
		b.writeFailures(context.WithoutCancel(ctx), db, err)
	}
	return res, err
}

// StorageFullError is a write refused because the tenant database reached its size limit: the platform's
// size_limit (max_page_count on a file), which is how the tenant's maxStorageBytes quota is enforced. The message
// carries the protocol's category, quota_exceeded, so every caller's output names the quota and not only
// SQLite's "database or disk is full".
type StorageFullError struct{ Err error }

func (e *StorageFullError) Error() string {
	return fmt.Sprintf("[quota_exceeded] the tenant database reached its size limit (maxStorageBytes quota): %v", e.Err)
}

func (e *StorageFullError) Unwrap() error { return e.Err }

// isStorageFull reports SQLITE_FULL, as the drivers and Hrana word it.
func isStorageFull(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "database or disk is full") || strings.Contains(m, "SQLITE_FULL")
}

// explain turns a failed step into the error its purpose calls for.
func (b *Batch) explain(err error, out []database.Result) error {
	var se *database.StepError
	if !errors.As(err, &se) {
		if isStorageFull(err) { // e.g. the COMMIT itself
			return &StorageFullError{Err: err}
		}
		return err
	}
	if isStorageFull(se.Err) {
		se = &database.StepError{Step: se.Step, Err: &StorageFullError{Err: se.Err}}
	}
	if se.Step >= len(b.steps) {
		return fmt.Errorf("commit: %w", se.Err)
	}
	s := b.steps[se.Step]
	owner := func() Owner { return b.plans[s.plan].p.Owner }
	switch s.kind {
	case stepStale:
		return ErrStalePlan
	case stepLease:
		// Commit names the holder from a fresh read; the one of the plan's read may be gone or have changed.
		h, exp := b.st.Lease()
		if h == "" || h == b.holder {
			h = "another holder"
		}
		return &LockedError{Holder: h, ExpiresAt: exp}
	case stepRegistryDDL:
		return fmt.Errorf("create registry tables: %w", se.Err)
	case stepForeignKeysOn:
		return fmt.Errorf("apply %s: %w", owner(), cascadeError(b.plans[s.plan].p.cascadeRisk))
	case stepDDL:
		bp := b.plans[s.plan]
		return fmt.Errorf("apply %s: %w", owner(), &ApplyError{DeploymentID: bp.depID, FailedAtIndex: s.index,
			Statement: bp.p.Migration.Statements[s.index].SQL, Err: se.Err})
	case stepFKGuard:
		var bad []string
		if fr := b.plans[s.plan].fkRows; fr >= 0 && fr < len(out) {
			for _, row := range out[fr].Rows {
				bad = append(bad, fmt.Sprintf("%s rowid %d references a missing %s row", asString(row[0]), asInt(row[1]), asString(row[2])))
			}
		}
		return fmt.Errorf("apply %s: foreign key check failed: %s; nothing was applied", owner(), strings.Join(bad, "; "))
	case stepFKRows:
		return fmt.Errorf("apply %s: foreign key check: %w", owner(), se.Err)
	case stepRecord:
		return fmt.Errorf("apply %s: write registry: %w", owner(), se.Err)
	default:
		if s.message != "" {
			return fmt.Errorf("%s: %s; nothing was applied", s.label, s.message)
		}
		return fmt.Errorf("%s: %w; nothing was applied", s.label, se.Err)
	}
}

func (b *Batch) writeFailures(ctx context.Context, db *sql.DB, cause error) {
	stmts := make([]database.Stmt, 0, len(registryDDL)+len(b.plans))
	for _, s := range registryDDL {
		stmts = append(stmts, database.Stmt{SQL: s})
	}
	for _, bp := range b.plans {
		stmts = append(stmts, failedDeployment(bp.p, bp.opts, bp.depID, b.began, cause))
	}
	_, _ = database.For(db).Write(ctx, stmts, database.WriteOptions{})
}

// failedDeployment is the deployment row recording an attempt that rolled back.
func failedDeployment(p *Plan, opts ApplyOptions, depID, startedAt string, cause error) database.Stmt {
	js, _ := json.Marshal(p.Migration.Statements)
	return database.Stmt{SQL: `INSERT INTO _objectstack_deployments
(id, owner, version, checksum, source, status, statements, error, started_at, completed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Args: []any{depID, string(p.Owner), opts.Version, p.Checksum, opts.Source,
		StatusFailed, string(js), cause.Error(), startedAt, now()}}
}
