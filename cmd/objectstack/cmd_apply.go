package main

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// applyOutput is the --json shape of apply: the protocol's DeployExecutionResult plus the plan it ran.
type applyOutput struct {
	schema.DeployExecutionResult
	planOutput
}

func newApplyCmd() *cobra.Command {
	var (
		dbf       migrateFlags
		bundleDir string
		target    tenantTarget
	)
	cmd := &cobra.Command{
		Use:   "apply (--db URL|FILE | --tenant ID --data-dir DIR) --bundle DIR [--allow-destructive KIND,...] [--json]",
		Short: "Migrate one tenant database to a bundle, in one transaction",
		Long: "apply validates the bundle (an invalid bundle is refused and the database is not touched), plans,\n" +
			"refuses destructive changes whose kind is not listed in --allow-destructive (drop_table, drop_column,\n" +
			"lossy_type_change, drop_constraint, or all), and runs the DDL, data copies and registry writes in one transaction.\n" +
			"With --tenant the database comes from the tenant registry and the tenant's quotas (maxObjects,\n" +
			"maxDeploymentsPerDay) are checked at plan time, from the same single read of the database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target.set() {
				if dbf.db != "" {
					return usagef("--db and --tenant exclude each other: name the database or the tenant")
				}
				dbf.db = "tenant:" + target.id // satisfies check; the database comes from the registry
			}
			kinds, err := dbf.check("apply", "--bundle", bundleDir)
			if err != nil {
				return err
			}
			b, err := loadBundleForEngine(cmd, bundleDir, dbf.asJSON)
			if err != nil {
				return err
			}
			var (
				db      *sql.DB
				closeDB func()
				lim     apps.Limits
			)
			if target.set() {
				db, lim, closeDB, err = target.open(cmd)
			} else {
				db, closeDB, err = dbf.open(false)
			}
			if err != nil {
				return err
			}
			defer closeDB()
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			// Plan and check first, so a refused apply writes nothing at all. The apply is one transaction in
			// one round trip whose first statements re-check that the database still matches this plan and
			// that nobody else holds the migration lease, so no lease is taken around it (and a killed apply
			// leaves none behind).
			owner := schema.BundleOwner(b.Manifest.Name)
			st, err := schema.ReadState(ctx, db, schema.MergeReads(schema.ReadOptions{Owners: []schema.Owner{owner}}, apps.QuotaReads(lim)))
			if err != nil {
				return fmt.Errorf("plan %s: %w", owner, err)
			}
			p, err := st.Plan(owner, b.Objects)
			if err != nil {
				return err
			}
			// Pre-flight: the data the migration touches, checked before anything is written (a type change the
			// data shows lossless stops needing lossy_type_change; the apply re-checks it in its transaction).
			if err := schema.Preflight(ctx, db, p); err != nil {
				if _, predicted := schema.AsPreflightError(err); predicted {
					err = fmt.Errorf("apply %s refused: %w; nothing was applied", owner, err)
					if dbf.asJSON {
						res := schema.DeployExecutionResult{Status: schema.StatusFailed, Error: err.Error(), CompletedAt: time.Now().UTC().Format(time.RFC3339)}
						return writeJSONResult(out, cmd.ErrOrStderr(), applyOutput{res, newPlanOutput(p, b.Manifest.Version)}, err)
					}
					printPlan(out, p, database.Redact(dbf.db))
				}
				return err
			}
			// The tenant's quotas, judged on the same read (a --db carries none): refused before anything is written.
			if err := apps.CheckQuotas(st, st.After(p), []*schema.Plan{p}, lim); err != nil {
				err = fmt.Errorf("apply %s to tenant %s refused: %w", owner, target.id, err)
				if dbf.asJSON {
					res := schema.DeployExecutionResult{Status: schema.StatusFailed, Error: err.Error(), CompletedAt: time.Now().UTC().Format(time.RFC3339)}
					return writeJSONResult(out, cmd.ErrOrStderr(), applyOutput{res, newPlanOutput(p, b.Manifest.Version)}, err)
				}
				return err
			}
			if err := p.CheckAllowed(kinds); err != nil {
				if dbf.asJSON {
					res := schema.DeployExecutionResult{Status: schema.StatusFailed, Error: err.Error(), CompletedAt: time.Now().UTC().Format(time.RFC3339)}
					return writeJSONResult(out, cmd.ErrOrStderr(), applyOutput{res, newPlanOutput(p, b.Manifest.Version)}, err)
				}
				printPlan(out, p, database.Redact(dbf.db))
				return err
			}
			return func(holder string) error {
				res, err := retryIfHolderDead(ctx, db, cmd.ErrOrStderr(), func() (*schema.DeployExecutionResult, error) {
					return schema.Apply(ctx, db, p, schema.ApplyOptions{Allow: kinds, Version: b.Manifest.Version, Source: "cli", Holder: holder,
						RestorePoint: target.restorePoint})
				})
				if dbf.asJSON {
					if res == nil {
						res = &schema.DeployExecutionResult{Status: schema.StatusFailed, CompletedAt: time.Now().UTC().Format(time.RFC3339)}
						if err != nil {
							res.Error = err.Error()
						}
					}
					return writeJSONResult(out, cmd.ErrOrStderr(), applyOutput{*res, newPlanOutput(p, b.Manifest.Version)}, err)
				}
				if err != nil {
					var ae *schema.ApplyError
					if errors.As(err, &ae) {
						printPlan(out, p, database.Redact(dbf.db))
					}
					return err
				}
				if p.UpToDate {
					printPlan(out, p, database.Redact(dbf.db))
					return nil
				}
				printPlan(out, p, database.Redact(dbf.db))
				fmt.Fprintf(out, "\nApplied deployment %s: %d statement(s) in %d ms; %s is now at %s (version %s).\n",
					res.DeploymentID, res.StatementsExecuted, res.DurationMs, p.Owner, p.Checksum, b.Manifest.Version)
				printRestorePoint(out, target.id, res)
				return nil
			}(cliHolder())
		},
	}
	dbf.register(cmd, "print the DeployExecutionResult and the plan as JSON")
	cmd.Flags().StringVar(&bundleDir, "bundle", "", "bundle folder (bundle.yaml + objects/)")
	target.register(cmd)
	return cmd
}
