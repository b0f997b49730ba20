# The default group always exists; databases lists the tenant databases in it.
data "objectstack_group" "default" {
  name = "default"
}

output "default_group_databases" {
  value = data.objectstack_group.default.databases
}
