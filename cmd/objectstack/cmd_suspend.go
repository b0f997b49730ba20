package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// suspendOutput is the --json shape of suspend and resume: what changed, and what is suspended now.
type suspendOutput struct {
	Suspended   []string            `json:"suspended,omitempty"` // scopes this run suspended ("*" = the repository)
	Resumed     int64               `json:"resumed"`             // suspensions this run lifted
	Suspensions []status.Suspension `json:"suspensions"`         // in force afterwards
}

var tenantIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)

func newSuspendCmd() *cobra.Command {
	f := &tenantFlags{}
	var tenants []string
	var reason string
	cmd := &cobra.Command{
		Use:   "suspend --data-dir DIR --reason TEXT [--tenant ID]...",
		Short: "Stop the GitOps reconciler from applying changes: to every tenant, or to the tenants named",
		Long: `suspend records a suspension in the control plane, so every reconcile replica sharing it honours
it at its next step: a rollout in progress finishes the tenants it already started and starts no new one.
Without --tenant the whole repository is suspended. Suspended tenants are skipped and reported
(condition Reconciling, reason Suspended; objectstack status, /status and the metric
objectstack_reconcile_suspended), never failed. objectstack resume lifts it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required: say why (it is shown in status next to the suspension)")
			}
			if err := checkTenantIDs(tenants); err != nil {
				return err
			}
			return withControl(cmd, f, func(ctx context.Context, store *status.Store) error {
				if err := tenantsExist(ctx, store, tenants); err != nil {
					return err
				}
				if err := store.Suspend(ctx, tenants, strings.TrimSpace(reason), whoAmI()); err != nil {
					return err
				}
				out := suspendOutput{Suspended: tenants}
				if len(tenants) == 0 {
					out.Suspended = []string{status.SuspendAll}
				}
				return finishSuspend(ctx, cmd.OutOrStdout(), f.jsonOut, store, out)
			})
		},
	}
	addBackendFlags(cmd, f)
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "suspend only this tenant (repeatable, or comma-separated)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; shown in status)")
	return cmd
}

func newResumeCmd() *cobra.Command {
	f := &tenantFlags{}
	var tenants []string
	var all bool
	cmd := &cobra.Command{
		Use:   "resume --data-dir DIR [--tenant ID]... [--all]",
		Short: "Lift a suspension: of the whole repository, of the tenants named, or --all of them",
		Long: `resume deletes suspensions from the control plane; every replica picks the change up at its next
poll (a replica keeps polling while anything it targets is suspended, so no new commit is needed).
Without --tenant it lifts the repository-wide suspension (tenants suspended one by one stay suspended);
with --tenant those tenants' own suspensions; --all lifts every suspension.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && len(tenants) > 0 {
				return usagef("--all lifts every suspension: do not combine it with --tenant")
			}
			if err := checkTenantIDs(tenants); err != nil {
				return err
			}
			return withControl(cmd, f, func(ctx context.Context, store *status.Store) error {
				scopes := tenants
				if all {
					sus, err := store.Suspensions(ctx)
					if err != nil {
						return err
					}
					for scope := range sus {
						scopes = append(scopes, scope)
					}
					if len(scopes) == 0 {
						return finishSuspend(ctx, cmd.OutOrStdout(), f.jsonOut, store, suspendOutput{})
					}
				}
				n, err := store.Resume(ctx, scopes)
				if err != nil {
					return err
				}
				return finishSuspend(ctx, cmd.OutOrStdout(), f.jsonOut, store, suspendOutput{Resumed: n})
			})
		},
	}
	addBackendFlags(cmd, f)
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "lift this tenant's own suspension (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&all, "all", false, "lift every suspension, the repository's and every tenant's")
	return cmd
}

// withControl opens the control plane the reconciler's tables live in and runs fn on it.
func withControl(cmd *cobra.Command, f *tenantFlags, fn func(context.Context, *status.Store) error) error {
	dataDir, err := dataDirOf(f)
	if err != nil {
		return err
	}
	ctl, store, err := openControl(cmd.Context(), f, dataDir)
	if err != nil {
		return err
	}
	defer ctl.Close()
	return fn(cmd.Context(), store)
}

func checkTenantIDs(ids []string) error {
	for _, id := range ids {
		if !tenantIDRe.MatchString(id) {
			return usagef("--tenant %q is not a tenant id (^[a-z][a-z0-9-]{1,40}$)", id)
		}
	}
	return nil
}

// tenantsExist refuses to suspend a tenant the registry does not know: a typo would otherwise suspend
// nothing while saying it did.
func tenantsExist(ctx context.Context, store *status.Store, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, res, err := store.Snapshot(ctx, tenant.ListStmt(tenant.Filter{}))
	if err != nil {
		return err
	}
	known, err := tenant.DecodeList(res[0], tenant.Filter{})
	if err != nil {
		return fmt.Errorf("read the tenant registry: %w", err)
	}
	have := map[string]bool{}
	for _, t := range known {
		have[t.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--tenant: no tenant %s in the control plane; nothing was suspended", strings.Join(missing, ", "))
	}
	return nil
}

// whoAmI names the operator in the suspension (user@host), as kubectl annotations and Flux events do.
func whoAmI() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case name != "" && host != "":
		return name + "@" + host
	case name != "":
		return name
	}
	return host
}

func finishSuspend(ctx context.Context, w io.Writer, jsonOut bool, store *status.Store, out suspendOutput) error {
	sus, err := store.Suspensions(ctx)
	if err != nil {
		return err
	}
	out.Suspensions = sus.List()
	if jsonOut {
		return writeJSON(w, out)
	}
	switch {
	case len(out.Suspended) == 1 && out.Suspended[0] == status.SuspendAll:
		fmt.Fprintln(w, "Suspended the whole repository: every replica stops starting tenants at its next step.")
	case len(out.Suspended) > 0:
		fmt.Fprintf(w, "Suspended %s: every replica skips them from its next step on.\n", strings.Join(out.Suspended, ", "))
	case out.Resumed > 0:
		fmt.Fprintf(w, "Lifted %d suspension(s); replicas apply again at their next poll.\n", out.Resumed)
	default:
		fmt.Fprintln(w, "Nothing was lifted: no such suspension.")
	}
	printSuspensions(w, out.Suspensions)
	return nil
}

func printSuspensions(w io.Writer, sus []status.Suspension) {
	if len(sus) == 0 {
		fmt.Fprintln(w, "Nothing is suspended.")
		return
	}
	fmt.Fprintln(w, "Suspended now:")
	for _, s := range sus {
		what := "tenant " + s.Scope
		if s.Scope == status.SuspendAll {
			what = "the whole repository"
		}
		fmt.Fprintf(w, "  %s — %s (by %s at %s)\n", what, s.Reason, s.By, s.At.UTC().Format("2006-01-02T15:04:05Z"))
	}
}
