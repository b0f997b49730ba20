package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// This file holds `objectstack group` (database groups and their locations), the region → group
// map shared by every tenant command (--region-groups / OBJECTSTACK_REGION_GROUPS), `tenant
// configure` (delete_protection, block_reads, block_writes, size_limit) and the blast-radius note
// printed before a suspend in a shared group.

// addGroupBackendFlags registers the backend flags `objectstack tenant` has on `objectstack group`.
func addGroupBackendFlags(pf *pflag.FlagSet, f *tenantFlags) {
	pf.StringVar(&f.dataDir, "data-dir", "", "data folder: control plane, local databases and groups (env OBJECTSTACK_DATA_DIR)")
	pf.StringVar(&f.apiURL, "api-url", "", "Turso Platform API base URL, e.g. https://api.turso.tech or http://127.0.0.1:8080 (env OBJECTSTACK_API_URL)")
	pf.StringVar(&f.org, "org", "", "Turso organization (env OBJECTSTACK_ORG, TURSO_ORG)")
	pf.StringVar(&f.apiToken, "api-token", "", "Turso Platform API token (prefer env TURSO_API_TOKEN: flags show up in process lists)")
	pf.StringVar(&f.controlURL, "control-url", "", "libSQL URL of the control plane (default DATA_DIR/control.db)")
	pf.BoolVar(&f.jsonOut, "json", false, "machine-readable output")
	pf.BoolVar(&f.debug, "debug", false, "debug log on stderr (never includes tokens)")
}

// regionGroupsFlag adds --region-groups to a tenant command tree.
func regionGroupsFlag(pf *pflag.FlagSet, f *tenantFlags) {
	pf.StringSliceVar(&f.regionGroups, "region-groups", nil,
		"region=group,... : the group each region's databases are created in, e.g. eu-west=eu (env OBJECTSTACK_REGION_GROUPS)")
}

// parseRegionGroups reads the region → group map from the flag, else OBJECTSTACK_REGION_GROUPS,
// checking regions and group names so a typo is reported before anything is created.
func parseRegionGroups(items []string) (map[string]string, error) {
	if len(items) == 0 {
		if env := os.Getenv("OBJECTSTACK_REGION_GROUPS"); env != "" {
			items = []string{env}
		}
	}
	kv, err := parseKV("region-groups", items)
	if err != nil {
		return nil, err
	}
	for region, group := range kv {
		if !tenant.ValidRegion(region) {
			return nil, usagef("--region-groups %s=%s: region %q is not one of %s", region, group, region, strings.Join(tenant.Regions, ", "))
		}
		if err := platform.ValidateName(group); err != nil {
			return nil, usagef("--region-groups %s=%s: %v", region, group, err)
		}
	}
	if len(kv) == 0 {
		return nil, nil
	}
	return kv, nil
}

// withRegionGroups applies the parsed map to the tenant service configuration.
func withRegionGroups(m map[string]string) openOption {
	return func(c *tenant.Config) { c.Regions = m }
}

func newGroupCmd() *cobra.Command {
	f := &tenantFlags{}
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Create, inspect and delete database groups and their locations",
		Long: `Manage database groups: tenant databases that share a primary location, replica locations and
credentials (one group token opens every database of the group).

With the Turso backend (--api-url, --org) these are Turso groups; with the local backend (--data-dir)
a group is a folder under DATA_DIR/groups recording the same settings. Place tenants in groups by
region with --region-groups (objectstack tenant) or region_groups (provider).`,
	}
	addGroupBackendFlags(cmd.PersistentFlags(), f)
	cmd.AddCommand(newGroupCreateCmd(f), newGroupGetCmd(f), newGroupListCmd(f), newGroupDeleteCmd(f),
		newGroupLocationsCmd(f), newGroupLocationCmd(f, "add-location"), newGroupLocationCmd(f, "remove-location"),
		newGroupProtectCmd(f))
	return cmd
}

// groupRun makes a group command's RunE: it opens the backend, hands run its group calls and the
// platform, and closes the backend afterwards.
func (f *tenantFlags) groupRun(run func(cmd *cobra.Command, args []string, g platform.Groups, p platform.Platform) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		svc, err := f.open(cmd)
		if err != nil {
			return err
		}
		defer svc.Close()
		g, err := platform.GroupsOf(svc.Platform())
		if err != nil {
			return err
		}
		return run(cmd, args, g, svc.Platform())
	}
}

// groupRefused maps group errors: bad input is exit 2, the rest exit 1.
func groupRefused(err error) error {
	if errors.Is(err, platform.ErrInvalidName) || errors.Is(err, platform.ErrInvalidLocation) {
		return usageError{err}
	}
	return err
}

