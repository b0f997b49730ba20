package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

func newStatusCmd() *cobra.Command {
	f := &tenantFlags{}
	cmd := &cobra.Command{
		Use:   "status --data-dir DIR [--json]",
		Short: "Show the GitOps reconciler's status: source revision, rollout, and every tenant's conditions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir, err := dataDirOf(f)
			if err != nil {
				return err
			}
			ctl, store, err := openControl(cmd.Context(), f, dataDir)
			if err != nil {
				return err
			}
			defer ctl.Close()
			doc, err := reconciler.ReadStatus(cmd.Context(), store)
			if err != nil {
				return err
			}
			if f.jsonOut {
				return writeJSONEscaped(cmd.OutOrStdout(), doc)
			}
			printStatus(cmd.OutOrStdout(), doc)
			return nil
		},
	}
	addBackendFlags(cmd, f)
	return cmd
}

func printStatus(w io.Writer, doc *reconciler.StatusDocument) {
	for _, s := range doc.Sources {
		state := "valid"
		if !s.Valid {
			state = "INVALID"
		}
		if s.Error != "" {
			state = "fetch failed: " + s.Error
		}
		fmt.Fprintf(w, "source %s at %s: %s (fetched %s)\n", s.Repo, s.Revision, state, s.FetchedAt.Format(time.RFC3339))
		for _, is := range s.Issues {
			loc := is.File
			if is.Line > 0 {
				loc = fmt.Sprintf("%s:%d", is.File, is.Line)
			}
			fmt.Fprintf(w, "  %s: %s: %s\n", loc, is.Path, is.Message)
		}
	}
	if r := doc.Rollout; r != nil {
		counts := map[string]int{}
		for _, st := range r.Tasks {
			counts[st]++
		}
		fmt.Fprintf(w, "rollout %d of %s: %s (wave %s) — %d applied, %d failed, %d pending, %d skipped", r.ID, r.Revision, r.State, r.Wave,
			counts[status.TaskApplied], counts[status.TaskFailed], counts[status.TaskPending], counts[status.TaskSkipped])
		if r.Message != "" {
			fmt.Fprintf(w, ": %s", r.Message)
		}
		fmt.Fprintln(w)
	}
	if len(doc.Suspensions) > 0 {
		printSuspensions(w, doc.Suspensions)
	}
	if len(doc.Tenants) == 0 {
		fmt.Fprintln(w, "no tenant has been reconciled yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCONDITION\tREASON\tLAST APPLIED\tLAST ATTEMPTED\tUPDATED\tMESSAGE")
	for _, t := range doc.Tenants {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TenantID, t.Condition, t.Reason, shortRev(t.LastAppliedRevision),
			shortRev(t.LastAttemptedRevision), t.UpdatedAt.Format(time.RFC3339), oneLine(t.Message))
	}
	tw.Flush()
	printLeases(w, doc.Leases)
}

// printLeases shows which replica holds which tenant; `objectstack unlock` clears them by holder.
func printLeases(w io.Writer, leases []status.Lease) {
	if len(leases) == 0 {
		return
	}
	fmt.Fprintln(w, "\nleases:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tHOLDER (LOCK ID)\tEXPIRES")
	for _, l := range leases {
		exp := l.ExpiresAt.Format(time.RFC3339)
		if l.Expired {
			exp += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.TenantID, l.Holder, exp)
	}
	tw.Flush()
}

// shortRev abbreviates "main@sha1:<40 hex>" to "main@sha1:<12 hex>" for the table.
func shortRev(r string) string {
	const keep = len("sha1:") + 12
	for i := 0; i+len("sha1:") <= len(r); i++ {
		if r[i:i+len("sha1:")] == "sha1:" && len(r)-i > keep {
			return r[:i+keep]
		}
	}
	return r
}
