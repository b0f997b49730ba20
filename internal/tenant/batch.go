package tenant

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The control plane may be a remote libSQL database where every request is a WAN round trip. These entry
// points let a caller that reads the registry together with its own tables (the reconciler: tenants and
// their reconcile status) send everything as one batch, and open many tenants with one registry read
// instead of one per tenant.

// ControlDB is the control-plane handle. A caller that opens its own tables on this same handle (rather
// than a second handle to the same URL) may batch ListStmt with its own reads.
func (s *Service) ControlDB() *sql.DB { return s.ctl }

// ListStmt is the query List runs for f, for a caller that sends it in a batch with other reads of the
// control plane; DecodeList turns its result into tenants.
func ListStmt(f Filter) database.Stmt {
	q, args := listQuery(f)
	return database.Stmt{SQL: q, Args: args, Query: true}
}

// DecodeList reads the result of ListStmt(f): the tenants matching f, ordered by id.
func DecodeList(res database.Result, f Filter) ([]Tenant, error) {
	if res.Err != nil {
		return nil, fmt.Errorf("list tenants: %w", res.Err)
	}
	var out []Tenant
	for _, vals := range res.Rows {
		r, err := scanRow(database.Row(vals))
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		if matchLabels(r.Labels, f.Labels) {
			out = append(out, r.Tenant)
		}
	}
	return out, nil
}

// Warm makes sure the router holds a handle for each of ids, reading the registry rows of the ones it
// does not hold in ONE control-plane request (DB would read them one at a time). Tenants that are missing
// or cannot be opened are left to DB, which reports why when the caller gets to them; only a failed
// registry read is an error.
func (s *Service) Warm(ctx context.Context, ids []string) error {
	var missing []string
	gens := map[string]uint64{}
	for _, id := range ids {
		if nid, err := NormalizeID(id); err == nil && !s.router.Cached(nid) {
			missing = append(missing, nid)
			// Taken before the read: a suspend that invalidates the tenant after it makes AdoptAt refuse.
			gens[nid] = s.router.Generation(nid)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return err
	}
	res, err := database.For(s.ctl).Read(ctx, []database.Stmt{{
		SQL: `SELECT ` + rowColumns + ` FROM tenant_registry WHERE id IN (SELECT value FROM json_each(?))`, Args: []any{string(list)}, Query: true}})
	if err != nil {
		return fmt.Errorf("read tenants to open: %w", err)
	}
	if res[0].Err != nil {
		return fmt.Errorf("read tenants to open: %w", res[0].Err)
	}
	for _, vals := range res[0].Rows {
		r, err := scanRow(database.Row(vals))
		if err != nil {
			return fmt.Errorf("read tenants to open: %w", err)
		}
		switch r.Status {
		case StatusActive, StatusSuspended, StatusDestroying:
		default:
			continue // DB refuses it with the reason
		}
		db, err := s.openRow(r)
		if err != nil {
			continue
		}
		if !s.router.AdoptAt(r.ID, db, gens[r.ID]) {
			_ = db.Close() // opened meanwhile, or invalidated since the read: DB opens it afresh
		}
	}
	return nil
}
