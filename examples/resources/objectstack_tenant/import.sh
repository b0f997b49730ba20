# Import a tenant by its id.
tofu import objectstack_tenant.acme acme
