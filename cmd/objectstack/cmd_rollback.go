package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRollbackCmd is a placeholder until the rollback command lands; it fails loudly rather than pretending.
func newRollbackCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "rollback",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("rollback: not built yet") },
	}
}
