package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/process"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// unlockOutput is the --json shape of unlock: what was held, and what this run cleared.
type unlockOutput struct {
	Lock    *schema.Lock   `json:"migrationLock,omitempty"`
	Leases  []status.Lease `json:"leases,omitempty"`
	Cleared int64          `json:"cleared"`
}

func newUnlockCmd() *cobra.Command {
	var (
		dbf    engineDBFlags
		f      = &tenantFlags{}
		tenant string
	)
	cmd := &cobra.Command{
		Use:   "unlock (--db URL|FILE | --data-dir DIR [--tenant ID]) [LOCK_ID]",
		Short: "Show, and with its lock id clear, a migration lease or reconciler leases left by a dead process",
		Long: "unlock is `terraform force-unlock` for ObjectStack. Without LOCK_ID it only shows who holds what:\n" +
			"  --db             the tenant database's migration lease (_objectstack_lock): holder and expiry;\n" +
			"  --data-dir/--control-url   the reconciler replicas' tenant leases in the control plane.\n" +
			"With LOCK_ID (the holder shown) it clears the leases that holder has — expired or not — and\n" +
			"nothing else, so a lease somebody else took in the meantime survives. Only clear a lease whose\n" +
			"holder is gone: a live holder's work is guarded by the engine, but it loses its claim.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			ctx := cmd.Context()
			out := unlockOutput{}
			if dbf.db != "" {
				if tenant != "" {
					return usagef("--tenant goes with --data-dir (reconciler leases), not --db")
				}
				db, closeDB, err := dbf.open(false)
				if err != nil {
					return err
				}
				defer closeDB()
				if out.Lock, err = schema.CurrentLock(ctx, db); err != nil {
					return fmt.Errorf("unlock %s: %w", database.Redact(dbf.db), err)
				}
				if id != "" {
					if out.Lock == nil || out.Lock.Holder != id {
						return fmt.Errorf("unlock %s: no migration lease held by %q (%s)", database.Redact(dbf.db), id, describeLock(out.Lock))
					}
					ok, err := schema.ForceUnlock(ctx, db, id)
					if err != nil {
						return fmt.Errorf("unlock %s: %w", database.Redact(dbf.db), err)
					}
					if ok {
						out.Cleared = 1
					}
				}
				if f.jsonOut {
					return writeJSON(cmd.OutOrStdout(), out)
				}
				printUnlock(cmd.OutOrStdout(), out, id, "objectstack unlock --db "+database.Redact(dbf.db))
				return nil
			}
			dataDir, err := dataDirOf(f)
			if err != nil {
				return usagef("unlock needs --db (a tenant database's migration lease) or --data-dir/--control-url (reconciler leases)")
			}
			ctl, store, err := openControl(ctx, f, dataDir)
			if err != nil {
				return err
			}
			defer ctl.Close()
			all, err := store.Leases(ctx)
			if err != nil {
				return err
			}
			for _, l := range all {
				if tenant == "" || l.TenantID == tenant {
					out.Leases = append(out.Leases, l)
				}
			}
			if id != "" {
				held := false
				for _, l := range out.Leases {
					held = held || l.Holder == id
				}
				if !held {
					return fmt.Errorf("unlock: no reconciler lease held by %q%s", id, forTenant(tenant))
				}
				if out.Cleared, err = store.ClearLeases(ctx, id, tenant); err != nil {
					return err
				}
			}
			if f.jsonOut {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			printUnlock(cmd.OutOrStdout(), out, id, "objectstack unlock --data-dir "+dataDir+tenantFlag(tenant))
			return nil
		},
	}
	dbf.register(cmd)
	addBackendFlags(cmd, f)
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's reconciler lease (with --data-dir)")
	return cmd
}

func describeLock(l *schema.Lock) string {
	if l == nil {
		return "the database has no migration lease"
	}
	return fmt.Sprintf("it is held by %q until %s", l.Holder, l.ExpiresAt.Format(time.RFC3339))
}

func forTenant(t string) string {
	if t == "" {
		return ""
	}
	return " on tenant " + t
}

func tenantFlag(t string) string {
	if t == "" {
		return ""
	}
	return " --tenant " + t
}

func printUnlock(w io.Writer, out unlockOutput, id, again string) {
	if id != "" {
		fmt.Fprintf(w, "Cleared %d lease(s) held by %s.\n", out.Cleared, id)
		return
	}
	if out.Lock == nil && len(out.Leases) == 0 {
		fmt.Fprintln(w, "Nothing is locked.")
		return
	}
	if l := out.Lock; l != nil {
		state := "until " + l.ExpiresAt.Format(time.RFC3339)
		if l.Expired {
			state = "expired " + l.ExpiresAt.Format(time.RFC3339) + " (the next migrator takes it over)"
		}
		fmt.Fprintf(w, "Migration lease held by %s (acquired %s), %s.\n", l.Holder, l.AcquiredAt, state)
		fmt.Fprintf(w, "Lock id: %s\nTo clear it once that holder is gone: %s %s\n", l.Holder, again, l.Holder)
		return
	}
	holders := map[string]bool{}
	printLeases(w, out.Leases)
	fmt.Fprintln(w)
	for _, l := range out.Leases {
		if !holders[l.Holder] {
			holders[l.Holder] = true
			fmt.Fprintf(w, "To clear the leases of %s once it is gone: %s %s\n", l.Holder, again, l.Holder)
		}
	}
}

// deadLocalHolder reports whether holder is an objectstack CLI process of this host ("cli:HOST:PID", see
// cliHolder) that provably no longer runs: the host matches and signal 0 finds no such process. Any
// other holder (another host, the reconciler, Terraform) is never presumed dead; its lease runs out or
// is cleared with `objectstack unlock`.
func deadLocalHolder(holder string) bool {
	rest, ok := strings.CutPrefix(holder, "cli:")
	return ok && process.GoneHereID(rest)
}

// retryIfHolderDead runs op; when it is refused by a migration lease of a CLI process of this host that
// is gone (killed while an older version held the lease), it clears that lease — only that holder's —
// says so on stderr and runs op once more. op is refused before it writes anything, so nothing ran.
func retryIfHolderDead[T any](ctx context.Context, db *sql.DB, stderr io.Writer, op func() (T, error)) (T, error) {
	res, err := op()
	var le *schema.LockedError
	if !errors.As(err, &le) || !deadLocalHolder(le.Holder) {
		return res, err
	}
	ok, uerr := schema.ForceUnlock(ctx, db, le.Holder)
	if uerr != nil || !ok {
		return res, err
	}
	fmt.Fprintf(stderr, "Took over the migration lease of %s: that process no longer runs on this host.\n", le.Holder)
	return op()
}
