package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// getFilters are the filters of `objectstack get`; each kind uses the ones that make sense for it.
type getFilters struct {
	condition string
	reason    string
	labels    []string
	wave      string
	tenant    string
	state     string
	result    string
	suspended bool
	limit     int
}

// getTenant is one row of `get tenants`: the tenant's reconcile status, its labels and its last wave.
type getTenant struct {
	status.Tenant
	Wave   string            `json:"wave,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// getHistory is one row of `get history`: a history entry and whose it is.
type getHistory struct {
	TenantID string `json:"tenantId"`
	Wave     string `json:"wave,omitempty"`
	status.HistoryEntry
}

func newGetCmd() *cobra.Command {
	f := &tenantFlags{}
	g := &getFilters{}
	cmd := &cobra.Command{
		Use:   "get tenants|rollouts|history --data-dir DIR [filters] [--json]",
		Short: "List the GitOps reconciler's tenants, rollouts or history, with filters (table or --json)",
		Long: `get lists what the reconciler recorded in the control plane:
  tenants    each tenant's condition, reason, wave, labels and suspension
             filters: --condition, --reason, --label k=v (repeatable), --wave, --suspended
  rollouts   the latest rollouts with their task counts per wave
             filters: --state, --wave, --limit
  history    the last attempts of every tenant (newest first)
             filters: --tenant, --result, --label k=v, --wave, --limit
The wave of a tenant is the one it had in the latest rollout that visited it.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"tenants", "rollouts", "history"},
		RunE: func(cmd *cobra.Command, args []string) error {
			labels, err := parseLabelFilters(g.labels)
			if err != nil {
				return err
			}
			if g.limit < 0 {
				return usagef("--limit must be ≥ 0")
			}
			kind := args[0]
			if err := g.check(kind); err != nil {
				return err
			}
			return withControl(cmd, f, func(ctx context.Context, store *status.Store) error {
				switch kind {
				case "tenants":
					rows, err := getTenants(ctx, store, g, labels)
					if err != nil {
						return err
					}
					if f.jsonOut {
						return writeJSON(cmd.OutOrStdout(), rows)
					}
					printGetTenants(cmd.OutOrStdout(), rows)
				case "rollouts":
					rows, err := getRollouts(ctx, store, g)
					if err != nil {
						return err
					}
					if f.jsonOut {
						return writeJSON(cmd.OutOrStdout(), rows)
					}
					printGetRollouts(cmd.OutOrStdout(), rows)
				case "history":
					rows, err := getHistoryRows(ctx, store, g, labels)
					if err != nil {
						return err
					}
					if f.jsonOut {
						return writeJSON(cmd.OutOrStdout(), rows)
					}
					printGetHistory(cmd.OutOrStdout(), rows)
				}
				return nil
			})
		},
	}
	addBackendFlags(cmd, f)
	fl := cmd.Flags()
	fl.StringVar(&g.condition, "condition", "", "tenants: only this condition (Ready, Reconciling, Stalled)")
	fl.StringVar(&g.reason, "reason", "", "tenants: only this reason (e.g. Suspended, OutsideSyncWindow, RolloutHalted)")
	fl.StringSliceVar(&g.labels, "label", nil, "tenants, history: only tenants with this label (k=v; repeatable)")
	fl.StringVar(&g.wave, "wave", "", "only this wave")
	fl.StringVar(&g.tenant, "tenant", "", "history: only this tenant")
	fl.StringVar(&g.state, "state", "", "rollouts: only this state (running, completed, halted, failed, suspended, superseded)")
	fl.StringVar(&g.result, "result", "", "history: only this result (applied, failed, refused, invalid, drifted, healed)")
	fl.BoolVar(&g.suspended, "suspended", false, "tenants: only suspended tenants")
	fl.IntVar(&g.limit, "limit", 0, "rollouts: how many (default 20); history: at most this many entries (default all kept)")
	return cmd
}

// check refuses filters that do not apply to kind, so a mistyped command does not quietly list everything.
func (g *getFilters) check(kind string) error {
	allowed := map[string][]string{
		"tenants":  {"condition", "reason", "label", "wave", "suspended"},
		"rollouts": {"state", "wave", "limit"},
		"history":  {"tenant", "result", "label", "wave", "limit"},
	}
	ok, known := allowed[kind]
	if !known {
		return usagef("get %q: want tenants, rollouts or history", kind)
	}
	set := map[string]bool{"condition": g.condition != "", "reason": g.reason != "", "label": len(g.labels) > 0, "wave": g.wave != "",
		"suspended": g.suspended, "tenant": g.tenant != "", "state": g.state != "", "result": g.result != "", "limit": g.limit > 0}
	for name, on := range set {
		if !on {
			continue
		}
		found := false
		for _, a := range ok {
			found = found || a == name
		}
		if !found {
			return usagef("--%s does not apply to get %s (its filters: --%s)", name, kind, strings.Join(ok, ", --"))
		}
	}
	if g.condition != "" && g.condition != status.Ready && g.condition != status.Reconciling && g.condition != status.Stalled {
		return usagef("--condition %q: want Ready, Reconciling or Stalled", g.condition)
	}
	return nil
}

