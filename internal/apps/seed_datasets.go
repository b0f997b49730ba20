package apps

import (
	"context"
	"database/sql"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// SeedDatasets writes datasets for objects inside tx exactly as Install seeds an app (modes,
// external ids, env filter, reference order) and returns the number of records inserted or
// updated. Tenant provisioning uses it for a bundle's seed data (the seed_data step), so there is
// one seeding implementation.
func SeedDatasets(ctx context.Context, tx *sql.Tx, objects []bundle.Object, datasets []bundle.Dataset, env string) (int, error) {
	targets, err := prepareSeeds(objects, datasets, env)
	if err != nil {
		return 0, err
	}
	return writeSeeds(ctx, tx, targets)
}
