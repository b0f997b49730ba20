# Import an installed app as <tenant_id>/<app name>.
tofu import objectstack_app_install.helpdesk acme/helpdesk
