package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newBundleCmd is a placeholder until the bundle command lands; it fails loudly rather than pretending.
func newBundleCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "bundle",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("bundle: not built yet") },
	}
}
