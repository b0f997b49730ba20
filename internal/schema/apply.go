package schema

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ApplyOptions controls Apply and Rollback.
type ApplyOptions struct {
	// Allow lists the destructive kinds the caller accepts; any other destructive change refuses the plan.
	Allow []DestructiveKind
	// Version is the bundle/app version recorded with the deployment.
	Version string
	// Source says who applied: "cli", "terraform", "reconcile@<revision>", ...
	Source string
	// Holder is the migration-lease holder id this apply runs under; a lease held by anybody else refuses it.
	Holder string
	// InTx runs inside the same transaction after the DDL and registry writes, before COMMIT; an error
	// rolls everything back. It must use tx only: a local database has a single connection, which the
	// transaction holds, so touching db from InTx would wait forever.
	InTx func(ctx context.Context, tx *sql.Tx) error
	// RestorePoint is called right before the transaction of a plan with a destructive change, and
	// returns the time the database can be restored to (the local backend snapshots the file here,
	// see platform.RestorePoint). Nil records the current time, which is all Turso and objectstack
	// dev need: they keep the history themselves. The time is recorded in the deployment row.
	RestorePoint func(ctx context.Context) (time.Time, error)
}

// ErrStalePlan is returned (wrapped) when the database changed between planning and applying.
var ErrStalePlan = errors.New("database changed since the plan was made; plan again")

