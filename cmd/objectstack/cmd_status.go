package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newStatusCmd is a placeholder until the status command lands; it fails loudly rather than pretending.
func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "status",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("status: not built yet") },
	}
}
