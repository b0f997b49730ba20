data "objectstack_tenant" "acme" {
  id = "acme"
}

output "acme_database" {
  value = data.objectstack_tenant.acme.database_url
}
