# A group in Ireland with a replica in Oregon. Destroying it is refused while delete_protection is on
# or while tenant databases remain in it.
resource "objectstack_group" "eu" {
  name              = "eu"
  location          = "aws-eu-west-1"
  locations         = ["aws-us-west-2"]
  delete_protection = true
}

# With the provider's region_groups = { "eu-west" = "eu" }, a tenant in eu-west gets its database in
# the eu group. depends_on makes sure the group exists first; changing region later replaces the tenant.
resource "objectstack_tenant" "paris" {
  id                = "paris"
  org_id            = "org-paris"
  region            = "eu-west"
  delete_protection = true # destroy fails, naming this setting, until it is set to false
  size_limit        = 268435456
  depends_on        = [objectstack_group.eu]
}
