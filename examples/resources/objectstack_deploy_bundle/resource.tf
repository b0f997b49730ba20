resource "objectstack_tenant" "acme" {
  id     = "acme"
  org_id = "org-acme"
}

# Deploy the CRM bundle; `tofu plan` lists the exact SQL in planned_statements.
resource "objectstack_deploy_bundle" "crm" {
  tenant_id = objectstack_tenant.acme.id
  path      = "${path.module}/bundles/crm"

  # Dropping columns is allowed for this bundle; dropping tables and lossy type changes still fail the plan.
  allow_destructive = ["drop_column"]
}

# The same bundle on every gold-tier tenant.
data "objectstack_tenants" "gold" {
  labels = { tier = "gold" }
}

resource "objectstack_deploy_bundle" "crm_gold" {
  for_each  = toset(data.objectstack_tenants.gold.ids)
  tenant_id = each.key
  path      = "${path.module}/bundles/crm"
}

output "crm_ddl" {
  value = objectstack_deploy_bundle.crm.planned_statements
}

# A deployment that drops a column records a restore point (empty otherwise). To undo it:
#   objectstack tenant restore acme --before-deployment <deployment_id>
output "crm_undo" {
  value = objectstack_deploy_bundle.crm.restore_point == "" ? null : "objectstack tenant restore acme --before-deployment ${objectstack_deploy_bundle.crm.deployment_id}"
}
