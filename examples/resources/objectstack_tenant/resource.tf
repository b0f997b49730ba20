resource "objectstack_tenant" "acme" {
  id           = "acme"
  org_id       = "org-acme"
  display_name = "Acme Corp"
  plan         = "enterprise"
  region       = "eu-west"
  labels = {
    tier = "gold"
    team = "growth"
  }
  quotas = {
    max_users   = 500
    max_objects = 200
  }

  # Keep the database 7 days (with a backup) before it is deleted.
  on_destroy = {
    grace_period_hours = 168
    create_backup      = true
  }
}

# Many tenants from a map.
resource "objectstack_tenant" "fleet" {
  for_each = {
    globex  = "pro"
    initech = "free"
  }
  id     = each.key
  org_id = "org-${each.key}"
  plan   = each.value
}

# A tenant provisioned as a copy of a template database that already holds the CRM bundle's schema and
# seed data (created once with `objectstack tenant create-template tmpl-crm-v1 --bundle ./bundles/crm`):
# provisioning copies instead of running DDL, and the bundle deployed on it finds nothing to change.
resource "objectstack_tenant" "seeded" {
  id     = "umbrella"
  org_id = "org-umbrella"

  seed {
    database = "tmpl-crm-v1"
  }
}

resource "objectstack_deploy_bundle" "seeded_crm" {
  tenant_id = objectstack_tenant.seeded.id
  path      = "${path.module}/bundles/crm"
}
