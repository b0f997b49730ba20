package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// engineDBTokenEnv supplies the database token for remote --db URLs when --token is not given.
const engineDBTokenEnv = "OBJECTSTACK_DB_TOKEN"

// engineDBFlags are the database flags plan, apply and rollback share.
type engineDBFlags struct {
	db    string
	token string
}

func (f *engineDBFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.db, "db", "", "tenant database: a SQLite file path, file: URL, or libsql://, https://, http:// URL")
	c.Flags().StringVar(&f.token, "token", "", "auth token for a remote --db URL (default $"+engineDBTokenEnv+")")
}

// migrateFlags are the flags of the commands that write a tenant database (apply, rollback).
type migrateFlags struct {
	engineDBFlags
	allow  string
	asJSON bool
}

func (f *migrateFlags) register(c *cobra.Command, jsonUsage string) {
	f.engineDBFlags.register(c)
	c.Flags().StringVar(&f.allow, "allow-destructive", "", "destructive change kinds to allow: drop_table,drop_column,lossy_type_change,drop_constraint (or all)")
	c.Flags().BoolVar(&f.asJSON, "json", false, jsonUsage)
}

// check refuses a missing --db or a missing other required flag (named by flag, its value in value) as
// bad usage, and returns the kinds --allow-destructive allows.
func (f *migrateFlags) check(command, flag, value string) ([]schema.DestructiveKind, error) {
	if f.db == "" || value == "" {
		return nil, usagef("%s needs --db and %s", command, flag)
	}
	kinds, err := schema.ParseDestructiveKinds(f.allow)
	if err != nil {
		return nil, usagef("--allow-destructive: %v", err)
	}
	return kinds, nil
}

// open opens the database. For a plan against a local file that does not exist yet, it plans against an
// empty database instead of creating the file, so planning never writes anything.
func (f *engineDBFlags) open(forPlan bool) (*sql.DB, func(), error) {
	dsn := f.db
	token := f.token
	if token == "" {
		token = os.Getenv(engineDBTokenEnv)
	}
	if forPlan && !database.IsRemote(dsn) && !strings.HasPrefix(dsn, "file:") {
		if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
			dir, err := os.MkdirTemp("", "objectstack-plan-")
			if err != nil {
				return nil, nil, err
			}
			db, err := database.Open(filepath.Join(dir, "empty.db"), "")
			if err != nil {
				os.RemoveAll(dir)
				return nil, nil, err
			}
			return db, func() { db.Close(); os.RemoveAll(dir) }, nil
		}
	}
	db, err := database.Open(dsn, token)
	if err != nil {
		return nil, nil, err
	}
	return db, func() { db.Close() }, nil
}

// loadBundleForEngine loads and validates a bundle; an invalid bundle prints its issues (as the JSON
// validation result with --json) and refuses with exit 1 before any database is opened.
func loadBundleForEngine(cmd *cobra.Command, dir string, asJSON bool) (*bundle.Bundle, error) {
	b, res, err := bundle.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", dir, err)
	}
	if res.Valid {
		for _, is := range res.Issues {
			fmt.Fprintln(cmd.ErrOrStderr(), is.String())
		}
		return b, nil
	}
	if asJSON {
		if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintf(cmd.ErrOrStderr(), "bundle %s is invalid (%d error(s)); the database was not touched:\n", dir, res.ErrorCount)
		for _, is := range res.Issues {
			fmt.Fprintln(cmd.ErrOrStderr(), "  "+is.String())
		}
	}
	return nil, silentError{exitFailed}
}

// planOutput is the --json shape of plan, with the protocol's field names.
type planOutput struct {
	Owner         schema.Owner               `json:"owner"`
	Version       string                     `json:"version,omitempty"`
	Diff          schema.DeployDiff          `json:"diff"`
	MigrationPlan schema.MigrationPlan       `json:"migrationPlan"`
	Destructive   []schema.DestructiveChange `json:"destructive"`
	UpToDate      bool                       `json:"upToDate"`
	Checksum      string                     `json:"checksum"`
	Preflight     *schema.PreflightReport    `json:"preflight,omitempty"`
}

func newPlanOutput(p *schema.Plan, version string) planOutput {
	return planOutput{Owner: p.Owner, Version: version, Diff: p.Diff, MigrationPlan: p.Migration,
		Destructive: p.Destructive, UpToDate: p.UpToDate, Checksum: p.Checksum, Preflight: p.Preflight}
}

func changeSymbol(c string) string {
	switch c {
	case schema.ChangeAdded:
		return "+"
	case schema.ChangeRemoved:
		return "-"
	}
	return "~"
}

