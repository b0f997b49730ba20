package resources

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// restorePointAttribute is objectstack_deploy_bundle's restore_point: what `objectstack tenant restore`
// undoes a destructive deployment with.
func restorePointAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Restore point recorded just before the transaction of this resource's last deployment, when " +
			"that deployment had a destructive change (RFC 3339, UTC); empty otherwise. The tenant's database can be " +
			"brought back to it with `objectstack tenant restore <tenant_id> --before-deployment <deployment_id>`, " +
			"which creates a new database seeded from this point (Turso point-in-time restore; with the `local` " +
			"backend a snapshot taken before the change), repoints the tenant at it and keeps the old database " +
			"for inspection until `objectstack tenant restore <tenant_id> --purge-old`.",
		Computed: true,
	}
}

// restorePointHook is the engine's RestorePoint hook for the tenant: the local backend snapshots the
// file before a destructive change; Turso and objectstack dev keep their own history.
func (r *deployBundleResource) restorePointHook(t *tenant.Tenant, tenantID string) func(ctx context.Context) (time.Time, error) {
	if t == nil {
		got, err := r.client.Tenants.Get(context.Background(), tenantID)
		if err != nil {
			return nil // the engine records the current time; the apply itself reports a missing tenant
		}
		t = got
	}
	return r.client.Tenants.RestorePointFunc(t)
}
