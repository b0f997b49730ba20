package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/webhook"
)

// webhookSecretEnv holds the webhook secret when no --webhook-secret-file is given.
const webhookSecretEnv = "OBJECTSTACK_WEBHOOK_SECRET"

type reconcileOptions struct {
	backend       tenantFlags
	repo          string
	branch, tag   string
	commit        string
	once          bool
	listen        string
	concurrency   int
	interval      time.Duration
	driftInterval time.Duration
	webhookSecret string
	gitTokenFile  string
	gitUser       string
	sshKeyFile    string
	knownHosts    string
	logFormat     string
	logLevel      string
	settle        time.Duration
	holder        string
	leaseTTL      time.Duration
	statusContext string
}

func newReconcileCmd() *cobra.Command {
	o := &reconcileOptions{}
	cmd := &cobra.Command{
		Use:   "reconcile --repo URL --data-dir DIR",
		Short: "Watch a Git repository of bundles and apps and converge every targeted tenant (GitOps)",
		Long: `Watch a GitOps repository (objectstack.yaml + bundles/ + apps/) and converge every tenant it
targets: validate the whole revision, plan every tenant, then apply wave by wave.

The repository is polled every --interval (jittered) and, with --listen, woken by webhooks:
  POST /hook/github   X-Hub-Signature-256 (HMAC-SHA256)
  POST /hook/gitlab   X-Gitlab-Token
  POST /hook/generic  X-Signature: sha256=<hex HMAC-SHA256 of the body>
with the secret from --webhook-secret-file or OBJECTSTACK_WEBHOOK_SECRET. The server also serves
/status, /healthz, /readyz and /metrics.

Credentials: an HTTPS token from --git-token-file or OBJECTSTACK_GIT_TOKEN; an SSH key from
--ssh-key-file, verified against --known-hosts (default ~/.ssh/known_hosts). Credentials written
into the URL (https://TOKEN@host/...) work too, but are taken out of it at once and kept in
memory only: logs, control.db, status and the mirror's .git/config show the URL without them.
Prefer the token file: a command line is visible to other local users.

With --once it fetches, reconciles, prints a summary and exits: 0 when every targeted tenant
converged, 1 when the revision is invalid or any tenant failed or was refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReconcile(cmd, o) },
	}
	fl := cmd.Flags()
	addBackendFlags(cmd, &o.backend)
	fl.StringVar(&o.repo, "repo", "", "Git repository URL (https://, ssh://, git@host:path, file://) or local path (required)")
	fl.StringVar(&o.branch, "branch", "", "branch to track (default: the remote's default branch)")
	fl.StringVar(&o.tag, "tag", "", "tag to track")
	fl.StringVar(&o.commit, "commit", "", "pin a full commit id")
	fl.BoolVar(&o.once, "once", false, "reconcile once, print a summary and exit")
	fl.StringVar(&o.listen, "listen", "", "serve /status, /healthz, /readyz, /metrics and /hook/* on this address (e.g. 127.0.0.1:9090)")
	fl.IntVar(&o.concurrency, "concurrency", 0, "tenant databases planned or migrated at once (default 64 with the Turso backend, where the work is round trips; 4 for local files)")
	fl.DurationVar(&o.interval, "interval", time.Minute, "polling interval (always on as a backstop to webhooks)")
	fl.DurationVar(&o.driftInterval, "drift-interval", 10*time.Minute, "how often up-to-date tenants are checked for drift (0 disables)")
	fl.StringVar(&o.webhookSecret, "webhook-secret-file", "", "file holding the webhook secret (env "+webhookSecretEnv+")")
	fl.StringVar(&o.gitTokenFile, "git-token-file", "", "file holding an HTTPS token (env "+source.TokenEnv+")")
	fl.StringVar(&o.gitUser, "git-username", "", "user name sent with the HTTPS token (default x-access-token)")
	fl.StringVar(&o.sshKeyFile, "ssh-key-file", "", "SSH private key for ssh:// and git@ URLs")
	fl.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file for SSH host verification")
	fl.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.DurationVar(&o.settle, "webhook-settle", time.Second, "quiet period that coalesces a burst of webhooks into one reconcile")
	fl.DurationVar(&o.leaseTTL, "lease-ttl", reconciler.DefaultLeaseTTL, "how long a tenant lease outlives its replica: renewed every third of it while the replica works, so a survivor takes over a dead replica's tenants within about this long")
	fl.StringVar(&o.statusContext, "status-context", "", "this reconciler's own segment of the commit-status contexts objectstack.yaml's notifications post (<context>/<status-context>/<wave>): set a different one (cluster, region) on each reconciler watching the same repository so they never overwrite each other's statuses")
	fl.StringVar(&o.holder, "replica-id", "", "lease holder id of this replica (default host-pid-random, unique per process; set a stable id to let a restarted replica resume its own leases at once)")
	return cmd
}

// addBackendFlags registers the tenant backend flags (shared with `objectstack tenant`).
func addBackendFlags(cmd *cobra.Command, f *tenantFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "data folder: control plane, local databases, git mirror (env OBJECTSTACK_DATA_DIR)")
	fl.StringVar(&f.apiURL, "api-url", "", "Turso Platform API base URL (env OBJECTSTACK_API_URL)")
	fl.StringVar(&f.org, "org", "", "Turso organization (env OBJECTSTACK_ORG, TURSO_ORG)")
	fl.StringVar(&f.apiToken, "api-token", "", "Turso Platform API token (prefer env TURSO_API_TOKEN)")
	fl.StringVar(&f.group, "group", "", "Turso group for new databases")
	fl.StringVar(&f.controlURL, "control-url", "", "libSQL URL of the shared control plane (default DATA_DIR/control.db; env OBJECTSTACK_CONTROL_URL, token OBJECTSTACK_CONTROL_TOKEN)")
	fl.BoolVar(&f.jsonOut, "json", false, "machine-readable output")
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

// dataDirOf resolves the data folder the same way `objectstack tenant` does.
func dataDirOf(f *tenantFlags) (string, error) {
	dir := firstNonEmpty(f.dataDir, os.Getenv("OBJECTSTACK_DATA_DIR"))
	if dir != "" {
		return dir, nil
	}
	if firstNonEmpty(f.apiURL, os.Getenv("OBJECTSTACK_API_URL")) != "" {
		return userDataDir()
	}
	return "", usagef("--data-dir is required (or --api-url URL --org ORG for Turso)")
}

// reconcileHandleCache is the tenant handle cache of a reconciling process: a rollout touches each tenant
// twice (plan, then apply), and an evicted handle costs a reopen plus a WAL checkpoint (measured: ~3×
// fewer tenants/s with the default cache of 100 on 1,000 tenants). Idle handles still expire by TTL.
const reconcileHandleCache = 2000

// openStatus opens the reconciler's status tables on the tenant service's own control-plane handle (the
// same database openControl would open): the reconciler then reads the tenant registry and every tenant's
// status in ONE request, which over a remote control plane is one WAN round trip instead of two.
func openStatus(ctx context.Context, svc *tenant.Service) (*status.Store, error) {
	st, err := status.Open(ctx, svc.ControlDB())
	if err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	return st, nil
}

// openControl opens the control-plane database the reconciler's status tables live in (for commands that
// need no tenant service, like status).
func openControl(ctx context.Context, f *tenantFlags, dataDir string) (*sql.DB, *status.Store, error) {
	dsn := firstNonEmpty(f.controlURL, os.Getenv("OBJECTSTACK_CONTROL_URL"))
	if dsn == "" {
		dsn = filepath.Join(dataDir, tenant.ControlFile)
		if err := database.PrivateFile(dsn); err != nil {
			return nil, nil, fmt.Errorf("control plane: %w", err)
		}
	}
	db, err := database.Open(dsn, os.Getenv("OBJECTSTACK_CONTROL_TOKEN"))
	if err != nil {
		return nil, nil, err
	}
	st, err := status.Open(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("control plane %s: %w", database.Redact(dsn), err)
	}
	return db, st, nil
}

func runReconcile(cmd *cobra.Command, o *reconcileOptions) error {
	if o.repo == "" {
		return usagef("--repo is required")
	}
	if o.concurrency < 0 {
		return usagef("--concurrency must be ≥ 1 (or 0 for the backend's default)")
	}
	if o.interval < time.Second {
		return usagef("--interval must be at least 1s")
	}
	if o.leaseTTL < time.Second {
		return usagef("--lease-ttl must be at least 1s (it is renewed every third of it)")
	}
	if o.statusContext != "" && !config.ValidStatusContext(o.statusContext) {
		return usagef("--status-context %q: letters, digits, . _ - in segments separated by /", o.statusContext)
	}
	logger, err := newLogger(cmd.ErrOrStderr(), o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	dataDir, err := dataDirOf(&o.backend)
	if err != nil {
		return err
	}
	o.backend.dataDir = dataDir
	ctx := cmd.Context()
	src, err := source.New(source.Options{URL: o.repo, Branch: o.branch, Tag: o.tag, Commit: o.commit, DataDir: dataDir,
		TokenFile: o.gitTokenFile, Username: o.gitUser, SSHKeyFile: o.sshKeyFile, KnownHostsFile: o.knownHosts, Logger: logger})
	if err != nil {
		return usageError{err}
	}
	svc, err := o.backend.open(cmd, withLogger(logger), withHandleCache(reconcileHandleCache))
	if err != nil {
		return err
	}
	defer svc.Close()
	if o.concurrency == 0 {
		o.concurrency = reconciler.DefaultConcurrency(svc.Platform().Kind())
	}
	// Sized before the first remote request (reconciler.New sizes it too, for embedders): one keep-alive
	// connection per tenant in flight, plus a few for the control plane.
	database.SetMaxConnsPerHost(o.concurrency + 4)
	store, err := openStatus(ctx, svc)
	if err != nil {
		return err
	}
	// Without --replica-id every process is its own lease holder (reconciler.New picks host-pid-random).
	// The host name alone made two replicas on one host ONE holder: both took the same leases, renewed
	// each other's and migrated the same tenants at once. A restarted replica now waits at most one
	// --lease-ttl for its predecessor's leases (or resumes them at once with an explicit --replica-id).
	drift := o.driftInterval
	if drift == 0 {
		drift = -1
	}
	rec, err := reconciler.New(reconciler.Options{Tenants: svc, Store: store, Source: src, Logger: logger, Concurrency: o.concurrency,
		Interval: o.interval, DriftInterval: drift, Settle: o.settle, Holder: o.holder, LeaseTTL: o.leaseTTL,
		Notify: notify.Options{StatusContext: o.statusContext}})
	if err != nil {
		return err
	}
	if o.once {
		sum, err := rec.Once(ctx)
		// Queued notifications go out before the process exits; bounded, so a hanging receiver cannot hold it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reconciler.DefaultNotifyDrain)
		if cerr := rec.Close(dctx); cerr != nil {
			logger.Warn("notifications", "error", cerr)
		}
		cancel()
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if o.backend.jsonOut {
			if err := writeJSONEscaped(out, sum); err != nil {
				return err
			}
		} else {
			printSummary(out, sum)
		}
		if !sum.OK() {
			return silentError{exitFailed}
		}
		return nil
	}

	if o.listen != "" {
		secret, err := webhook.SecretFrom(o.webhookSecret, webhookSecretEnv)
		if err != nil {
			return usageError{err}
		}
		var receivers []*webhook.Receiver
		if len(secret) > 0 {
			for _, k := range []webhook.Kind{webhook.GitHub, webhook.GitLab, webhook.Generic} {
				rc, err := webhook.NewReceiver(k, secret, nil)
				if err != nil {
					return err
				}
				receivers = append(receivers, rc)
			}
		} else {
			logger.Warn("no webhook secret: /hook/* receivers are disabled (set --webhook-secret-file or " + webhookSecretEnv + ")")
		}
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", o.listen, err)
		}
		srv := reconciler.NewServer(o.listen, rec.Handler(receivers...))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("http server", "error", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		logger.Info("serving", "addr", ln.Addr().String())
	}
	logger.Info("reconciler started", "repo", src.Redacted(), "interval", o.interval.String(), "concurrency", o.concurrency, "replica", rec.Holder())
	return rec.Run(ctx)
}

func printSummary(w io.Writer, s *reconciler.Summary) {
	fmt.Fprintf(w, "revision %s (%s)\n", s.Revision, s.Digest)
	if !s.Valid {
		fmt.Fprintf(w, "INVALID: nothing was applied to any tenant (%d problem(s)):\n", len(s.Issues))
		for _, is := range s.Issues {
			fmt.Fprintf(w, "  %s\n", config.FormatIssue(is))
		}
		return
	}
	fmt.Fprintf(w, "%d tenant(s) targeted: %d applied, %d already up to date (not opened), %d up to date after planning, %d failed, %d refused, %d halted, %d held by another replica (%d ms)\n",
		s.Targeted, s.Applied, s.Skipped, s.UpToDate, s.Failed, s.Refused, s.Halted, s.Leased, s.DurationMs)
	if len(s.Unknown) > 0 {
		fmt.Fprintf(w, "warning: objectstack.yaml names tenants that are not active: %s\n", strings.Join(s.Unknown, ", "))
	}
	if s.WithOrphans > 0 || s.Pruned > 0 {
		fmt.Fprintf(w, "%d tenant(s) hold bundles/apps the repository no longer targets there; %d pruned\n", s.WithOrphans, s.Pruned)
	}
	if len(s.Results) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tWAVE\tOUTCOME\tSTATEMENTS\tDETAIL")
	for _, r := range s.Results {
		detail := r.Error
		if len(r.Refused) > 0 {
			detail = strings.Join(r.Refused, "; ")
		}
		if len(r.Pruned) > 0 {
			detail = strings.TrimPrefix(detail+"; pruned "+strings.Join(r.Pruned, ", "), "; ")
		}
		if len(r.Orphaned) > 0 {
			detail = strings.TrimPrefix(detail+"; orphaned (prune disabled): "+strings.Join(r.Orphaned, ", "), "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.TenantID, r.Wave, r.Outcome, r.Statements, oneLine(detail))
	}
	tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
