package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReconcileCmd is a placeholder until the reconcile command lands; it fails loudly rather than pretending.
func newReconcileCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "reconcile",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("reconcile: not built yet") },
	}
}
