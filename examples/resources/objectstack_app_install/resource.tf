resource "objectstack_app_install" "helpdesk" {
  tenant_id = "acme"
  path      = "${path.module}/apps/helpdesk"

  config_overrides = {
    default_priority     = "urgent"
    first_response_hours = "8"
  }

  # Keep the app's tables and data when the resource is destroyed (the default).
  purge_on_destroy = false
}
