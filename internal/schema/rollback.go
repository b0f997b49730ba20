package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Rollback restores the object set that was in place before deployment deploymentID: it plans from the
// current database to that stored set and applies the plan like any other (data-preserving; destructive
// kinds still need opts.Allow), recording a deployment with source "rollback:<id>" and marking the
// target as rolled back.
//
// Rollbacks work as an undo stack per owner: the target must be ready and not yet rolled back, and every
// later ready deployment of the same owner must already be rolled back (or be itself a rollback record).
// App deployments are refused: apps are rolled back through internal/apps, which owns their seed data
// and registry row.
func Rollback(ctx context.Context, db *sql.DB, deploymentID string, opts ApplyOptions) (*DeployExecutionResult, error) {
	if ok, err := registryExists(ctx, db); err != nil {
		return nil, fmt.Errorf("rollback %s: %w", deploymentID, err)
	} else if !ok {
		return nil, fmt.Errorf("rollback %s: no deployments recorded in this database", deploymentID)
	}
	target, prevJSON, err := loadDeployment(ctx, db, deploymentID)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", deploymentID, err)
	}
	if target.Owner.Kind() == "app" {
		// An app's deployment is only part of its install: its seed rows and its _objectstack_apps row
		// belong to internal/apps, which this package cannot restore. Reverting the DDL alone would leave
		// the app registry naming a version whose schema is gone.
		return nil, fmt.Errorf("rollback %s: deployment belongs to %s; roll an app back by installing its previous version (objectstack app install --allow-downgrade) or uninstalling it", deploymentID, target.Owner)
	}
	if target.Status != StatusReady {
		return nil, fmt.Errorf("rollback %s: deployment status is %s; only ready deployments can be rolled back", deploymentID, target.Status)
	}
	if target.RolledBackBy != "" {
		return nil, fmt.Errorf("rollback %s: already rolled back by %s", deploymentID, target.RolledBackBy)
	}
	all, err := Deployments(ctx, db, target.Owner)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", deploymentID, err)
	}
	after := false
	version := ""
	for _, d := range all {
		if d.ID == deploymentID {
			after = true
			continue
		}
		if !after {
			if d.Status == StatusReady {
				version = d.Version
			}
			continue
		}
		if d.Status != StatusReady || d.RolledBackBy != "" || strings.HasPrefix(d.Source, "rollback:") {
			continue
		}
		return nil, fmt.Errorf("rollback %s: later deployment %s of %s is still in place; roll it back first", deploymentID, d.ID, target.Owner)
	}
	prev, err := decodeObjects([]byte(prevJSON))
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", deploymentID, err)
	}
	// The previous objects carry no renamedFrom for renames the target made; planRollback undoes them.
	p, err := planRollback(ctx, db, target.Owner, prev)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", deploymentID, err)
	}
	// Even when the schema already matches, the rollback is recorded so the undo stack stays consistent.
	p.UpToDate = false
	if opts.Version == "" {
		opts.Version = version
	}
	res, err := apply(ctx, db, p, opts, deploymentID)
	if err != nil {
		return res, fmt.Errorf("rollback %s: %w", deploymentID, err)
	}
	return res, nil
}

func loadDeployment(ctx context.Context, db *sql.DB, id string) (Deployment, string, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+deploymentColumns+`, previous FROM _objectstack_deployments WHERE id = ?`, id)
	if err != nil {
		return Deployment{}, "", err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Deployment{}, "", err
		}
		return Deployment{}, "", fmt.Errorf("deployment %s not found", id)
	}
	var d Deployment
	var owner, stmts, prev string
	if err := rows.Scan(&d.ID, &owner, &d.Version, &d.Checksum, &d.Source, &d.Status, &stmts, &d.Error, &d.RolledBackBy, &d.StartedAt, &d.CompletedAt, &prev); err != nil {
		return d, "", err
	}
	d.Owner = Owner(owner)
	return d, prev, rows.Err()
}
