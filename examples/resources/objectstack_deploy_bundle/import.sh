# Import a deployed bundle as <tenant_id>/<bundle name>.
tofu import objectstack_deploy_bundle.crm acme/crm
