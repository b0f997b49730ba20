// Command objectstack is the ObjectStack CLI: bundle validation, plan/apply/rollback of one tenant
// database, tenant lifecycle, marketplace apps, the GitOps reconciler and the local dev server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes (ARCHITECTURE.md §7): 0 success, 1 refused or failed, 2 bad usage.
const (
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks an error as bad usage (exit 2) rather than a refused request (exit 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// silentError carries an exit code for a failure whose details the command already printed
// (for example a --json result with "valid": false).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "objectstack",
		Short:         "Provision tenant databases and deploy ObjectStack metadata bundles to them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newBundleCmd(),
		newPlanCmd(),
		newApplyCmd(),
		newRollbackCmd(),
		newTenantCmd(),
		newAppCmd(),
		newDevCmd(),
		newReconcileCmd(),
		newStatusCmd(),
	)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se silentError
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return exitUsage
	}
	return exitFailed
}

// isCobraUsageError recognises the argument-count and unknown-command errors cobra returns
// without a typed error.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
