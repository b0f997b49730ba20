package reconciler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
)

// ReviewTenant is the dry run of one targeted tenant.
type ReviewTenant struct {
	TenantID string   `json:"tenantId"`
	Wave     string   `json:"wave"`
	Outcome  string   `json:"outcome"` // change | uptodate | refused | failed
	SQL      string   `json:"sql,omitempty"`
	Error    string   `json:"error,omitempty"`
	Refused  []string `json:"refused,omitempty"`
	Skipped  bool     `json:"skipped,omitempty"` // at the revision's checksum per status: not opened
	// Prune lists owners the repository no longer targets here that would be removed ("bundle:x (detach)").
	Prune []string `json:"prune,omitempty"`
	// Orphaned lists owners no longer targeted here that stay because prune is off.
	Orphaned []string `json:"orphaned,omitempty"`
	// LeftAlone lists owners no longer targeted here that Terraform or the CLI deployed last.
	LeftAlone []string `json:"leftAlone,omitempty"`
	// Preflight lists what the tenant's data would break (outcome failed): rule, object, field, count, samples.
	Preflight []schema.PreflightFinding `json:"preflight,omitempty"`
}

// Review is what a revision would do, tenant by tenant, without applying anything.
type Review struct {
	Revision string         `json:"revision"`
	Digest   string         `json:"digest"`
	Valid    bool           `json:"valid"`
	Issues   []bundle.Issue `json:"issues,omitempty"`
	Tenants  []ReviewTenant `json:"tenants"`
	// Misplaced lists tenants whose database is not in their region's group (placement.go).
	Misplaced []Misplaced `json:"misplaced,omitempty"`
}

// Review outcomes.
const (
	ReviewChange   = "change"
	ReviewUpToDate = "uptodate"
)

// Review plans rev against every targeted tenant (read-only; tenants the status store already records at
// the revision's checksum are reported up to date without opening their databases).
func (r *Reconciler) Review(ctx context.Context, rev source.Revision) (*Review, error) {
	repo, err := LoadRepository(rev.Dir)
	if err != nil {
		return nil, err
	}
	rv := &Review{Revision: rev.String(), Digest: rev.Digest, Valid: repo.Valid(), Issues: repo.Errors(), Tenants: []ReviewTenant{}}
	if !rv.Valid {
		return rv, nil
	}
	tenants, statuses, _, err := r.readControlPlane(ctx)
	if err != nil {
		return nil, err
	}
	rv.Misplaced = misplaced(tenants, repo.Config)
	waves, _ := repo.resolveRun(tenants, statuses)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for _, w := range waves {
		for _, d := range w.Members {
			if st, ok := statuses[d.Tenant.ID]; upToDate(st, ok, d, repo.Config.Prune) {
				rt := ReviewTenant{TenantID: d.Tenant.ID, Wave: w.Name, Outcome: ReviewUpToDate, Skipped: true}
				for _, o := range d.Orphans {
					rt.Orphaned = append(rt.Orphaned, string(o)) // prune is off, or this would not be skipped
				}
				// Planning goroutines of earlier tenants append to rv.Tenants concurrently.
				mu.Lock()
				rv.Tenants = append(rv.Tenants, rt)
				mu.Unlock()
				continue
			}
			g.Go(func() error {
				rt := ReviewTenant{TenantID: d.Tenant.ID, Wave: w.Name}
				tp := r.planTenant(gctx, d)
				var sqlText []string
				for _, up := range tp.units {
					var stmts []string
					switch {
					case up.plan != nil:
						for _, s := range up.plan.Migration.Statements {
							stmts = append(stmts, strings.TrimRight(s.SQL, ";\n ")+";")
						}
					case up.install != nil && up.install.Schema != nil:
						for _, s := range up.install.Schema.Migration.Statements {
							stmts = append(stmts, strings.TrimRight(s.SQL, ";\n ")+";")
						}
					}
					if len(stmts) > 0 {
						sqlText = append(sqlText, fmt.Sprintf("-- %s %s\n%s", up.unit.Owner, up.unit.Version, strings.Join(stmts, "\n")))
					}
				}
				rt.SQL = strings.Join(sqlText, "\n\n")
				rt.Prune, rt.Orphaned, rt.LeftAlone = pruneSummary(tp.prune)
				switch {
				case tp.outcome != "":
					rt.Outcome, rt.Error, rt.Refused, rt.Preflight = tp.outcome, tp.err, tp.refused, tp.preflight
				case rt.SQL == "" && len(rt.Prune) == 0:
					rt.Outcome = ReviewUpToDate
				default:
					rt.Outcome = ReviewChange
				}
				mu.Lock()
				rv.Tenants = append(rv.Tenants, rt)
				mu.Unlock()
				return nil
			})
		}
	}
	_ = g.Wait()
	sort.Slice(rv.Tenants, func(i, j int) bool { return rv.Tenants[i].TenantID < rv.Tenants[j].TenantID })
	return rv, nil
}

// OK reports whether the revision is valid and no tenant would be refused or fail.
func (rv *Review) OK() bool {
	if !rv.Valid {
		return false
	}
	for _, t := range rv.Tenants {
		if t.Outcome == OutcomeFailed || t.Outcome == OutcomeRefused {
			return false
		}
	}
	return true
}

