package resources_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	engine "github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// statementsMatching checks a list of strings: every pattern must match at least one element, and
// with exact the list must have exactly len(patterns) elements.
type statementsMatching struct {
	patterns []*regexp.Regexp
	exact    bool
}

func containsStatements(patterns ...string) knownvalue.Check {
	s := statementsMatching{}
	for _, p := range patterns {
		s.patterns = append(s.patterns, regexp.MustCompile(p))
	}
	return s
}

func (s statementsMatching) CheckValue(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("expected a list of statements, got %T", v)
	}
	if len(list) == 0 {
		return errors.New("expected statements, got an empty list")
	}
	var got []string
	for _, e := range list {
		str, _ := e.(string)
		got = append(got, str)
	}
	for _, re := range s.patterns {
		found := false
		for _, g := range got {
			if re.MatchString(g) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no statement matches %s; statements:\n%s", re, strings.Join(got, "\n"))
		}
	}
	if s.exact && len(got) != len(s.patterns) {
		return fmt.Errorf("expected %d statements, got %d:\n%s", len(s.patterns), len(got), strings.Join(got, "\n"))
	}
	return nil
}

func (s statementsMatching) String() string { return fmt.Sprintf("statements matching %v", s.patterns) }

// checkTenantsGone is a CheckDestroy: every tenant must be gone from the registry, archived or destroying.
func checkTenantsGone(e *env, ids ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, id := range ids {
			t, err := e.client.Tenants.Get(context.Background(), id)
			if errors.Is(err, tenant.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Status != tenant.StatusArchived && t.Status != tenant.StatusDestroying {
				return fmt.Errorf("tenant %s still %s after destroy", id, t.Status)
			}
		}
		return nil
	}
}

// byHand runs SQL against a tenant database outside the provider, as an operator would.
//
// It runs on one connection that first reads the schema table. On the turso backend a connection comes from
// the dev server's pool and may have cached the schema before the provider's last apply changed it. SQLite
// notices a stale cache when a statement starts reading, but ALTER TABLE ... DROP COLUMN looks the column up
// while it is being prepared and fails with "no such column" (seen on the Terraform run of TestAccAppInstall:
// the schema read on the same database showed the column, and the same DROP succeeded when retried). The read
// refreshes the cache, as a shell session's first statement would.
func byHand(e *env, tenantID string, stmts ...string) error {
	ctx := context.Background()
	db, err := e.client.Tenants.DB(ctx, tenantID)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// checkTables is a TestCheckFunc: each table must exist in the tenant database.
func checkTables(e *env, tenantID string, tables ...string) func(*terraform.State) error {
	return eachTable(e, tenantID, tables, func(tbl string, n int) error {
		if n != 1 {
			return fmt.Errorf("table %s missing from the database of tenant %s", tbl, tenantID)
		}
		return nil
	})
}

// checkOwnerDetached: owner has nothing registered any more, and countSQL (rows that must survive) is 1.
func checkOwnerDetached(e *env, tenantID, owner, countSQL string) error {
	ctx := context.Background()
	db, err := e.client.Tenants.DB(ctx, tenantID)
	if err != nil {
		return err
	}
	sum, err := engine.OwnerChecksum(ctx, db, engine.Owner(owner))
	if err != nil {
		return err
	}
	if sum != "" {
		return fmt.Errorf("%s still owns objects after destroy", owner)
	}
	var n int
	if err := db.QueryRowContext(ctx, countSQL).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("data lost on destroy: %s = %d", countSQL, n)
	}
	return nil
}

// checkNoTables is a TestCheckFunc: none of the tables may exist in the tenant database.
func checkNoTables(e *env, tenantID string, tables ...string) func(*terraform.State) error {
	return eachTable(e, tenantID, tables, func(tbl string, n int) error {
		if n != 0 {
			return fmt.Errorf("table %s still exists after a purging destroy", tbl)
		}
		return nil
	})
}

// eachTable is a TestCheckFunc that counts each table in the tenant database's schema (1 or 0) and
// hands the count to check, stopping at the first error.
func eachTable(e *env, tenantID string, tables []string, check func(tbl string, n int) error) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		db, err := e.client.Tenants.DB(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, tbl := range tables {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", tbl).Scan(&n); err != nil {
				return err
			}
			if err := check(tbl, n); err != nil {
				return err
			}
		}
		return nil
	}
}

// expectRefreshed is a plan check on the state the plan was made from: the refreshed state (`prior_state`
// in `show -json`), before the plan's changes. Next to plancheck.ExpectKnownValue on the same attribute it
// asserts a planned change from → to, e.g. drift true (refresh saw a hand edit) → false (apply repairs it).
func expectRefreshed(addr string, attr tfjsonpath.Path, check knownvalue.Check) plancheck.PlanCheck {
	return refreshedCheck{addr: addr, attr: attr, check: check}
}

type refreshedCheck struct {
	addr  string
	attr  tfjsonpath.Path
	check knownvalue.Check
}

func (c refreshedCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil || req.Plan.PriorState.Values.RootModule == nil {
		resp.Error = fmt.Errorf("%s: the plan has no prior (refreshed) state", c.addr)
		return
	}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		if r.Address != c.addr {
			continue
		}
		v, err := tfjsonpath.Traverse(r.AttributeValues, c.attr)
		if err != nil {
			resp.Error = fmt.Errorf("%s: refreshed state: %w", c.addr, err)
			return
		}
		if err := c.check.CheckValue(v); err != nil {
			resp.Error = fmt.Errorf("%s: refreshed state, attribute %s: %w", c.addr, c.attr, err)
		}
		return
	}
	resp.Error = fmt.Errorf("%s: not in the refreshed state", c.addr)
}
