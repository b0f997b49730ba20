package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// repoPlanOptions are the flags of `objectstack plan --repo …` (reviewing a GitOps revision).
type repoPlanOptions struct {
	Repo     string
	Revision string
	DataDir  string
	Branch   string
	JSON     bool
}

// planRepo is a placeholder until the reconciler's review command lands.
func planRepo(_ *cobra.Command, _ repoPlanOptions) error {
	return errors.New("plan --repo: not built yet")
}