func (f *tenantFlags) showGroup(w io.Writer, g *platform.Group, dbs []platform.Database) error {
	if f.jsonOut {
		out := map[string]any{"name": g.Name, "uuid": g.UUID, "primary": g.Primary, "locations": g.Locations, "deleteProtection": g.DeleteProtection}
		if dbs != nil {
			names := []string{}
			for _, d := range dbs {
				names = append(names, d.Name)
			}
			out["databases"] = names
		}
		return writeJSONEscaped(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "group\t%s\n", g.Name)
	fmt.Fprintf(tw, "uuid\t%s\n", g.UUID)
	fmt.Fprintf(tw, "primary\t%s\n", g.Primary)
	fmt.Fprintf(tw, "locations\t%s\n", strings.Join(g.Locations, ", "))
	fmt.Fprintf(tw, "delete protection\t%t\n", g.DeleteProtection)
	if dbs != nil {
		names := []string{}
		for _, d := range dbs {
			names = append(names, d.Name)
		}
		fmt.Fprintf(tw, "databases\t%s\n", strings.Join(names, ", "))
	}
	return tw.Flush()
}

func newGroupCreateCmd(f *tenantFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group in a primary location",
		Args:  cobra.ExactArgs(1),
		RunE: f.groupRun(func(cmd *cobra.Command, args []string, g platform.Groups, _ platform.Platform) error {
			grp, err := g.CreateGroup(cmd.Context(), platform.GroupOptions{Name: args[0], Location: location})
			if err != nil {
				return groupRefused(err)
			}
			return f.showGroup(cmd.OutOrStdout(), grp, nil)
		}),
	}
	cmd.Flags().StringVar(&location, "location", "", "primary location, e.g. aws-eu-west-1 (see `objectstack group locations`; default: the platform's)")
	return cmd
}

func newGroupGetCmd(f *tenantFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a group, its locations and its databases",
		Args:  cobra.ExactArgs(1),
		RunE: f.groupRun(func(cmd *cobra.Command, args []string, g platform.Groups, p platform.Platform) error {
			grp, err := g.GetGroup(cmd.Context(), args[0])
			if err != nil {
				return groupRefused(err)
			}
			dbs, err := p.ListDatabases(cmd.Context(), grp.Name)
			if err != nil {
				return err
			}
			return f.showGroup(cmd.OutOrStdout(), grp, dbs)
		}),
	}
}

func newGroupListCmd(f *tenantFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List groups",
		Args:  cobra.NoArgs,
		RunE: f.groupRun(func(cmd *cobra.Command, _ []string, g platform.Groups, _ platform.Platform) error {
			all, err := g.ListGroups(cmd.Context())
			if err != nil {
				return err
			}
			if f.jsonOut {
				return writeJSONEscaped(cmd.OutOrStdout(), map[string]any{"groups": all})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPRIMARY\tLOCATIONS\tDELETE PROTECTION")
			for _, x := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", x.Name, x.Primary, strings.Join(x.Locations, ","), x.DeleteProtection)
			}
			return tw.Flush()
		}),
	}
}

func newGroupDeleteCmd(f *tenantFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a group (refused while it has databases or delete protection)",
		Args:  cobra.ExactArgs(1),
		RunE: f.groupRun(func(cmd *cobra.Command, args []string, g platform.Groups, _ platform.Platform) error {
			if err := g.DeleteGroup(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, platform.ErrDeleteProtected) {
					return fmt.Errorf("%w\nturn it off with: objectstack group protect %s --delete-protection=false", err, args[0])
				}
				return groupRefused(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "group %s deleted\n", args[0])
			return nil
		}),
	}
}

func newGroupLocationsCmd(f *tenantFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "locations",
		Short: "List the locations the platform offers",
		Args:  cobra.NoArgs,
		RunE: f.groupRun(func(cmd *cobra.Command, _ []string, g platform.Groups, _ platform.Platform) error {
			locs, err := g.Locations(cmd.Context())
			if err != nil {
				return err
			}
			if f.jsonOut {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"locations": locs})
			}
			ids := make([]string, 0, len(locs))
			for id := range locs {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, id := range ids {
				fmt.Fprintf(tw, "%s\t%s\n", id, locs[id])
			}
			return tw.Flush()
		}),
	}
}

func newGroupLocationCmd(f *tenantFlags, use string) *cobra.Command {
	short := "Add a replica location to a group"
	if use == "remove-location" {
		short = "Remove a replica location from a group (not its primary)"
	}
	return &cobra.Command{
		Use:   use + " GROUP LOCATION",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: f.groupRun(func(cmd *cobra.Command, args []string, g platform.Groups, _ platform.Platform) error {
			change := g.AddLocation
			if use == "remove-location" {
				change = g.RemoveLocation
			}
			grp, err := change(cmd.Context(), args[0], args[1])
			if err != nil {
				return groupRefused(err)
			}
			return f.showGroup(cmd.OutOrStdout(), grp, nil)
		}),
	}
}

