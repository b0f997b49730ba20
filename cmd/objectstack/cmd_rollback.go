package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func newRollbackCmd() *cobra.Command {
	var (
		dbf   migrateFlags
		depID string
	)
	cmd := &cobra.Command{
		Use:   "rollback --db URL|FILE --deployment ID [--allow-destructive KIND,...] [--json]",
		Short: "Restore the object set that was in place before a deployment",
		Long: "rollback plans from the current database back to the objects recorded before deployment ID and\n" +
			"applies that plan in one transaction (data-preserving; destructive kinds still need --allow-destructive).\n" +
			"Deployments are undone newest first: later deployments of the same owner must be rolled back before.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kinds, err := dbf.check("rollback", "--deployment", depID)
			if err != nil {
				return err
			}
			db, closeDB, err := dbf.open(false)
			if err != nil {
				return err
			}
			defer closeDB()
			ctx := cmd.Context()
			// No migration lease around the rollback: it is planned, checked (a refusal writes nothing at all)
			// and applied as one transaction in one request whose first statements re-check that the
			// database still matches the plan and that nobody else holds the lease — and a killed rollback
			// leaves no lease behind to block the next migrator.
			res, err := retryIfHolderDead(ctx, db, cmd.ErrOrStderr(), func() (*schema.DeployExecutionResult, error) {
				return schema.Rollback(ctx, db, depID, schema.ApplyOptions{Allow: kinds, Source: "cli", Holder: cliHolder()})
			})
			if dbf.asJSON && res != nil {
				return writeJSONResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), res, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rolled back deployment %s as deployment %s: %d statement(s) in %d ms.\n",
				depID, res.DeploymentID, res.StatementsExecuted, res.DurationMs)
			return nil
		},
	}
	dbf.register(cmd, "print the DeployExecutionResult as JSON")
	cmd.Flags().StringVar(&depID, "deployment", "", "id of the deployment to roll back")
	return cmd
}
