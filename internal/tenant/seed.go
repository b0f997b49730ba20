package tenant

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// seedDatasets writes datasets into db in one transaction (all or nothing) through the apps
// seeder, which upserts by external id so a re-run never duplicates a record.
func seedDatasets(ctx context.Context, db *sql.DB, objects []bundle.Object, datasets []bundle.Dataset, env string) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	n, err := apps.SeedDatasets(ctx, tx, objects, datasets, env)
	if err != nil {
		tx.Rollback()
		return 0, fmt.Errorf("seed: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	return n, nil
}