func tenantList(ids []string) string {
	const show = 8
	quoted := make([]string, 0, show)
	for i, id := range ids {
		if i == show {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(ids)-show))
			break
		}
		quoted = append(quoted, "`"+id+"`")
	}
	return strings.Join(quoted, ", ")
}

// Markdown renders the review for a pull-request comment: identical DDL across tenants is shown once.
func (rv *Review) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### ObjectStack plan for `%s`\n\n", rv.Revision)
	if !rv.Valid {
		fmt.Fprintf(&b, "**The revision is invalid: nothing would be applied to any tenant.**\n\n")
		for _, is := range rv.Issues {
			fmt.Fprintf(&b, "- `%s`\n", config.FormatIssue(is))
		}
		return b.String()
	}
	counts := map[string]int{}
	var prune, orphaned, leftAlone []string
	for _, t := range rv.Tenants {
		counts[t.Outcome]++
		if len(t.Prune) > 0 {
			prune = append(prune, fmt.Sprintf("- `%s`: %s\n", t.TenantID, strings.Join(t.Prune, ", ")))
		}
		if len(t.Orphaned) > 0 {
			orphaned = append(orphaned, fmt.Sprintf("- `%s`: %s\n", t.TenantID, strings.Join(t.Orphaned, ", ")))
		}
		if len(t.LeftAlone) > 0 {
			leftAlone = append(leftAlone, fmt.Sprintf("- `%s`: %s\n", t.TenantID, strings.Join(t.LeftAlone, ", ")))
		}
	}
	fmt.Fprintf(&b, "%d tenant(s) targeted: **%d to change**, %d up to date, %d refused, %d failed.\n\n",
		len(rv.Tenants), counts[ReviewChange], counts[ReviewUpToDate], counts[OutcomeRefused], counts[OutcomeFailed])
	b.WriteString(misplacedMarkdown(rv.Misplaced))
	var refused, failed, preflight []ReviewTenant
	groups := map[string][]string{}
	var order []string
	for _, t := range rv.Tenants {
		switch t.Outcome {
		case OutcomeRefused:
			refused = append(refused, t)
		case OutcomeFailed:
			if len(t.Preflight) > 0 {
				preflight = append(preflight, t)
				continue
			}
			failed = append(failed, t)
		case ReviewChange:
			if t.SQL == "" {
				continue // only prunes: listed below
			}
			if _, ok := groups[t.SQL]; !ok {
				order = append(order, t.SQL)
			}
			groups[t.SQL] = append(groups[t.SQL], t.TenantID)
		}
	}
	if len(refused) > 0 {
		b.WriteString("#### Refused destructive changes\n\n")
		b.WriteString("These tenants would not be changed: add the kind to `allowDestructive` in objectstack.yaml to allow it.\n\n")
		for _, t := range refused {
			fmt.Fprintf(&b, "- `%s`:", t.TenantID)
			if len(t.Refused) == 0 {
				fmt.Fprintf(&b, " %s", t.Error)
			}
			b.WriteString("\n")
			for _, r := range t.Refused {
				fmt.Fprintf(&b, "  - %s\n", r)
			}
		}
		b.WriteString("\n")
	}
	if len(preflight) > 0 {
		b.WriteString("#### Pre-flight: the data would fail the migration\n\n")
		b.WriteString("These tenants would not be changed: fix the rows (or the bundle) first.\n\n")
		for _, t := range preflight {
			fmt.Fprintf(&b, "- `%s`:\n", t.TenantID)
			for _, f := range t.Preflight {
				fmt.Fprintf(&b, "  - %s\n", f)
			}
		}
		b.WriteString("\n")
	}
	if len(failed) > 0 {
		b.WriteString("#### Failed to plan\n\n")
		for _, t := range failed {
			fmt.Fprintf(&b, "- `%s`: %s\n", t.TenantID, t.Error)
		}
		b.WriteString("\n")
	}
	if len(order) > 0 {
		b.WriteString("#### Changes\n\n")
		sort.SliceStable(order, func(i, j int) bool { return len(groups[order[i]]) > len(groups[order[j]]) })
		for _, sqlText := range order {
			ids := groups[sqlText]
			fmt.Fprintf(&b, "**%d tenant(s)** get (%s):\n\n```sql\n%s\n```\n\n", len(ids), tenantList(ids), sqlText)
		}
	}
	if len(prune) > 0 {
		b.WriteString("#### Will prune\n\n")
		b.WriteString("No longer targeted by the repository; `detach`/`uninstall` keep tables and rows, `drop`/`purge` drop them (`drop_table` is allowed).\n\n")
		b.WriteString(strings.Join(prune, ""))
		b.WriteString("\n")
	}
	if len(orphaned) > 0 {
		b.WriteString("#### Orphaned (prune disabled)\n\n")
		b.WriteString("No longer targeted by the repository but kept: set `prune: true` in objectstack.yaml to remove them.\n\n")
		b.WriteString(strings.Join(orphaned, ""))
		b.WriteString("\n")
	}
	if len(leftAlone) > 0 {
		b.WriteString("#### Not pruned: deployed by another tool\n\n")
		b.WriteString(strings.Join(leftAlone, ""))
		b.WriteString("\n")
	}
	return b.String()
}