func parseLabelFilters(raw []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range raw {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// registryLabels reads every tenant's labels from the tenant registry in the same control plane.
func registryLabels(ctx context.Context, store *status.Store) (map[string]map[string]string, error) {
	_, res, err := store.Snapshot(ctx, tenant.ListStmt(tenant.Filter{}))
	if err != nil {
		return nil, err
	}
	list, err := tenant.DecodeList(res[0], tenant.Filter{})
	if err != nil {
		return nil, fmt.Errorf("read the tenant registry: %w", err)
	}
	out := make(map[string]map[string]string, len(list))
	for _, t := range list {
		out[t.ID] = t.Labels
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func getTenants(ctx context.Context, store *status.Store, g *getFilters, labels map[string]string) ([]getTenant, error) {
	doc, err := reconciler.ReadStatus(ctx, store)
	if err != nil {
		return nil, err
	}
	waves, err := store.TenantWaves(ctx)
	if err != nil {
		return nil, err
	}
	reg, err := registryLabels(ctx, store)
	if err != nil {
		return nil, err
	}
	rows := []getTenant{}
	for _, t := range doc.Tenants {
		row := getTenant{Tenant: t, Wave: waves[t.TenantID], Labels: reg[t.TenantID]}
		row.History = nil // `get history` lists it
		switch {
		case g.condition != "" && t.Condition != g.condition,
			g.reason != "" && t.Reason != g.reason,
			g.wave != "" && row.Wave != g.wave,
			g.suspended && t.Suspension == nil,
			!hasLabels(row.Labels, labels):
			continue
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func getRollouts(ctx context.Context, store *status.Store, g *getFilters) ([]status.RolloutRecord, error) {
	all, err := store.Rollouts(ctx, g.limit)
	if err != nil {
		return nil, err
	}
	rows := []status.RolloutRecord{}
	for _, r := range all {
		if g.state != "" && r.State != g.state {
			continue
		}
		if _, ok := r.Waves[g.wave]; g.wave != "" && !ok && r.Wave != g.wave {
			continue
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func getHistoryRows(ctx context.Context, store *status.Store, g *getFilters, labels map[string]string) ([]getHistory, error) {
	tenants, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	waves, err := store.TenantWaves(ctx)
	if err != nil {
		return nil, err
	}
	var reg map[string]map[string]string
	if len(labels) > 0 {
		if reg, err = registryLabels(ctx, store); err != nil {
			return nil, err
		}
	}
	rows := []getHistory{}
	for _, t := range tenants {
		if g.tenant != "" && t.TenantID != g.tenant || g.wave != "" && waves[t.TenantID] != g.wave || len(labels) > 0 && !hasLabels(reg[t.TenantID], labels) {
			continue
		}
		for _, h := range t.History {
			if g.result != "" && h.Result != g.result {
				continue
			}
			rows = append(rows, getHistory{TenantID: t.TenantID, Wave: waves[t.TenantID], HistoryEntry: h})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].At.After(rows[j].At) })
	if g.limit > 0 && len(rows) > g.limit {
		rows = rows[:g.limit]
	}
	return rows, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printGetTenants(w io.Writer, rows []getTenant) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No tenants match.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCONDITION\tREASON\tWAVE\tLABELS\tLAST APPLIED\tSUSPENDED\tMESSAGE")
	for _, r := range rows {
		sus := "-"
		if r.Suspension != nil {
			sus = "yes: " + r.Suspension.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.TenantID, r.Condition, dash(r.Reason), dash(r.Wave), dash(formatLabels(r.Labels)),
			dash(shortRev(r.LastAppliedRevision)), oneLine(sus), oneLine(r.Message))
	}
	tw.Flush()
}

func printGetRollouts(w io.Writer, rows []status.RolloutRecord) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No rollouts match.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREVISION\tSTATE\tWAVE\tTASKS\tSTARTED\tMESSAGE")
	for _, r := range rows {
		waves := make([]string, 0, len(r.Waves))
		for wv := range r.Waves {
			waves = append(waves, wv)
		}
		sort.Strings(waves)
		var tasks []string
		for _, wv := range waves {
			var parts []string
			for _, st := range []string{status.TaskApplied, status.TaskFailed, status.TaskPending, status.TaskSkipped} {
				if n := r.Waves[wv][st]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, st))
				}
			}
			tasks = append(tasks, wv+": "+strings.Join(parts, ", "))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, shortRev(r.Revision), r.State, dash(r.Wave), dash(strings.Join(tasks, "; ")),
			r.StartedAt.UTC().Format(time.RFC3339), oneLine(r.Message))
	}
	tw.Flush()
}

func printGetHistory(w io.Writer, rows []getHistory) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No history matches.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tTENANT\tWAVE\tREVISION\tRESULT\tREASON\tSTATEMENTS\tMESSAGE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.At.UTC().Format(time.RFC3339), r.TenantID, dash(r.Wave), shortRev(r.Revision),
			r.Result, dash(r.Reason), r.Statements, oneLine(r.Message))
	}
	tw.Flush()
}
