package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func newRollbackCmd() *cobra.Command {
	var (
		dbf    engineDBFlags
		depID  string
		allow  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rollback --db URL|FILE --deployment ID [--allow-destructive KIND,...] [--json]",
		Short: "Restore the object set that was in place before a deployment",
		Long: "rollback plans from the current database back to the objects recorded before deployment ID and\n" +
			"applies that plan in one transaction (data-preserving; destructive kinds still need --allow-destructive).\n" +
			"Deployments are undone newest first: later deployments of the same owner must be rolled back before.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dbf.db == "" || depID == "" {
				return usagef("rollback needs --db and --deployment")
			}
			kinds, err := schema.ParseDestructiveKinds(allow)
			if err != nil {
				return usagef("--allow-destructive: %v", err)
			}
			db, closeDB, err := dbf.open(false)
			if err != nil {
				return err
			}
			defer closeDB()
			ctx := cmd.Context()
			return withLease(ctx, db, func(holder string) error {
				res, err := schema.Rollback(ctx, db, depID, schema.ApplyOptions{Allow: kinds, Source: "cli", Holder: holder})
				if asJSON && res != nil {
					if werr := writeEngineJSON(cmd.OutOrStdout(), res); werr != nil {
						return werr
					}
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "Error:", err)
						return silentError{exitFailed}
					}
					return nil
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Rolled back deployment %s as deployment %s: %d statement(s) in %d ms.\n",
					depID, res.DeploymentID, res.StatementsExecuted, res.DurationMs)
				return nil
			})
		},
	}
	dbf.register(cmd)
	cmd.Flags().StringVar(&depID, "deployment", "", "id of the deployment to roll back")
	cmd.Flags().StringVar(&allow, "allow-destructive", "", "destructive change kinds to allow: drop_table,drop_column,lossy_type_change (or all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the DeployExecutionResult as JSON")
	return cmd
}
