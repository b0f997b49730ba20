terraform {
  required_providers {
    objectstack = {
      source = "objectstack-ai/objectstack"
    }
  }
}

# Local backend (the default): tenant databases are SQLite files under data_dir. No account needed.
provider "objectstack" {
  data_dir = ".objectstack"
}

# Turso backend: tenant databases are created through the Turso Platform API.
# The token is best passed as TURSO_API_TOKEN (or OBJECTSTACK_API_TOKEN) rather than written here.
provider "objectstack" {
  alias        = "turso"
  backend      = "turso"
  organization = "my-org"
  group        = "tenants"
  data_dir     = ".objectstack" # the tenant registry (control plane) stays local
  max_retries  = 5
  # Tenants in these regions get their databases in these groups (objectstack_group); others use group.
  region_groups = {
    "eu-west" = "eu"
    "us-east" = "us"
  }
}

# Against a local `objectstack dev` server (a Turso-compatible development server).
provider "objectstack" {
  alias        = "dev"
  backend      = "turso"
  api_url      = "http://127.0.0.1:8080"
  organization = "dev"
  api_token    = "dev-token"
}
