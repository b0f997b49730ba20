# A read-only token for a reporting job, valid for 12 hours. It never lands in state or plan files, and
# opening it never rotates the tenant's other tokens.
ephemeral "objectstack_tenant_token" "reporting" {
  tenant_id  = "acme"
  scope      = "read-only"
  expiration = "12h"
}

# Hand it to another provider's configuration (provider blocks accept ephemeral values).
provider "libsql" {
  url        = ephemeral.objectstack_tenant_token.reporting.database_url
  auth_token = ephemeral.objectstack_tenant_token.reporting.token
}
