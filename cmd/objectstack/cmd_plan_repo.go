package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
)

// repoPlanOptions are the flags of `objectstack plan --repo …` (reviewing a GitOps revision).
type repoPlanOptions struct {
	Repo     string
	Revision string
	DataDir  string
	Branch   string
	JSON     bool
	// ControlURL is the shared control plane (default DataDir/control.db).
	ControlURL string
	// Concurrency bounds how many tenant databases are planned at once (default: the backend's, see reconciler.DefaultConcurrency).
	Concurrency int
}

// planRepo prints what a revision of a GitOps repository would do to every tenant it targets, as Markdown
// fit for a pull-request comment (or JSON). Nothing is applied. Exit 1 when the revision is invalid or a
// tenant would be refused or fail.
func planRepo(cmd *cobra.Command, o repoPlanOptions) error {
	if o.Repo == "" {
		return usagef("--repo is required")
	}
	if o.Revision != "" && o.Branch != "" {
		return usagef("use --revision or --branch, not both")
	}
	f := &tenantFlags{dataDir: o.DataDir, controlURL: o.ControlURL}
	dataDir, err := dataDirOf(f)
	if err != nil {
		return err
	}
	f.dataDir = dataDir
	src, err := source.New(source.Options{URL: o.Repo, Branch: o.Branch, Revision: o.Revision, DataDir: dataDir})
	if err != nil {
		return usageError{err}
	}
	ctx := cmd.Context()
	rev, _, err := src.Fetch(ctx)
	if err != nil {
		return err
	}
	svc, err := f.open(cmd, withHandleCache(reconcileHandleCache))
	if err != nil {
		return err
	}
	defer svc.Close()
	store, err := openStatus(ctx, svc)
	if err != nil {
		return err
	}
	rec, err := reconciler.New(reconciler.Options{Tenants: svc, Store: store, Concurrency: o.Concurrency, DriftInterval: -1})
	if err != nil {
		return err
	}
	rv, err := rec.Review(ctx, rev)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.JSON {
		if err := writeJSONEscaped(out, rv); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, rv.Markdown())
	}
	if !rv.OK() {
		return silentError{exitFailed}
	}
	return nil
}
