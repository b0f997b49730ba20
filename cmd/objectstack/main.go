// Command objectstack is the ObjectStack CLI: bundle validation, plan/apply/rollback of one tenant
// database, tenant lifecycle, marketplace apps, the GitOps reconciler and the local dev server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	// Sync windows name IANA time zones; embedded so they load on a minimal image without /usr/share/zoneinfo.
	_ "time/tzdata"

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

// writeJSON writes v as an indented --json document. HTML characters stay literal, so an app's
// ">=1.0.0 <2.0.0" constraint or a SQL comparison is readable as printed.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONEscaped is writeJSON with encoding/json's default HTML escaping (\u003c, \u0026), which the
// tenant, reconcile, status and plan --repo outputs have always had; it is kept so their bytes do not
// change (a JSON parser sees the same values either way).
func writeJSONEscaped(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONResult writes a --json result and then turns err, if any, into a silent exit 1, so stdout
// stays one parseable document and run() does not print the error again. errOut gets the "Error:" line
// (io.Discard where a command has always left it to the result's own error field).
func writeJSONResult(stdout, errOut io.Writer, v any, err error) error {
	if werr := writeJSON(stdout, v); werr != nil {
		return werr
	}
	if err != nil {
		fmt.Fprintln(errOut, "Error:", err)
		return silentError{exitFailed}
	}
	return nil
}

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
		newGroupCmd(),
		newAppCmd(),
		newDevCmd(),
		newReconcileCmd(),
		newStatusCmd(),
		newUnlockCmd(),
		newSuspendCmd(),
		newResumeCmd(),
		newGetCmd(),
	)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code. It takes the output streams so the tests
// drive exactly the path main does, error printing and exit-code mapping included.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetErr(stderr)
	if stdout != os.Stdout {
		// Once an output stream is set, cobra prints its own notices (unknown help topic, deprecations)
		// there instead of on stderr; leaving the real stdout unset keeps them on stderr.
		root.SetOut(stdout)
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se silentError
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintln(stderr, "Error:", err)
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
