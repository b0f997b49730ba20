package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDevCmd is a placeholder until the dev command lands; it fails loudly rather than pretending.
func newDevCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "dev",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("dev: not built yet") },
	}
}
