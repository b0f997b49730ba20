# Quickstart: three tenants on the embedded local backend (SQLite files, no account), the example CRM
# bundle deployed to each, and the helpdesk app installed in one of them.
#
#   go run ./examples/quickstart        # from the repository root: builds OpenTofu and the provider, then
#                                       # runs plan / apply / plan for you in a scratch folder
#
# or, with the provider installed, from this folder: tofu init && tofu plan && tofu apply

terraform {
  required_providers {
    objectstack = {
      source = "objectstack-ai/objectstack"
    }
  }
}

variable "examples_dir" {
  description = "Folder holding bundles/ and apps/ (the repository's examples folder)."
  type        = string
  default     = ".."
}

variable "data_dir" {
  description = "Where the local backend keeps the tenant registry and the tenant databases."
  type        = string
  default     = ".objectstack"
}

variable "crm_bundle" {
  description = "Which CRM bundle folder to deploy: crm (1.0.0) or crm-v2 (1.1.0, adds an object, a field and an index)."
  type        = string
  default     = "crm"
}

provider "objectstack" {
  backend  = "local"
  data_dir = var.data_dir
}

locals {
  tenants = {
    acme    = { plan = "enterprise", region = "us-east", tier = "gold" }
    globex  = { plan = "pro", region = "eu-west", tier = "silver" }
    initech = { plan = "free", region = "us-west", tier = "bronze" }
  }
}

resource "objectstack_tenant" "this" {
  for_each = local.tenants

  id           = each.key
  org_id       = "quickstart"
  display_name = title(each.key)
  plan         = each.value.plan
  region       = each.value.region
  labels       = { tier = each.value.tier }
  quotas       = { max_objects = 100 }

  # A demo: delete databases right away on destroy instead of keeping them for the 72-hour grace period.
  on_destroy = { immediate = true, create_backup = false }
}

resource "objectstack_deploy_bundle" "crm" {
  for_each = objectstack_tenant.this

  tenant_id = each.value.id
  path      = "${var.examples_dir}/bundles/${var.crm_bundle}"
}

resource "objectstack_app_install" "helpdesk" {
  tenant_id        = objectstack_tenant.this["acme"].id
  path             = "${var.examples_dir}/apps/helpdesk"
  config_overrides = { default_priority = "urgent" }
}

output "crm" {
  description = "CRM bundle version and objects per tenant."
  value       = { for id, d in objectstack_deploy_bundle.crm : id => "${d.version}: ${join(", ", d.objects)}" }
}

output "helpdesk" {
  description = "The helpdesk app installed in acme."
  value = {
    version = objectstack_app_install.helpdesk.version
    objects = objectstack_app_install.helpdesk.installed_objects
  }
}