// ApplyError is a failed statement; nothing of the plan was applied.
type ApplyError struct {
	DeploymentID  string
	FailedAtIndex int
	Statement     string
	Err           error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("statement %d failed (%s): %v; nothing was applied", e.FailedAtIndex, e.Statement, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// DestructiveError lists every destructive change the caller did not allow.
type DestructiveError struct {
	Refused []DestructiveChange
}

func (e *DestructiveError) Error() string {
	parts := make([]string, 0, len(e.Refused))
	for _, c := range e.Refused {
		name := c.Object
		if c.Field != "" {
			name += "." + c.Field
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", c.Kind, name, c.Message))
	}
	return fmt.Sprintf("refusing %d destructive change(s) not allowed (allow with --allow-destructive KIND,...): %s",
		len(e.Refused), strings.Join(parts, "; "))
}

// CheckAllowed returns nil when every destructive change of the plan is of an allowed kind, else a
// *DestructiveError naming each refused change.
func (p *Plan) CheckAllowed(allow []DestructiveKind) error {
	ok := map[DestructiveKind]bool{}
	for _, k := range allow {
		ok[k] = true
	}
	var refused []DestructiveChange
	for _, d := range p.Destructive {
		if !ok[d.Kind] {
			refused = append(refused, d)
		}
	}
	if len(refused) > 0 {
		return &DestructiveError{Refused: refused}
	}
	return nil
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + time.Now().UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// testHookBeforeStatement lets the crash-safety test learn that a migration is under way.
var testHookBeforeStatement func(i int)

// testHookKeepForeignKeys simulates a connection on which foreign-key enforcement could not be
// switched off before BEGIN.
var testHookKeepForeignKeys bool

// Apply runs p in ONE transaction on one dedicated connection: foreign-key enforcement is switched off
// before BEGIN (inside a transaction SQLite ignores the pragma, and with enforcement on DROP TABLE's
// implicit DELETE would cascade into child rows), the database is re-checked against the plan's base,
// the statements run, touched tables pass PRAGMA foreign_key_check, the registry rows are written,
// opts.InTx runs, and only then COMMIT. Any failure rolls everything back.
func Apply(ctx context.Context, db *sql.DB, p *Plan, opts ApplyOptions) (*DeployExecutionResult, error) {
	return apply(ctx, db, p, opts, "")
}

func apply(ctx context.Context, db *sql.DB, p *Plan, opts ApplyOptions, rollbackOf string) (*DeployExecutionResult, error) {
	start := time.Now()
	if err := p.CheckAllowed(opts.Allow); err != nil {
		return nil, fmt.Errorf("apply %s: %w", p.Owner, err)
	}
	res := &DeployExecutionResult{}
	if p.UpToDate && opts.InTx == nil {
		res.Status = StatusReady
		res.CompletedAt = now()
		return res, nil
	}
	holder := opts.Holder
	if holder == "" {
		holder = newID("apply-")
	}
	if opts.InTx == nil && p.state != nil {
		return applyBatched(ctx, db, p, opts, holder, rollbackOf)
	}
	depID := ""
	if !p.UpToDate {
		depID = newID("dep-")
	}
	res.DeploymentID = depID
	startedAt := now()

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", p.Owner, err)
	}
	defer conn.Close()
	fkWas, err := pragmaInt(ctx, conn, "PRAGMA foreign_keys")
	if err != nil {
		return nil, fmt.Errorf("apply %s: read foreign_keys: %w", p.Owner, err)
	}
	if fkWas != 0 && !testHookKeepForeignKeys {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return nil, fmt.Errorf("apply %s: %w", p.Owner, err)
		}
		defer func() {
			// Restore on this connection even when ctx is done, so the pooled connection is left as found.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON")
		}()
	}

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("apply %s: begin: %w", p.Owner, err)
	}
	executed, runErr := runInTx(ctx, tx, p, opts, holder, depID, startedAt, rollbackOf)
	if runErr == nil {
		runErr = tx.Commit()
		if runErr != nil {
			runErr = fmt.Errorf("commit: %w", runErr)
		}
	} else {
		_ = tx.Rollback()
	}
	res.DurationMs = time.Since(start).Milliseconds()
	res.CompletedAt = now()
	if runErr != nil {
		res.Status = StatusFailed
		res.Error = runErr.Error()
		var ae *ApplyError
		if errors.As(runErr, &ae) {
			ae.DeploymentID = depID
			i := ae.FailedAtIndex
			res.FailedAtIndex = &i
		}
		if depID != "" && !errors.Is(runErr, ErrStalePlan) && !isLocked(runErr) {
			recordFailure(context.WithoutCancel(ctx), conn, p, opts, depID, startedAt, runErr)
		}
		return res, fmt.Errorf("apply %s: %w", p.Owner, runErr)
	}
	res.Status = StatusReady
	res.StatementsExecuted = executed
	return res, nil
}

// applyBatched applies one plan as one batch: one round trip.
func applyBatched(ctx context.Context, db *sql.DB, p *Plan, opts ApplyOptions, holder, rollbackOf string) (*DeployExecutionResult, error) {
	b := NewBatch(p.state, holder)
	b.RecordFailures()
	if _, err := b.addPlan(p, opts, rollbackOf); err != nil {
		return nil, err
	}
	out, err := b.Commit(ctx, db)
	res := &DeployExecutionResult{Status: StatusFailed, CompletedAt: now()}
	if len(out.Deployments) > 0 {
		res = out.Deployments[0]
	}
	if err != nil {
		if res.Error == "" {
			res.Status, res.Error = StatusFailed, err.Error()
		}
		if errors.Is(err, ErrStalePlan) || isLocked(err) {
			return res, fmt.Errorf("apply %s: %w", p.Owner, err)
		}
		return res, err
	}
	return res, nil
}

func isLocked(err error) bool {
	var le *LockedError
	return errors.As(err, &le)
}

func pragmaInt(ctx context.Context, q queryer, pragma string) (int64, error) {
	rows, err := q.QueryContext(ctx, pragma)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var v int64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
	}
	return v, rows.Err()
}

