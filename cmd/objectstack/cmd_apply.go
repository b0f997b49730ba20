package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newApplyCmd is a placeholder until the apply command lands; it fails loudly rather than pretending.
func newApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "apply",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("apply: not built yet") },
	}
}
