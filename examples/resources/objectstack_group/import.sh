# Import a group by its name.
tofu import objectstack_group.eu eu
