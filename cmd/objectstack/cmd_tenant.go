package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTenantCmd is a placeholder until the tenant command lands; it fails loudly rather than pretending.
func newTenantCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "tenant",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("tenant: not built yet") },
	}
}
