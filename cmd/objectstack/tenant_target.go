package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
)

// tenantTarget lets a command that works on one tenant database name the tenant (--tenant ID, with the backend
// flags of `objectstack tenant`: --data-dir or --api-url/--org, --control-url) instead of a database (--db). The
// database then comes from the tenant registry, and the tenant's quotas are known, so every check that needs them
// (quota_exceeded) runs in the CLI as it does in Terraform and the reconciler.
type tenantTarget struct {
	id string
	tenantFlags
	// restorePoint is set by open: the engine's RestorePoint hook for the tenant (a snapshot on the local backend).
	restorePoint func(context.Context) (time.Time, error)
}

func (t *tenantTarget) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&t.id, "tenant", "", "tenant id (instead of --db): its database and quotas come from the tenant registry")
	fs.StringVar(&t.dataDir, "data-dir", "", "with --tenant: data folder of the tenant registry (env OBJECTSTACK_DATA_DIR)")
	fs.StringVar(&t.apiURL, "api-url", "", "with --tenant: Turso Platform API base URL (env OBJECTSTACK_API_URL)")
	fs.StringVar(&t.org, "org", "", "with --tenant: Turso organization (env OBJECTSTACK_ORG, TURSO_ORG)")
	fs.StringVar(&t.apiToken, "api-token", "", "with --tenant: Turso Platform API token (prefer env TURSO_API_TOKEN)")
	fs.StringVar(&t.controlURL, "control-url", "", "with --tenant: libSQL URL of the control plane (env OBJECTSTACK_CONTROL_URL)")
}

// set reports whether --tenant was given; it and --db exclude each other (checked by the callers' usage checks).
func (t *tenantTarget) set() bool { return t.id != "" }

// open resolves the tenant: its database handle (owned by the tenant service; close releases both) and the limits
// its quotas put on deployments.
func (t *tenantTarget) open(cmd *cobra.Command) (*sql.DB, apps.Limits, func(), error) {
	svc, err := t.tenantFlags.open(cmd)
	if err != nil {
		return nil, apps.Limits{}, nil, err
	}
	tn, err := svc.Get(cmd.Context(), t.id)
	if err != nil {
		svc.Close()
		return nil, apps.Limits{}, nil, refused(err)
	}
	db, err := svc.DB(cmd.Context(), tn.ID)
	if err != nil {
		svc.Close()
		return nil, apps.Limits{}, nil, err
	}
	t.restorePoint = svc.RestorePointFunc(tn)
	return db, tn.Quotas.Limits(), func() { svc.Close() }, nil
}
