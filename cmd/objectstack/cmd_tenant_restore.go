package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// `objectstack tenant restore` and `objectstack tenant create-template`: undo a destructive deployment
// by point-in-time restore, and publish a template database tenants are provisioned from.

func newTenantRestoreCmd(f *tenantFlags) *cobra.Command {
	var dep string
	var purgeOld, list bool
	cmd := &cobra.Command{
		Use:   "restore ID (--before-deployment DEP | --purge-old | --list)",
		Short: "Undo a destructive deployment: move the tenant to a new database restored to just before it",
		Long: `restore --before-deployment DEP creates a new database seeded from the tenant's database as it was
just before deployment DEP (the restore point that deployment recorded: only deployments with a
destructive change record one), repoints the tenant's registry row at it with a new token, rotates the
old database's tokens and blocks its writes. The old database is kept for inspection until
restore --purge-old deletes it. A restore that is killed before it moves the tenant leaves the tenant
where it was; the database it may have made is deleted by the tenant's next restore or --purge-old once
that run is provably gone (a process of this host that no longer runs, or a day later).

Turso restores from its own point-in-time history (within your plan's retention); the local backend
and objectstack dev from the snapshot taken before the destructive change (kept for a retention).
Writes made after the restore point are not in the new database: inspect the old one for them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			modes := 0
			for _, on := range []bool{dep != "", purgeOld, list} {
				if on {
					modes++
				}
			}
			if modes != 1 {
				return usagef("give exactly one of --before-deployment DEP, --purge-old, --list")
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			switch {
			case purgeOld:
				purged, err := svc.PurgeRestored(ctx, id)
				if f.jsonOut {
					if jerr := writeJSONEscaped(out, map[string]any{"purged": nonNil(purged)}); jerr != nil {
						return jerr
					}
				} else {
					for _, p := range purged {
						fmt.Fprintf(out, "deleted %s\n", p)
					}
					fmt.Fprintf(out, "purged %d database(s) kept by restores of tenant %s\n", len(purged), id)
				}
				return refused(err)
			case list:
				recs, err := svc.Restores(ctx, id)
				if err != nil {
					return refused(err)
				}
				if f.jsonOut {
					return writeJSONEscaped(out, nonNil(recs))
				}
				for _, r := range recs {
					state := "old kept"
					switch {
					case r.Unfinished:
						state = "unfinished: its run (" + r.Holder + ") stopped before moving the tenant; what it made goes with the next restore or --purge-old once that run is gone"
					case r.PurgedAt != "":
						state = "old purged " + r.PurgedAt
					}
					fmt.Fprintf(out, "%s  before %s (%s): %s -> %s, %s\n", r.RestoredAt, r.DeploymentID, r.RestorePoint, r.OldDatabase, r.NewDatabase, state)
				}
				return nil
			}
			rec, err := svc.Restore(ctx, id, tenant.RestoreOptions{BeforeDeployment: dep})
			if err != nil {
				return refused(err)
			}
			if f.jsonOut {
				return writeJSONEscaped(out, rec)
			}
			fmt.Fprintf(out, "tenant %s restored to %s (just before deployment %s)\n", rec.TenantID, rec.RestorePoint, rec.DeploymentID)
			fmt.Fprintf(out, "now on database %s; the old database %s is kept read-only for inspection\n", rec.NewDatabase, rec.OldDatabase)
			fmt.Fprintf(out, "delete it with: objectstack tenant restore %s --purge-old\n", rec.TenantID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.String("id", "", "tenant id (instead of the argument)")
	fl.StringVar(&dep, "before-deployment", "", "id of the deployment to undo (objectstack deployments, or deployment_id in Terraform state)")
	fl.BoolVar(&purgeOld, "purge-old", false, "delete the databases earlier restores replaced and kept for inspection")
	fl.BoolVar(&list, "list", false, "list the tenant's restores")
	return cmd
}

func newTenantCreateTemplateCmd(f *tenantFlags) *cobra.Command {
	var bundleDir string
	cmd := &cobra.Command{
		Use:   "create-template NAME --bundle DIR",
		Short: "Create a template database holding a bundle's schema and seed data, to provision tenants from (--seed-database)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleDir == "" {
				return usagef("--bundle is required")
			}
			b, vr, err := bundle.Load(bundleDir)
			if err != nil {
				return fmt.Errorf("load bundle %s: %w", bundleDir, err)
			}
			if !vr.Valid {
				for _, is := range vr.Issues {
					if is.Severity == bundle.SeverityError {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s: %s\n", firstNonEmpty(is.File, bundleDir), is.Path, is.Message)
					}
				}
				return fmt.Errorf("bundle %s is invalid (%d errors); nothing was created", bundleDir, vr.ErrorCount)
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			d, err := svc.CreateTemplate(cmd.Context(), args[0], b)
			if err != nil {
				return refused(err)
			}
			if f.jsonOut {
				return writeJSONEscaped(cmd.OutOrStdout(), map[string]string{"name": d.Name, "bundle": b.Manifest.Name, "version": b.Manifest.Version})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "template %s: bundle %s %s (%d objects)\n", d.Name, b.Manifest.Name, b.Manifest.Version, len(b.Objects))
			return nil
		},
	}
	cmd.Flags().StringVar(&bundleDir, "bundle", "", "bundle folder (bundle.yaml + objects/) whose schema and seed data the template holds")
	return cmd
}

// printRestorePoint tells how to undo a deployment that recorded a restore point.
func printRestorePoint(w io.Writer, tenantID string, res *schema.DeployExecutionResult) {
	if res == nil || res.RestorePoint == "" {
		return
	}
	who := "TENANT"
	if tenantID != "" {
		who = tenantID
	}
	fmt.Fprintf(w, "Restore point %s recorded; undo with: objectstack tenant restore %s --before-deployment %s\n", res.RestorePoint, who, res.DeploymentID)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
