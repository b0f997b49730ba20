package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Detach releases every object of owner from the registry WITHOUT touching its tables or rows (an app
// uninstalled without purge): the tables become unmanaged, so any owner may adopt them later, and no
// plan of owner will ever drop them. It runs in one transaction with opts.InTx, honours the migration
// lease and records a deployment (source "detach"), so Rollback of that deployment re-attaches them.
func Detach(ctx context.Context, db *sql.DB, owner Owner, opts ApplyOptions) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("detach %s: %w", owner, err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("detach %s: begin: %w", owner, err)
	}
	if err := detachInTx(ctx, tx, owner, opts); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("detach %s: %w", owner, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("detach %s: commit: %w", owner, err)
	}
	return nil
}

func detachInTx(ctx context.Context, tx *sql.Tx, owner Owner, opts ApplyOptions) error {
	if err := ensureRegistry(ctx, tx); err != nil {
		return err
	}
	if err := checkLease(ctx, tx, opts.Holder); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT definition FROM _objectstack_objects WHERE owner = ? ORDER BY name`, string(owner))
	if err != nil {
		return err
	}
	var defs [][]byte
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return err
		}
		defs = append(defs, []byte(d))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(defs) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM _objectstack_objects WHERE owner = ?`, string(owner)); err != nil {
			return err
		}
		source := opts.Source
		if source == "" {
			source = "detach"
		} else if !strings.Contains(source, "detach") {
			source += " (detach)"
		}
		ts := now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO _objectstack_deployments
(id, owner, version, checksum, source, status, statements, rollback, previous, started_at, completed_at)
VALUES (?, ?, ?, '', ?, ?, '[]', '[]', ?, ?, ?)`, newID("dep-"), string(owner), opts.Version, source, StatusReady,
			string(joinJSON(defs)), ts, ts); err != nil {
			return fmt.Errorf("record deployment: %w", err)
		}
	}
	if opts.InTx != nil {
		if err := opts.InTx(ctx, tx); err != nil {
			return fmt.Errorf("in-transaction step: %w", err)
		}
	}
	return nil
}
