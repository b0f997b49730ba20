package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// tenantFlags are the backend flags every tenant subcommand shares.
type tenantFlags struct {
	dataDir    string
	apiURL     string
	org        string
	apiToken   string
	group      string
	controlURL string
	jsonOut    bool
	debug      bool
	// regionGroups is --region-groups (cmd_group.go).
	regionGroups []string
}

func newTenantCmd() *cobra.Command {
	f := &tenantFlags{}
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create, inspect, suspend, resume and destroy tenants (one database each)",
		Long: `Manage tenants and their databases.

Backends:
  local  --data-dir DIR                    SQLite files under DIR (env OBJECTSTACK_DATA_DIR)
  turso  --api-url URL --org ORG           the Turso Platform API, or ` + "`objectstack dev`" + `
         (+ --api-token or TURSO_API_TOKEN, --group; env OBJECTSTACK_API_URL, OBJECTSTACK_ORG)

The tenant registry lives in DIR/control.db (or --control-url). Database tokens are stored
encrypted (key: DIR/secret.key or OBJECTSTACK_SECRET_KEY) and are never printed.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.dataDir, "data-dir", "", "data folder: control plane, local databases, backups (env OBJECTSTACK_DATA_DIR)")
	pf.StringVar(&f.apiURL, "api-url", "", "Turso Platform API base URL, e.g. https://api.turso.tech or http://127.0.0.1:8080 (env OBJECTSTACK_API_URL)")
	pf.StringVar(&f.org, "org", "", "Turso organization (env OBJECTSTACK_ORG, TURSO_ORG)")
	pf.StringVar(&f.apiToken, "api-token", "", "Turso Platform API token (prefer env TURSO_API_TOKEN: flags show up in process lists)")
	pf.StringVar(&f.group, "group", "", "Turso group for new databases (default \"default\")")
	pf.StringVar(&f.controlURL, "control-url", "", "libSQL URL of the control plane (default DATA_DIR/control.db; env OBJECTSTACK_CONTROL_URL, token OBJECTSTACK_CONTROL_TOKEN)")
	pf.BoolVar(&f.jsonOut, "json", false, "machine-readable output (protocol field names)")
	pf.BoolVar(&f.debug, "debug", false, "debug log on stderr (never includes tokens)")
	regionGroupsFlag(pf, f)
	cmd.AddCommand(
		newTenantCreateCmd(f), newTenantGetCmd(f), newTenantListCmd(f), withRotationImpact(f, newTenantSuspendCmd(f)),
		newTenantResumeCmd(f), newTenantDestroyCmd(f), newTenantUpdateCmd(f), newTenantPurgeCmd(f),
		newTenantConfigureCmd(f),
		newTenantRestoreCmd(f), newTenantCreateTemplateCmd(f),
	)
	return cmd
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// openOption adjusts the tenant service configuration for one command.
type openOption func(*tenant.Config)

// withLogger replaces the default logger (silent, or debug on stderr with --debug).
func withLogger(l *slog.Logger) openOption { return func(c *tenant.Config) { c.Logger = l } }

// withHandleCache sizes the router's tenant database handle cache.
func withHandleCache(n int) openOption { return func(c *tenant.Config) { c.Router.MaxCached = n } }

// open builds the platform (local or Turso) and the tenant service the flags describe; `objectstack
// tenant`, `reconcile` and `plan --repo` all go through it so the backends resolve the same way.
func (f *tenantFlags) open(cmd *cobra.Command, opts ...openOption) (*tenant.Service, error) {
	cfg := tenant.Config{
		ControlURL:   firstNonEmpty(f.controlURL, os.Getenv("OBJECTSTACK_CONTROL_URL")),
		ControlToken: os.Getenv("OBJECTSTACK_CONTROL_TOKEN"),
		Logger:       slog.New(slog.DiscardHandler),
		Group:        f.group,
	}
	if f.debug {
		cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rg, err := parseRegionGroups(f.regionGroups)
	if err != nil {
		return nil, err
	}
	cfg.Regions = rg
	for _, o := range opts {
		o(&cfg)
	}
	dataDir := firstNonEmpty(f.dataDir, os.Getenv("OBJECTSTACK_DATA_DIR"))
	if apiURL := firstNonEmpty(f.apiURL, os.Getenv("OBJECTSTACK_API_URL")); apiURL != "" {
		org := firstNonEmpty(f.org, os.Getenv("OBJECTSTACK_ORG"), os.Getenv("TURSO_ORG"))
		if org == "" {
			return nil, usagef("--api-url needs --org (or OBJECTSTACK_ORG)")
		}
		token := firstNonEmpty(f.apiToken, os.Getenv("TURSO_API_TOKEN"), os.Getenv("OBJECTSTACK_API_TOKEN"))
		if token == "" {
			return nil, usagef("--api-url needs an API token: --api-token or TURSO_API_TOKEN")
		}
		t, err := platform.NewTurso(platform.TursoConfig{BaseURL: apiURL, Organization: org, APIToken: token, Group: f.group, Logger: cfg.Logger})
		if err != nil {
			return nil, usageError{err}
		}
		cfg.Platform = t
		if dataDir == "" {
			if dataDir, err = userDataDir(); err != nil {
				return nil, err
			}
		}
	} else {
		if dataDir == "" {
			return nil, usagef("choose a backend: --data-dir DIR (local) or --api-url URL --org ORG (turso)")
		}
		l, err := platform.NewLocal(dataDir)
		if err != nil {
			return nil, err
		}
		cfg.Platform = l
	}
	cfg.DataDir = dataDir
	return tenant.Open(cmd.Context(), cfg)
}

// userDataDir is the data folder of the Turso backend when none is given: its databases live remotely,
// so only the control plane and the secret key need a home.
func userDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", usagef("no --data-dir and no user config folder: %v", err)
	}
	return filepath.Join(dir, "objectstack"), nil
}

