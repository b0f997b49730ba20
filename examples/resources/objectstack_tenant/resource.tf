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
