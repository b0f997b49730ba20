package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAppCmd is a placeholder until the app command lands; it fails loudly rather than pretending.
func newAppCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "app",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("app: not built yet") },
	}
}
