package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Restore points: before each deployment that has a destructive change, the time just before its
// transaction is recorded in the deployment row (restore_point), so `objectstack tenant restore
// --before-deployment <id>` can create a database as it was then. Only destructive plans pay: one
// more statement in the same batch (and, on a database whose registry predates the column, the
// ALTER TABLE that adds it), no extra round trip. Non-destructive deployments leave it NULL.

// restorePointColumnDDL adds the column to a registry created before it existed. It runs inside the
// batch's transaction, after the guards, so a concurrent writer that added it first makes the batch
// stale (schema_version moved) rather than fail on a duplicate column.
const restorePointColumnDDL = `ALTER TABLE _objectstack_deployments ADD COLUMN restore_point TEXT`

// ErrNoRestorePoint is returned (wrapped) for a deployment that recorded no restore point: it had
// no destructive change, or it was applied before restore points were recorded.
var ErrNoRestorePoint = errors.New("deployment recorded no restore point")

// ErrDeploymentNotFound is returned (wrapped) when the database has no deployment with that id.
var ErrDeploymentNotFound = errors.New("deployment not found")

// addRestorePoint appends the statement recording bp's restore point when its plan is destructive;
// the value is filled in by Commit, right before the transaction.
func (b *Batch) addRestorePoint(pi int, bp *batchPlan) {
	if len(bp.p.Destructive) == 0 {
		return
	}
	if b.st.cur.HasRegistry && !b.st.cur.HasRestorePoint && !b.restoreColumn {
		b.restoreColumn = true
		b.add(step{kind: stepRegistryDDL}, database.Stmt{SQL: restorePointColumnDDL})
	}
	bp.restoreStmt = len(b.stmts)
	b.add(step{kind: stepRecord, plan: pi}, database.Stmt{
		SQL:  `UPDATE _objectstack_deployments SET restore_point = ? WHERE id = ?`,
		Args: []any{nil, bp.depID},
	})
}

// fillRestorePoints asks each destructive plan's RestorePoint hook (or the clock) for its restore
// point just before the batch is sent. A failed hook (the local snapshot could not be written)
// fails the batch before anything is applied: a destructive change is not made without its undo.
func (b *Batch) fillRestorePoints(ctx context.Context) error {
	// One transaction, one restore point: the first destructive plan with a hook takes it (a local
	// snapshot covers every plan of the batch), otherwise the clock does.
	var hook func(context.Context) (time.Time, error)
	var owner string
	destructive := false
	for _, bp := range b.plans {
		if bp.restoreStmt < 0 {
			continue
		}
		destructive = true
		if hook == nil && bp.opts.RestorePoint != nil {
			hook, owner = bp.opts.RestorePoint, string(bp.p.Owner)
		}
	}
	if !destructive {
		return nil
	}
	at := time.Now()
	if hook != nil {
		var err error
		if at, err = hook(ctx); err != nil {
			return fmt.Errorf("apply %s: record a restore point before the destructive change: %w; nothing was applied", owner, err)
		}
	}
	for _, bp := range b.plans {
		if bp.restoreStmt >= 0 {
			b.stmts[bp.restoreStmt].Args[0] = at.UTC().Format(time.RFC3339Nano)
		}
	}
	return nil
}

func (b *Batch) restorePointOf(bp *batchPlan) string {
	if bp.restoreStmt < 0 {
		return ""
	}
	s, _ := b.stmts[bp.restoreStmt].Args[0].(string)
	return s
}

// DeploymentRestorePoint returns the deployment row with id, its RestorePoint filled in. It wraps
// ErrDeploymentNotFound when there is no such deployment and ErrNoRestorePoint when it recorded none.
func DeploymentRestorePoint(ctx context.Context, db *sql.DB, id string) (*Deployment, error) {
	if ok, err := registryExists(ctx, db); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("deployment %s: %w (the database has no deployment registry)", id, ErrDeploymentNotFound)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+deploymentColumns+` FROM _objectstack_deployments WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read deployment %s: %w", id, err)
	}
	var d *Deployment
	for rows.Next() {
		x, err := scanDeployment(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read deployment %s: %w", id, err)
		}
		d = &x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deployment %s: %w", id, err)
	}
	if d == nil {
		return nil, fmt.Errorf("deployment %s: %w", id, ErrDeploymentNotFound)
	}
	var rp sql.NullString
	err = db.QueryRowContext(ctx, `SELECT restore_point FROM _objectstack_deployments WHERE id = ?`, id).Scan(&rp)
	if err != nil && !strings.Contains(err.Error(), "no such column") {
		return nil, fmt.Errorf("read restore point of deployment %s: %w", id, err)
	}
	if !rp.Valid || rp.String == "" {
		return d, fmt.Errorf("deployment %s of %s (%s): %w (only deployments with a destructive change record one)", id, d.Owner, d.StartedAt, ErrNoRestorePoint)
	}
	d.RestorePoint = rp.String
	return d, nil
}
