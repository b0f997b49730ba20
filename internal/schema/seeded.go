package schema

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// AddVerified records a deployment for a plan that found nothing to change: a database seeded
// from a template that already holds the owner's objects. The plan being up to date IS the
// verification (the copy matches the bundle, so a second plan is empty); the row says where the
// schema came from (opts.Source) so the tenant's deployment log starts with it. It returns the
// deployment id; a plan that would change something is refused, as it must go through AddPlan.
func (b *Batch) AddVerified(p *Plan, opts ApplyOptions) (string, error) {
	if !p.UpToDate {
		return "", fmt.Errorf("record %s: the database does not match: %d statement(s) would still run", p.Owner, len(p.Migration.Statements))
	}
	if !b.st.cur.HasRegistry {
		return "", fmt.Errorf("record %s: the database has no registry", p.Owner)
	}
	depID := newID("dep-")
	stmts, err := registryWrites(p, opts, depID, b.began, "")
	if err != nil {
		return "", fmt.Errorf("record %s: %w", p.Owner, err)
	}
	pi := len(b.plans)
	b.plans = append(b.plans, &batchPlan{p: p, opts: opts, depID: depID, fkRows: -1, restoreStmt: -1})
	for _, s := range stmts {
		b.add(step{kind: stepRecord, plan: pi}, database.Stmt{SQL: s.SQL, Args: s.Args})
	}
	return depID, nil
}

// RecordVerified records, in one batch, the deployment of an up-to-date plan (see AddVerified) made
// from a State read (ReadState, PlanOwner). The batch re-checks that the database did not move.
func RecordVerified(ctx context.Context, db *sql.DB, p *Plan, opts ApplyOptions) (*DeployExecutionResult, error) {
	if p.state == nil {
		return nil, fmt.Errorf("record %s: the plan was not made from a State", p.Owner)
	}
	holder := opts.Holder
	if holder == "" {
		holder = newID("apply-")
	}
	b := NewBatch(p.state, holder)
	if _, err := b.AddVerified(p, opts); err != nil {
		return nil, err
	}
	out, err := b.Commit(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", p.Owner, err)
	}
	return out.Deployments[0], nil
}