// parseKV parses k=v,k2=v2 (also accepting several flag occurrences).
func parseKV(flag string, items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k, v, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, usagef("--%s %q: want key=value", flag, part)
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out, nil
}

func parseQuotas(items []string) (tenant.Quotas, error) {
	var q tenant.Quotas
	kv, err := parseKV("quota", items)
	if err != nil {
		return q, err
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n, err := strconv.ParseInt(kv[k], 10, 64)
		if err != nil {
			return q, usagef("--quota %s=%s: not a whole number", k, kv[k])
		}
		if err := q.Set(k, n); err != nil {
			return q, usageError{err}
		}
	}
	return q, nil
}

// refused maps service errors: bad input is exit 2, everything else exit 1.
func refused(err error) error {
	if errors.Is(err, tenant.ErrInvalid) {
		return usageError{err}
	}
	return err
}

func newTenantCreateCmd(f *tenantFlags) *cobra.Command {
	var (
		id, orgID, plan, region, display, email, bundleDir string
		seedDB                                             string
		labels, quotas                                     []string
	)
	cmd := &cobra.Command{
		Use:   "create [ID]",
		Short: "Provision a tenant: database, token, registry row, schema sync, seed data (idempotent; resumes a failed run)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			lbl, err := parseKV("labels", labels)
			if err != nil {
				return err
			}
			q, err := parseQuotas(quotas)
			if err != nil {
				return err
			}
			req := tenant.Request{ID: id, OrgID: orgID, DisplayName: display, Plan: plan, Region: region,
				AdminEmail: email, Labels: lbl, Quotas: q, SeedDatabase: seedDB}
			if req.OrgID == "" {
				req.OrgID = firstNonEmpty(f.org, os.Getenv("OBJECTSTACK_ORG"))
			}
			if req.OrgID == "" {
				return usagef("--org-id is required (the organization the tenant belongs to)")
			}
			if bundleDir != "" {
				b, vr, err := bundle.Load(bundleDir)
				if err != nil {
					return fmt.Errorf("load bundle %s: %w", bundleDir, err)
				}
				if !vr.Valid {
					for _, is := range vr.Issues {
						if is.Severity == bundle.SeverityError {
							fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s: %s\n", firstNonEmpty(is.File, bundleDir), is.Path, is.Message)
						}
					}
					return fmt.Errorf("bundle %s is invalid (%d errors); nothing was created", bundleDir, vr.ErrorCount)
				}
				req.Bundle = b
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			if cmd.Flags().Changed("region") {
				if err := refuseRegionMove(cmd, svc, id, region); err != nil {
					return err
				}
			}
			res, perr := svc.Provision(cmd.Context(), req)
			if res == nil {
				return refused(perr)
			}
			if f.jsonOut {
				if err := writeJSONEscaped(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				printResult(cmd.OutOrStdout(), res)
			}
			if perr != nil {
				if f.jsonOut {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error:", perr)
					return silentError{exitFailed}
				}
				return perr
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&id, "id", "", "tenant id (^[a-z][a-z0-9-]{1,40}$; '_' and upper case are normalised)")
	fl.StringVar(&orgID, "org-id", "", "organization the tenant belongs to (default --org)")
	fl.StringVar(&plan, "plan", "", "free | pro | enterprise (default free)")
	fl.StringVar(&region, "region", "", "us-east | us-west | eu-west | eu-central | ap-southeast | ap-northeast (default us-east)")
	fl.StringVar(&display, "display-name", "", "display name")
	fl.StringVar(&email, "admin-email", "", "admin email")
	fl.StringSliceVar(&labels, "labels", nil, "labels k=v,k2=v2")
	fl.StringSliceVar(&quotas, "quota", nil, "quotas key=N,... (maxUsers, maxStorageBytes, apiRateLimit, maxObjects, maxRecordsPerObject, maxDeploymentsPerDay)")
	fl.StringVar(&bundleDir, "bundle", "", "bundle folder whose schema (and seed data) to sync into the new database")
	fl.StringVar(&seedDB, "seed-database", "", "template database to copy instead of running the bundle's DDL (see create-template); verified against --bundle")
	return cmd
}

func printResult(w io.Writer, r *tenant.Result) {
	fmt.Fprintf(w, "tenant %s: %s (plan %s, region %s)\n", r.TenantID, r.Status, r.Plan, r.Region)
	if r.ConnectionURL != "" {
		fmt.Fprintf(w, "database: %s\n", r.ConnectionURL)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range r.Steps {
		d := ""
		if s.DurationMs != nil {
			d = fmt.Sprintf("%dms", *s.DurationMs)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, s.Status, d, s.Error)
	}
	tw.Flush()
	fmt.Fprintf(w, "total: %dms\n", r.TotalDurationMs)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
}

// show prints one tenant in the output format the flags ask for.
func (f *tenantFlags) show(w io.Writer, t *tenant.Tenant) error {
	if f.jsonOut {
		return writeJSONEscaped(w, t)
	}
	printTenant(w, t)
	return nil
}

func printTenant(w io.Writer, t *tenant.Tenant) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\n", t.ID)
	fmt.Fprintf(tw, "org\t%s\n", t.OrgID)
	if t.DisplayName != "" {
		fmt.Fprintf(tw, "display name\t%s\n", t.DisplayName)
	}
	fmt.Fprintf(tw, "status\t%s\n", t.Status)
	fmt.Fprintf(tw, "plan\t%s\n", t.Plan)
	fmt.Fprintf(tw, "region\t%s\n", t.Region)
	fmt.Fprintf(tw, "database\t%s\n", t.DatabaseName)
	if t.DatabaseURL != "" {
		fmt.Fprintf(tw, "url\t%s\n", t.DatabaseURL)
	}
	if len(t.Labels) > 0 {
		fmt.Fprintf(tw, "labels\t%s\n", formatLabels(t.Labels))
	}
	if q, _ := json.Marshal(t.Quotas); string(q) != "{}" {
		fmt.Fprintf(tw, "quotas\t%s\n", q)
	}
	if t.PurgeAfter != nil {
		fmt.Fprintf(tw, "purge after\t%s\n", t.PurgeAfter.Format(time.RFC3339))
	}
	if t.BackupPath != "" {
		fmt.Fprintf(tw, "backup\t%s\n", t.BackupPath)
	}
	if t.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", t.Error)
	}
	fmt.Fprintf(tw, "created\t%s\n", t.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "updated\t%s\n", t.UpdatedAt.Format(time.RFC3339))
	tw.Flush()
}

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func newTenantGetCmd(f *tenantFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one tenant",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			t, err := svc.Get(cmd.Context(), id)
			if err != nil {
				return refused(err)
			}
			return f.show(cmd.OutOrStdout(), t)
		},
	}
	cmd.Flags().String("id", "", "tenant id (instead of the argument)")
	return cmd
}

