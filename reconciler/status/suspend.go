package status

import (
	"context"
	"fmt"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// SuspendAll is the scope of a suspension of the whole repository: no tenant is applied to.
const SuspendAll = "*"

// Suspension stops the reconciler from applying anything to its scope — every tenant (SuspendAll) or one
// tenant id — until it is resumed. It lives in the control plane, so every replica honours it: at the
// start of a reconcile, when it leases the next group of tenants, and at each lease heartbeat.
type Suspension struct {
	Scope  string    `json:"scope"` // SuspendAll or a tenant id
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"` // who suspended (user@host)
	At     time.Time `json:"at"`
}

func init() {
	migrations = append(migrations, `CREATE TABLE IF NOT EXISTS reconcile_suspensions (
		scope TEXT PRIMARY KEY,
		reason TEXT NOT NULL DEFAULT '',
		suspended_by TEXT NOT NULL DEFAULT '',
		at TEXT NOT NULL)`)
}

// SuspensionsStmt reads every suspension; Snapshot callers add it to their one read.
var SuspensionsStmt = database.Stmt{SQL: `SELECT scope, reason, suspended_by, at FROM reconcile_suspensions ORDER BY scope`, Query: true}

// Suspensions is the set of suspensions in force.
type Suspensions map[string]Suspension

// Of returns the suspension that stops tenant id (the repository's before the tenant's own), if any.
func (s Suspensions) Of(id string) (Suspension, bool) {
	if a, ok := s[SuspendAll]; ok {
		return a, true
	}
	t, ok := s[id]
	return t, ok
}

// All is the repository-wide suspension, if any.
func (s Suspensions) All() (Suspension, bool) {
	a, ok := s[SuspendAll]
	return a, ok
}

// List returns the suspensions ordered by scope ("*" first).
func (s Suspensions) List() []Suspension {
	out := make([]Suspension, 0, len(s))
	if a, ok := s[SuspendAll]; ok {
		out = append(out, a)
	}
	for scope, sp := range s {
		if scope != SuspendAll {
			out = append(out, sp)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 1 && out[j].Scope < out[j-1].Scope; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// DecodeSuspensions reads the result of SuspensionsStmt.
func DecodeSuspensions(res database.Result) (Suspensions, error) {
	if res.Err != nil {
		return nil, fmt.Errorf("status store: suspensions: %w", res.Err)
	}
	out := Suspensions{}
	for _, row := range res.Rows {
		var sp Suspension
		var at string
		if err := database.Row(row).Scan(&sp.Scope, &sp.Reason, &sp.By, &at); err != nil {
			return nil, fmt.Errorf("status store: suspensions: %w", err)
		}
		sp.At = parseTS(at)
		out[sp.Scope] = sp
	}
	return out, nil
}

// Suspend suspends the given tenants, or the whole repository when tenants is empty (one request). A scope
// already suspended keeps its first time and takes the new reason.
func (s *Store) Suspend(ctx context.Context, tenants []string, reason, by string) error {
	scopes := tenants
	if len(scopes) == 0 {
		scopes = []string{SuspendAll}
	}
	if _, err := s.write(ctx, []database.Stmt{{SQL: `INSERT INTO reconcile_suspensions (scope, reason, suspended_by, at)
		SELECT value, ?, ?, ? FROM json_each(?) WHERE true
		ON CONFLICT(scope) DO UPDATE SET reason = excluded.reason, suspended_by = excluded.suspended_by`,
		Args: []any{reason, by, ts(time.Now()), jsonArg(scopes)}}}); err != nil {
		return fmt.Errorf("status store: suspend %v: %w", scopes, err)
	}
	return nil
}

// Resume lifts the suspensions of the given tenants, or the repository-wide one when tenants is empty
// (one request), and returns how many it lifted. A tenant stays stopped while the repository is suspended.
func (s *Store) Resume(ctx context.Context, tenants []string) (int64, error) {
	scopes := tenants
	if len(scopes) == 0 {
		scopes = []string{SuspendAll}
	}
	res, err := s.write(ctx, []database.Stmt{{SQL: `DELETE FROM reconcile_suspensions WHERE scope IN (SELECT value FROM json_each(?))`,
		Args: []any{jsonArg(scopes)}}})
	if err != nil {
		return 0, fmt.Errorf("status store: resume %v: %w", scopes, err)
	}
	return res[0].RowsAffected, nil
}

// Suspensions reads the suspensions in force (one request).
func (s *Store) Suspensions(ctx context.Context) (Suspensions, error) {
	res, err := s.read(ctx, []database.Stmt{SuspensionsStmt})
	if err != nil {
		return nil, fmt.Errorf("status store: suspensions: %w", err)
	}
	return DecodeSuspensions(res[0])
}

// AcquireLeasesUnlessSuspended is AcquireLeases that takes no lease of a suspended tenant (nor any while
// the repository is suspended), deciding inside the same transaction, and returns the suspensions in
// force with the leases — still ONE request. This is how a suspension reaches a replica in the middle of
// a rollout: the next group of tenants it leases.
func (s *Store) AcquireLeasesUnlessSuspended(ctx context.Context, holder string, ids []string, ttl time.Duration) (map[string]bool, Suspensions, error) {
	got := map[string]bool{}
	if len(ids) == 0 {
		return got, Suspensions{}, nil
	}
	now := time.Now().UnixMilli()
	list := jsonArg(ids)
	res, err := s.write(ctx, []database.Stmt{
		{SQL: `INSERT INTO reconcile_leases (tenant_id, holder, expires_at) SELECT value, ?, ? FROM json_each(?)
			WHERE NOT EXISTS (SELECT 1 FROM reconcile_suspensions WHERE scope = '*' OR scope = value)
			ON CONFLICT(tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE reconcile_leases.holder = excluded.holder OR reconcile_leases.expires_at < ?`, Args: []any{holder, now + ttl.Milliseconds(), list, now}},
		// A lease the holder already had on a tenant suspended since is not one to use: only unsuspended ones count.
		{SQL: `SELECT tenant_id FROM reconcile_leases WHERE holder = ? AND tenant_id IN (SELECT value FROM json_each(?))
			AND NOT EXISTS (SELECT 1 FROM reconcile_suspensions WHERE scope = '*' OR scope = tenant_id)`,
			Args: []any{holder, list}, Query: true},
		SuspensionsStmt,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("lease: acquire %d tenant(s): %w", len(ids), err)
	}
	for _, row := range res[1].Rows {
		var id string
		if err := database.Row(row).Scan(&id); err != nil {
			return nil, nil, fmt.Errorf("lease: acquire: %w", err)
		}
		got[id] = true
	}
	sus, err := DecodeSuspensions(res[2])
	if err != nil {
		return nil, nil, err
	}
	return got, sus, nil
}

// RenewLeasesReadSuspensions is RenewLeases that also reads the suspensions in force, in the same ONE
// request: the heartbeat of a replica at work tells it within a third of a lease TTL that it must start
// no further tenant.
func (s *Store) RenewLeasesReadSuspensions(ctx context.Context, holder string, ids []string, ttl time.Duration) (int64, Suspensions, error) {
	stmts := []database.Stmt{SuspensionsStmt}
	if len(ids) > 0 {
		stmts = append(stmts, database.Stmt{SQL: `UPDATE reconcile_leases SET expires_at = ? WHERE holder = ? AND tenant_id IN (SELECT value FROM json_each(?))`,
			Args: []any{time.Now().Add(ttl).UnixMilli(), holder, jsonArg(ids)}})
	}
	res, err := s.write(ctx, stmts)
	if err != nil {
		return 0, nil, fmt.Errorf("lease: renew %d tenant(s) of %s: %w", len(ids), holder, err)
	}
	sus, err := DecodeSuspensions(res[0])
	if err != nil {
		return 0, nil, err
	}
	var n int64
	if len(res) > 1 {
		n = res[1].RowsAffected
	}
	return n, sus, nil
}