func newGroupProtectCmd(f *tenantFlags) *cobra.Command {
	var protect bool
	cmd := &cobra.Command{
		Use:   "protect NAME --delete-protection=true|false",
		Short: "Turn a group's delete protection on or off",
		Args:  cobra.ExactArgs(1),
		// The flag is checked before the backend is opened: a usage error changes nothing.
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("delete-protection") {
				return usagef("--delete-protection=true|false is required")
			}
			return nil
		},
		RunE: f.groupRun(func(cmd *cobra.Command, args []string, g platform.Groups, _ platform.Platform) error {
			grp, err := g.ConfigureGroup(cmd.Context(), args[0], platform.GroupConfiguration{DeleteProtection: &protect})
			if err != nil {
				return groupRefused(err)
			}
			return f.showGroup(cmd.OutOrStdout(), grp, nil)
		}),
	}
	cmd.Flags().BoolVar(&protect, "delete-protection", false, "refuse `group delete` while true")
	return cmd
}

// newTenantConfigureCmd is `tenant configure`: the database's delete_protection, block_reads,
// block_writes and size_limit through the platform's configuration call. Without flags it shows them.
func newTenantConfigureCmd(f *tenantFlags) *cobra.Command {
	var protect, blockReads, blockWrites bool
	var sizeLimit string
	cmd := &cobra.Command{
		Use:   "configure ID [--delete-protection=BOOL] [--block-reads=BOOL] [--block-writes=BOOL] [--size-limit SIZE]",
		Short: "Show or change a tenant database's delete protection, read/write blocks and size limit",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			var a tenant.Access
			if fl.Changed("delete-protection") {
				a.DeleteProtection = &protect
			}
			if fl.Changed("block-reads") {
				a.BlockReads = &blockReads
			}
			if fl.Changed("block-writes") {
				a.BlockWrites = &blockWrites
			}
			if fl.Changed("size-limit") {
				n, err := platform.ParseSizeLimit(json.RawMessage(fmt.Sprintf("%q", sizeLimit)))
				if err != nil {
					return usagef("--size-limit %q: want bytes or a size like 256mb (0 lifts the limit)", sizeLimit)
				}
				a.SizeLimitBytes = &n
			}
			svc, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := svc.SetAccess(cmd.Context(), id, a); err != nil {
				return refused(err)
			}
			c, err := svc.AccessOf(cmd.Context(), id)
			if err != nil {
				return err
			}
			if f.jsonOut {
				return writeJSONEscaped(cmd.OutOrStdout(), map[string]any{"tenantId": id, "deleteProtection": c.DeleteProtection,
					"blockReads": c.BlockReads, "blockWrites": c.BlockWrites, "sizeLimitBytes": c.SizeLimitBytes})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "tenant\t%s\n", id)
			fmt.Fprintf(tw, "delete protection\t%t\n", c.DeleteProtection)
			fmt.Fprintf(tw, "block reads\t%t\n", c.BlockReads)
			fmt.Fprintf(tw, "block writes\t%t\n", c.BlockWrites)
			fmt.Fprintf(tw, "size limit\t%d\n", c.SizeLimitBytes)
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.String("id", "", "tenant id (instead of the argument)")
	fl.BoolVar(&protect, "delete-protection", false, "refuse `tenant destroy` (and the platform's delete) while true")
	fl.BoolVar(&blockReads, "block-reads", false, "refuse every read")
	fl.BoolVar(&blockWrites, "block-writes", false, "refuse every write")
	fl.StringVar(&sizeLimit, "size-limit", "", "maximum database size: bytes or e.g. 256mb; 0 lifts the limit")
	return cmd
}

// refuseRegionMove explains why an existing tenant cannot change region, instead of leaving the
// request a silent no-op: the database lives in its region's group and does not move.
func refuseRegionMove(cmd *cobra.Command, svc *tenant.Service, id, region string) error {
	nid, err := tenant.NormalizeID(id)
	if err != nil {
		return nil // create reports the bad id itself
	}
	t, err := svc.Get(cmd.Context(), nid)
	if err != nil || t.Status == tenant.StatusArchived || t.Region == region {
		return nil
	}
	group := t.Group
	if group == "" {
		group = "its group"
	}
	want := svc.GroupFor(region)
	if want == "" {
		want = "the default group"
	}
	return fmt.Errorf("%w: tenant %s is in region %s (database %s in group %s); its database cannot move to region %s (group %s) in place. "+
		"Create a new tenant in %s and move the data, or destroy this one and create it again (ids are not reused)",
		tenant.ErrConflict, nid, t.Region, t.DatabaseName, group, region, want, region)
}

// withRotationImpact prints, before a suspend runs, which other tenants share the tenant's group
// and so lose their group tokens when its credentials are rotated.
func withRotationImpact(f *tenantFlags, cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		id, err := tenantID(c, args)
		if err != nil {
			return err
		}
		svc, err := f.open(c)
		if err != nil {
			return err
		}
		group, others, err := svc.RotationImpact(c.Context(), id)
		svc.Close()
		if err == nil && len(others) > 0 {
			fmt.Fprintf(c.ErrOrStderr(), "note: suspending %s rotates the credentials of group %s: group tokens stop working for %d other tenant(s) of the group: %s\n",
				id, group, len(others), strings.Join(others, ", "))
		}
		return run(c, args)
	}
	return cmd
}
