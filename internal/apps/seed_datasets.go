package apps

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// SeedStatements returns the statements that write datasets for objects exactly as Install seeds an app (modes,
// external ids, env filter, reference order), ready for a batch. existed says whether an object's table existed
// when the tenant was read (a table created in the same batch is empty, so its records are plain inserts).
// Tenant provisioning uses it for a bundle's seed data, so there is one seeding implementation.
func SeedStatements(objects []bundle.Object, datasets []bundle.Dataset, env string, existed func(table string) bool) ([]database.Stmt, error) {
	targets, err := prepareSeeds(objects, datasets, env)
	if err != nil {
		return nil, err
	}
	var out []database.Stmt
	for _, t := range targets {
		for _, s := range seedStatements(t, existed(t.obj.Table())) {
			out = append(out, s.Stmt)
		}
	}
	return out, nil
}

// SeedDatasets writes datasets for objects inside tx (see SeedStatements) and returns the number of records
// inserted or updated.
func SeedDatasets(ctx context.Context, tx *sql.Tx, objects []bundle.Object, datasets []bundle.Dataset, env string) (int, error) {
	targets, err := prepareSeeds(objects, datasets, env)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range targets {
		for _, s := range seedStatements(t, true) {
			res, err := tx.ExecContext(ctx, s.SQL, s.Args...)
			if err != nil && s.check != "" {
				return n, fmt.Errorf("seed %s (%s): %s", t.obj.Name, t.ds.Source, s.check)
			} else if err != nil {
				return n, fmt.Errorf("seed %s (%s): %w", t.obj.Name, t.ds.Source, err)
			}
			if s.counts {
				k, _ := res.RowsAffected()
				n += int(k)
			}
		}
	}
	return n, nil
}
