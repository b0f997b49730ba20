# One token for every tenant database of the eu group (the protocol's groupAuthToken), valid for an hour.
# Suspending any tenant of the group rotates the group's credentials and ends this token for all of them.
ephemeral "objectstack_group_token" "eu" {
  group      = "eu"
  scope      = "full-access"
  expiration = "1h"
}