func newTenantListCmd(f *tenantFlags) *cobra.Command {
	var filter tenant.Filter
	var labels []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tenants (filter by plan, region, status, org, labels)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lbl, err := parseKV("label", labels)
			if err != nil {
				return err
			}
			filter.Labels = lbl
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			ts, err := svc.List(cmd.Context(), filter)
			if err != nil {
				return refused(err)
			}
			if f.jsonOut {
				if ts == nil {
					ts = []tenant.Tenant{}
				}
				return writeJSONEscaped(cmd.OutOrStdout(), ts)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tORG\tSTATUS\tPLAN\tREGION\tDATABASE\tLABELS")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.OrgID, t.Status, t.Plan, t.Region, t.DatabaseName, formatLabels(t.Labels))
			}
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&filter.Plan, "plan", "", "only this plan")
	fl.StringVar(&filter.Region, "region", "", "only this region")
	fl.StringVar(&filter.Status, "status", "", "only this status")
	fl.StringVar(&filter.OrgID, "org-id", "", "only this organization")
	fl.StringSliceVar(&labels, "label", nil, "only tenants with these labels k=v,...")
	return cmd
}

// simpleTenantCmd runs one lifecycle call and prints the tenant afterwards.
func simpleTenantCmd(f *tenantFlags, use, short string, run func(ctx context.Context, svc *tenant.Service, id string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := run(cmd.Context(), svc, id); err != nil {
				return refused(err)
			}
			t, err := svc.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			if f.jsonOut {
				return writeJSONEscaped(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %s\n", t.ID, t.Status)
			if t.PurgeAfter != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "database is deleted after %s (objectstack tenant purge); resume cancels\n", t.PurgeAfter.Format(time.RFC3339))
			}
			if t.BackupPath != "" && t.Status == tenant.StatusArchived {
				fmt.Fprintf(cmd.OutOrStdout(), "backup: %s\n", t.BackupPath)
			}
			return nil
		},
	}
	cmd.Flags().String("id", "", "tenant id (instead of the argument)")
	return cmd
}

