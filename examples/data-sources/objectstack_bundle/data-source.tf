# Validate a bundle folder and read its version and checksum; an invalid bundle fails the plan with
# one error per problem (file:line, the path inside the file, the rule broken).
data "objectstack_bundle" "crm" {
  path = "${path.module}/bundles/crm"
}

output "crm_version" {
  value = "${data.objectstack_bundle.crm.version} (${data.objectstack_bundle.crm.checksum})"
}
