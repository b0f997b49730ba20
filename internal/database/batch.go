package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"weak"
)

// Stmt is one statement of a batch. Query asks for its rows; otherwise only the affected-row count comes back.
type Stmt struct {
	SQL   string
	Args  []any
	Query bool
}

// Result is what one statement of a batch returned.
type Result struct {
	Columns      []string
	Rows         [][]any // int64, float64, string, []byte or nil, as database/sql scans into any
	RowsAffected int64
	// Err is a statement's own failure in a Read, where every statement runs whatever the others did (a
	// missing registry table is an answer, not a failure of the whole read). Write reports failures as errors.
	Err error
}

// StepError is a failed statement of a batch: Step is its index in the caller's list (len(stmts) for the
// COMMIT). Nothing of the batch was applied when it comes from Write.
type StepError struct {
	Step int
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("statement %d: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// WriteOptions changes how Write runs its transaction.
type WriteOptions struct {
	// ForeignKeysOff switches foreign-key enforcement off for the transaction. SQLite ignores the pragma inside
	// a transaction, so it runs before BEGIN on the same connection (and is restored after, for pooled ones):
	// with enforcement on, DROP TABLE's implicit DELETE would cascade into child rows during a table rebuild.
	ForeignKeysOff bool
	// BeforeStatement, when set, is called before each statement of a local batch runs (a remote batch runs on
	// the server in one request). Crash-safety tests use it to learn that a migration is under way.
	BeforeStatement func(i int)
}

// Batcher runs a list of statements against one database in ONE round trip. It is the unit of cost the engine
// plans with: on Turso every round trip is a WAN request, on a local file it is a transaction.
type Batcher interface {
	// Read runs stmts in order inside one read transaction, so every statement sees the same snapshot.
	Read(ctx context.Context, stmts []Stmt) ([]Result, error)
	// Write runs stmts as ONE transaction: each runs only if every earlier one succeeded, and the first failure
	// rolls everything back and comes back as a *StepError naming the statement.
	Write(ctx context.Context, stmts []Stmt, opts WriteOptions) ([]Result, error)
	// Remote reports whether a round trip crosses the network (Hrana over HTTP).
	Remote() bool
}

// remoteInfo is what Open knew about a remote database, kept so For can batch over Hrana without every caller
// having to carry a second handle next to its *sql.DB.
type remoteInfo struct {
	hrana *hranaClient
}

var (
	remotesMu sync.Mutex
	remotes   = map[weak.Pointer[sql.DB]]*remoteInfo{}
)

func registerRemote(db *sql.DB, info *remoteInfo) {
	key := weak.Make(db)
	remotesMu.Lock()
	remotes[key] = info
	remotesMu.Unlock()
	// The entry lives as long as the handle: a *sql.DB nobody references any more takes its entry along.
	runtime.AddCleanup(db, func(k weak.Pointer[sql.DB]) {
		remotesMu.Lock()
		delete(remotes, k)
		remotesMu.Unlock()
	}, key)
}

// For returns the Batcher of a handle Open returned: Hrana batches over HTTP for a remote database, one
// transaction on one connection for a local file (or any other *sql.DB).
func For(db *sql.DB) Batcher {
	remotesMu.Lock()
	info := remotes[weak.Make(db)]
	remotesMu.Unlock()
	if info != nil {
		return info.hrana
	}
	return localBatcher{db}
}

// localBatcher runs batches through database/sql on one dedicated connection.
type localBatcher struct{ db *sql.DB }

func (localBatcher) Remote() bool { return false }

func (l localBatcher) Read(ctx context.Context, stmts []Stmt) ([]Result, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// A deferred transaction: the snapshot is taken at the first read and held to the end, without taking the
	// write lock that the DSN's immediate mode would take for a database/sql transaction.
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return nil, fmt.Errorf("begin read: %w", err)
	}
	out := make([]Result, len(stmts))
	for i, s := range stmts {
		out[i], out[i].Err = queryAll(ctx, conn, s)
	}
	_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return out, nil
}

func (l localBatcher) Write(ctx context.Context, stmts []Stmt, opts WriteOptions) ([]Result, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if opts.ForeignKeysOff {
		var was int64
		if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&was); err != nil {
			return nil, fmt.Errorf("read foreign_keys: %w", err)
		}
		if was != 0 {
			if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
				return nil, fmt.Errorf("foreign_keys off: %w", err)
			}
			defer func() {
				// Restored even when ctx is done, so the pooled connection is left as found.
				_, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON")
			}()
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	out, err := runStmts(ctx, tx, stmts, opts.BeforeStatement)
	if err != nil {
		_ = tx.Rollback()
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, &StepError{Step: len(stmts), Err: fmt.Errorf("commit: %w", err)}
	}
	return out, nil
}

type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func runStmts(ctx context.Context, r sqlRunner, stmts []Stmt, before func(int)) ([]Result, error) {
	out := make([]Result, 0, len(stmts))
	for i, s := range stmts {
		if before != nil {
			before(i)
		}
		if !s.Query {
			res, err := r.ExecContext(ctx, s.SQL, s.Args...)
			if err != nil {
				return out, &StepError{Step: i, Err: err}
			}
			n, _ := res.RowsAffected()
			out = append(out, Result{RowsAffected: n})
			continue
		}
		res, err := queryAll(ctx, r, s)
		if err != nil {
			return out, &StepError{Step: i, Err: err}
		}
		out = append(out, res)
	}
	return out, nil
}

func queryAll(ctx context.Context, r sqlRunner, s Stmt) (Result, error) {
	rows, err := r.QueryContext(ctx, s.SQL, s.Args...)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Result{}, err
	}
	res := Result{Columns: cols}
	// Rows share backing arrays allocated a chunk at a time, and the scan destinations are reused: a plan's
	// introspection reads thousands of rows, and a slice or two per row was most of its garbage.
	n := len(cols)
	ptrs := make([]any, n)
	var chunk []any
	for rows.Next() {
		if len(chunk) < n {
			chunk = make([]any, n*64)
		}
		vals := chunk[:n:n]
		chunk = chunk[n:]
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Result{}, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok { // database/sql reuses the buffer behind a scanned []byte
				vals[i] = append([]byte(nil), b...)
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// IsStep reports whether err is a *StepError for step i.
func IsStep(err error, i int) bool {
	var se *StepError
	return errors.As(err, &se) && se.Step == i
}
