# Every active enterprise tenant in eu-west with the gold label.
data "objectstack_tenants" "gold_eu" {
  plan   = "enterprise"
  region = "eu-west"
  status = "active"
  labels = { tier = "gold" }
}

output "gold_eu_ids" {
  value = data.objectstack_tenants.gold_eu.ids
}