// printPlan writes the human-readable plan: the changes, the exact DDL, and the destructive changes.
func printPlan(w io.Writer, p *schema.Plan, target string) {
	if p.UpToDate {
		fmt.Fprintf(w, "%s is up to date in %s (checksum %s). Nothing to do.\n", p.Owner, target, p.Checksum)
		return
	}
	fmt.Fprintf(w, "Plan for %s against %s: %d to add, %d to change, %d to remove.\n",
		p.Owner, target, p.Diff.Summary.Added, p.Diff.Summary.Modified, p.Diff.Summary.Removed)
	for _, c := range p.Diff.Changes {
		name := c.EntityName
		if c.ParentEntity != "" {
			name = c.ParentEntity + "." + c.EntityName
		}
		fmt.Fprintf(w, "  %s %s %s\n", changeSymbol(c.ChangeType), c.EntityType, name)
		if old, ok := c.OldValue.(schema.RenameInfo); ok {
			fmt.Fprintf(w, "      renamed from %s (data kept)\n", old.Name)
		}
		if old, ok := c.OldValue.(schema.TableDefinition); ok && len(old.DroppedConstraints) > 0 {
			fmt.Fprintf(w, "      the rebuild of %s drops constraints written by hand: %s\n", old.Table, strings.Join(old.DroppedConstraints, "; "))
		}
	}
	if len(p.Migration.Statements) == 0 {
		fmt.Fprintln(w, "\nNo DDL: only metadata in the registry changes.")
	} else {
		fmt.Fprintf(w, "\nStatements (%d, run in one transaction):\n", len(p.Migration.Statements))
		for _, s := range p.Migration.Statements {
			fmt.Fprintf(w, "  %s;\n", s.SQL)
		}
	}
	if len(p.Destructive) > 0 {
		fmt.Fprintf(w, "\nDestructive changes (each kind needs --allow-destructive):\n")
		for _, d := range p.Destructive {
			name := d.Object
			if d.Field != "" {
				name += "." + d.Field
			}
			fmt.Fprintf(w, "  ! %s %s: %s\n", d.Kind, name, d.Message)
		}
	}
	printPreflight(w, p.Preflight)
}

func newPlanCmd() *cobra.Command {
	var (
		dbf       engineDBFlags
		bundleDir string
		asJSON    bool
		repo      repoPlanOptions
	)
	cmd := &cobra.Command{
		Use:   "plan (--db URL|FILE --bundle DIR | --repo URL [--revision REV|--branch B] --data-dir DIR) [--json]",
		Short: "Show the DDL that apply would run against one tenant database (or what a GitOps revision would do)",
		Long: "plan validates the bundle, introspects the database and prints the changes, the exact statements\n" +
			"apply would run and the destructive changes that need --allow-destructive. Nothing is written.\n" +
			"With --repo it reviews a GitOps repository revision against every tenant it targets instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repo.Repo != "" {
				if dbf.db != "" || bundleDir != "" {
					return usagef("--repo cannot be combined with --db or --bundle")
				}
				repo.JSON = asJSON
				return planRepo(cmd, repo)
			}
			if repo.Revision != "" || repo.Branch != "" {
				return usagef("--revision and --branch need --repo")
			}
			if dbf.db == "" || bundleDir == "" {
				return usagef("plan needs --db and --bundle (or --repo)")
			}
			b, err := loadBundleForEngine(cmd, bundleDir, asJSON)
			if err != nil {
				return err
			}
			db, closeDB, err := dbf.open(true)
			if err != nil {
				return err
			}
			defer closeDB()
			p, err := schema.PlanOwner(cmd.Context(), db, schema.BundleOwner(b.Manifest.Name), b.Objects, schema.PlanOptions{})
			if err != nil {
				return err
			}
			// The data the migration would touch is checked too (one more read, only when it touches existing
			// rows): a predicted failure is shown with the plan and fails the command.
			pfErr := schema.Preflight(cmd.Context(), db, p)
			if _, predicted := schema.AsPreflightError(pfErr); pfErr != nil && !predicted {
				return pfErr
			}
			if asJSON {
				return writeJSONResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), newPlanOutput(p, b.Manifest.Version), pfErr)
			}
			printPlan(cmd.OutOrStdout(), p, database.Redact(dbf.db))
			return pfErr
		},
	}
	dbf.register(cmd)
	cmd.Flags().StringVar(&bundleDir, "bundle", "", "bundle folder (bundle.yaml + objects/)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {diff, migrationPlan, destructive, upToDate, checksum} as JSON")
	cmd.Flags().StringVar(&repo.Repo, "repo", "", "GitOps repository URL or path to review instead of one database")
	cmd.Flags().StringVar(&repo.Revision, "revision", "", "repository revision to review (with --repo)")
	cmd.Flags().StringVar(&repo.Branch, "branch", "", "repository branch to review (with --repo)")
	cmd.Flags().StringVar(&repo.DataDir, "data-dir", "", "data folder of the control plane (with --repo)")
	cmd.Flags().StringVar(&repo.ControlURL, "control-url", "", "libSQL URL of a shared control plane (with --repo; default DATA_DIR/control.db)")
	cmd.Flags().IntVar(&repo.Concurrency, "concurrency", 0, "tenant databases planned at once (with --repo; default 64 with the Turso backend, 4 for local files)")
	return cmd
}

// cliHolder is the migration-lease holder id of this CLI process.
func cliHolder() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("cli:%s:%d", h, os.Getpid())
}