func runInTx(ctx context.Context, tx *sql.Tx, p *Plan, opts ApplyOptions, holder, depID, startedAt, rollbackOf string) (int, error) {
	if err := ensureRegistry(ctx, tx); err != nil {
		return 0, err
	}
	if err := checkLease(ctx, tx, holder); err != nil {
		return 0, err
	}
	cur, reg, err := readState(ctx, tx, p.Owner)
	if err != nil {
		return 0, err
	}
	if baseFingerprint(cur, reg) != p.base {
		return 0, ErrStalePlan
	}
	// Foreign-key enforcement should be off (set before BEGIN on this connection). If it is still on —
	// a server that ignored the pragma, or a pooled remote session — dropping a referenced table would
	// run ON DELETE actions on its child rows, so such a plan is refused before anything runs.
	if fk, err := pragmaInt(ctx, tx, "PRAGMA foreign_keys"); err != nil {
		return 0, fmt.Errorf("read foreign_keys: %w", err)
	} else if fk != 0 {
		if err := checkNoCascadingDrops(p, cur); err != nil {
			return 0, err
		}
	}
	for _, rc := range p.rechecks {
		if _, err := tx.ExecContext(ctx, rc.stmt.SQL, rc.stmt.Args...); err != nil {
			return 0, fmt.Errorf("%s: %s", rc.label, rc.message)
		}
	}
	for i, s := range p.Migration.Statements {
		if testHookBeforeStatement != nil {
			testHookBeforeStatement(i)
		}
		if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
			return i, &ApplyError{FailedAtIndex: i, Statement: s.SQL, Err: err}
		}
	}
	if err := foreignKeyCheck(ctx, tx, p.fkCheck); err != nil {
		return len(p.Migration.Statements), err
	}
	if depID != "" {
		if err := writeRegistry(ctx, tx, p, opts, depID, startedAt, rollbackOf); err != nil {
			return len(p.Migration.Statements), err
		}
	}
	if opts.InTx != nil {
		if err := opts.InTx(ctx, tx); err != nil {
			return len(p.Migration.Statements), fmt.Errorf("in-transaction step: %w", err)
		}
	}
	return len(p.Migration.Statements), nil
}

// checkNoCascadingDrops refuses a plan that drops (or rebuilds) a table other tables reference.
func checkNoCascadingDrops(p *Plan, cur *dbSchema) error {
	if hits := cascadingDrops(p, cur); len(hits) > 0 {
		return cascadeError(hits)
	}
	return nil
}

func cascadeError(hits []string) error {
	return fmt.Errorf("foreign-key enforcement is on for the migration connection and SQLite cannot switch it off inside a transaction: %s; nothing was applied (run the migration on a connection where PRAGMA foreign_keys=OFF takes effect)", strings.Join(hits, "; "))
}

// cascadingDrops lists what the plan's DROP TABLEs (including a rebuild's) would cascade into were foreign keys
// enforced on the migration connection.
func cascadingDrops(p *Plan, cur *dbSchema) []string {
	var hits []string
	for _, s := range p.Migration.Statements {
		if s.SQL != "DROP TABLE "+qi(s.Object) {
			continue
		}
		for _, cn := range sortedKeys(cur.Tables) {
			if cn == s.Object {
				continue
			}
			for _, c := range cur.Tables[cn].Columns {
				if c.Ref != nil && c.Ref.Table == s.Object {
					hits = append(hits, fmt.Sprintf("dropping %s would run ON DELETE %s on %s.%s", s.Object, c.Ref.OnDelete, cn, c.Name))
				}
			}
		}
	}
	return hits
}

// foreignKeyCheck runs PRAGMA foreign_key_check on the tables the plan touched, in one query.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	parts := make([]string, 0, len(tables))
	args := make([]any, 0, len(tables))
	for _, t := range tables {
		parts = append(parts, `SELECT "table", rowid, parent, fkid FROM pragma_foreign_key_check(?)`)
		args = append(args, t)
	}
	rows, err := tx.QueryContext(ctx, strings.Join(parts, " UNION ALL ")+" LIMIT 10", args...)
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var t, parent string
		var rowid sql.NullInt64
		var fkid int64
		if err := rows.Scan(&t, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		bad = append(bad, fmt.Sprintf("%s rowid %d references a missing %s row", t, rowid.Int64, parent))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("foreign key check failed: %s; nothing was applied", strings.Join(bad, "; "))
	}
	return nil
}

func writeRegistry(ctx context.Context, tx *sql.Tx, p *Plan, opts ApplyOptions, depID, startedAt, rollbackOf string) error {
	stmts, err := registryWrites(p, opts, depID, startedAt, rollbackOf)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("write registry: %w", err)
		}
	}
	return nil
}

// recordFailure writes a failed deployment row after the migration transaction rolled back, so status
// shows what was attempted; it is best effort (the failure itself is already the caller's error).
func recordFailure(ctx context.Context, conn *sql.Conn, p *Plan, opts ApplyOptions, depID, startedAt string, cause error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return
	}
	if err := ensureRegistry(ctx, tx); err == nil {
		row := failedDeployment(p, opts, depID, startedAt, cause)
		_, err = tx.ExecContext(ctx, row.SQL, row.Args...)
		if err == nil {
			_ = tx.Commit()
			return
		}
	}
	_ = tx.Rollback()
}
