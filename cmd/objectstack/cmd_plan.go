package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newPlanCmd is a placeholder until the plan command lands; it fails loudly rather than pretending.
func newPlanCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "plan",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("plan: not built yet") },
	}
}