func newTenantSuspendCmd(f *tenantFlags) *cobra.Command {
	return simpleTenantCmd(f, "suspend", "Suspend a tenant: rotate its tokens and block writes", func(ctx context.Context, svc *tenant.Service, id string) error {
		return svc.Suspend(ctx, id)
	})
}

func newTenantResumeCmd(f *tenantFlags) *cobra.Command {
	return simpleTenantCmd(f, "resume", "Resume a suspended (or destroying) tenant: unblock writes, mint a new token", func(ctx context.Context, svc *tenant.Service, id string) error {
		return svc.Resume(ctx, id)
	})
}

func newTenantDestroyCmd(f *tenantFlags) *cobra.Command {
	var opts tenant.DestroyOptions
	var noBackup bool
	cmd := simpleTenantCmd(f, "destroy", "Destroy a tenant: after a grace period (default 72h) or --immediate; backs up first unless --no-backup",
		func(ctx context.Context, svc *tenant.Service, id string) error {
			opts.Backup = !noBackup
			return svc.Destroy(ctx, id, opts)
		})
	fl := cmd.Flags()
	fl.BoolVar(&opts.Immediate, "immediate", false, "delete the database now instead of after the grace period")
	fl.DurationVar(&opts.GracePeriod, "grace-period", tenant.DefaultGracePeriod, "how long the database is kept (writes blocked) before purge")
	fl.BoolVar(&noBackup, "no-backup", false, "do not back up the database into DATA_DIR/backups before deleting it")
	return cmd
}

func newTenantPurgeCmd(f *tenantFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "purge",
		Short: "Delete the databases of destroyed tenants whose grace period has passed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			n, err := svc.PurgeExpired(cmd.Context())
			if f.jsonOut {
				if jerr := writeJSONEscaped(cmd.OutOrStdout(), map[string]int{"archived": n}); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "archived %d tenant(s)\n", n)
			}
			return err
		},
	}
}

func newTenantUpdateCmd(f *tenantFlags) *cobra.Command {
	var plan, display, region string
	var labels, quotas []string
	var clearQuotas bool
	cmd := simpleTenantCmd(f, "update", "Change a tenant's display name, plan, labels or quotas", nil)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := tenantID(cmd, args)
		if err != nil {
			return err
		}
		var u tenant.Update
		fl := cmd.Flags()
		if fl.Changed("plan") {
			u.Plan = &plan
		}
		if fl.Changed("display-name") {
			u.DisplayName = &display
		}
		if fl.Changed("labels") {
			l, err := parseKV("labels", labels)
			if err != nil {
				return err
			}
			u.Labels = &l
		}
		if fl.Changed("quota") || clearQuotas {
			q, err := parseQuotas(quotas)
			if err != nil {
				return err
			}
			u.Quotas = &q
		}
		svc, err := f.open(cmd)
		if err != nil {
			return err
		}
		defer svc.Close()
		if fl.Changed("region") {
			if err := refuseRegionMove(cmd, svc, id, region); err != nil {
				return err
			}
		}
		t, err := svc.Update(cmd.Context(), id, u)
		if err != nil {
			return refused(err)
		}
		return f.show(cmd.OutOrStdout(), t)
	}
	fl := cmd.Flags()
	fl.StringVar(&plan, "plan", "", "new plan")
	fl.StringVar(&display, "display-name", "", "new display name")
	fl.StringSliceVar(&labels, "labels", nil, "replace labels with k=v,...")
	fl.StringSliceVar(&quotas, "quota", nil, "replace quotas with key=N,...")
	fl.BoolVar(&clearQuotas, "clear-quotas", false, "remove every quota (with no --quota)")
	fl.StringVar(&region, "region", "", "a different region is refused with the reason: the database cannot move between groups in place")
	return cmd
}

// tenantID takes the tenant id from the argument or --id (every per-tenant command accepts both, so
// scripts need not remember which one a command wants); both given and different is bad usage.
func tenantID(cmd *cobra.Command, args []string) (string, error) {
	flag, _ := cmd.Flags().GetString("id")
	switch {
	case len(args) == 1 && flag != "" && flag != args[0]:
		return "", usagef("tenant id given twice (%q and --id %q)", args[0], flag)
	case len(args) == 1:
		return args[0], nil
	case flag != "":
		return flag, nil
	}
	return "", usagef("tenant id is required (argument or --id)")
}
