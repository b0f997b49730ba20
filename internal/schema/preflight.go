package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Pre-flight: a plan is made from the schema alone, but some migrations only succeed (or only keep every
// value) if the rows already in the table allow it. Planning records one bounded, read-only query per such
// migration step (preflightCheck); Preflight runs them all in ONE extra read, and only when there is at least
// one: a plan that touches no existing rows costs no statement and no request more than before.

// PreflightRule names the rule a pre-flight check verifies against the data.
type PreflightRule string

// The pre-flight rules.
const (
	// RuleUnique: a new or widened unique index must find no duplicate key among the existing rows.
	RuleUnique PreflightRule = "unique"
	// RuleRequired: a column becoming required without a defaultValue must hold no NULL.
	RuleRequired PreflightRule = "required"
	// RuleTypeChange: a type change alters the values that do not survive the cast.
	RuleTypeChange PreflightRule = "type_change"
	// RuleForeignKey: a new reference must find a parent row for every existing value.
	RuleForeignKey PreflightRule = "foreign_key"
	// RuleSeedConflict: seed records an app inserts (mode insert) must not collide with existing rows.
	RuleSeedConflict PreflightRule = "seed_conflict"
)

// maxPreflightSamples bounds the sample keys a finding carries.
const maxPreflightSamples = 3

// PreflightFinding is what one pre-flight check found: Count offending rows (or duplicate keys, for unique)
// with up to three samples, or — for a type change the data shows to be lossless — Count 0.
type PreflightFinding struct {
	Owner   Owner         `json:"owner"`
	Rule    PreflightRule `json:"rule"`
	Object  string        `json:"object"`
	Field   string        `json:"field,omitempty"`
	Table   string        `json:"table"`
	Count   int64         `json:"count"`
	Samples []string      `json:"samples,omitempty"`
	Message string        `json:"message"`
}

// String is the finding in one line: "owner [rule] object.field: message".
func (f PreflightFinding) String() string {
	name := f.Object
	if f.Field != "" {
		name += "." + f.Field
	}
	return fmt.Sprintf("%s [%s] %s: %s", f.Owner, f.Rule, name, f.Message)
}

// PreflightReport is what the data said about a plan.
type PreflightReport struct {
	// Checks is how many checks ran (0: the plan touches no existing rows, and nothing was read).
	Checks int `json:"checks"`
	// Failures would make the apply fail (duplicates, NULLs, missing parents): the plan is refused.
	Failures []PreflightFinding `json:"failures"`
	// Lossy are type changes whose cast would alter values: they stay lossy_type_change changes, now with
	// the count and samples in their message.
	Lossy []PreflightFinding `json:"lossy,omitempty"`
	// Lossless are type changes every existing value survives: they no longer need lossy_type_change, and
	// the apply re-checks the same condition inside its transaction.
	Lossless []PreflightFinding `json:"lossless,omitempty"`
}

// PreflightError is a plan whose apply the data shows would fail; Failures name each rule broken.
type PreflightError struct {
	Failures []PreflightFinding
}

func (e *PreflightError) Error() string {
	parts := make([]string, 0, len(e.Failures))
	for _, f := range e.Failures {
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("pre-flight: the data would fail %d check(s): %s", len(e.Failures), strings.Join(parts, "; "))
}

// preflightCheck is one data check recorded while planning.
type preflightCheck struct {
	rule          PreflightRule
	object, field string
	table         string
	columns       []string // columns of table the query reads: the check is skipped if the table as read lacks one
	parent        string   // foreign key: the referenced table ("" otherwise)
	// cond selects the offending rows of table (unique: the rows whose key is duplicated, see query); sample is
	// the text shown for one offending row or key.
	cond, sample     string
	group            string                         // unique: the key columns, grouped
	describe         func(count, rows int64) string // rows: unique only
	castFrom, castTo string                         // type change: the declared types
	args             []any                          // arguments of cond
}

// query is the check's one statement: the offending rows' count (over the whole result, before LIMIT) and
// up to maxPreflightSamples samples. A clean table returns no row.
func (c *preflightCheck) query(parentExists bool) database.Stmt {
	cond := c.cond
	if c.rule == RuleForeignKey && !parentExists {
		// The parent table is created by the plan, empty: every non-NULL value is missing from it.
		cond = fmt.Sprintf("%s IS NOT NULL", qi(c.columns[0]))
	}
	if c.group != "" {
		return database.Stmt{Query: true, SQL: fmt.Sprintf(
			"SELECT count(*) OVER (), sum(n) OVER (), n, k FROM (SELECT %s AS k, count(*) AS n FROM %s WHERE %s GROUP BY %s HAVING count(*) > 1) LIMIT %d",
			c.sample, qi(c.table), cond, c.group, maxPreflightSamples), Args: c.args}
	}
	return database.Stmt{Query: true, SQL: fmt.Sprintf("SELECT count(*) OVER (), %s FROM %s WHERE %s LIMIT %d",
		c.sample, qi(c.table), cond, maxPreflightSamples), Args: c.args}
}

// DataCheck is a caller's pre-flight check (say, seed records an app inserts): Cond (with Args) selects the
// offending rows of Table, which must have Columns when read (else there are no rows to offend); Shown is the
// column whose value names a sample; Describe words the failure for a count.
type DataCheck struct {
	Rule          PreflightRule
	Object, Field string
	Table         string
	Columns       []string
	Cond          string
	Args          []any
	Shown         string
	Describe      func(count int64) string
}

// AddDataCheck adds a caller's check to the plan's pre-flight: it runs in the same read as the plan's own.
func (p *Plan) AddDataCheck(c DataCheck) {
	p.checks = append(p.checks, preflightCheck{rule: c.Rule, object: c.Object, field: c.Field, table: c.Table,
		columns: c.Columns, cond: c.Cond, args: c.Args, sample: fmt.Sprintf("'%s=' || quote(%s)", c.Shown, qi(c.Shown)),
		describe: func(n, _ int64) string { return c.Describe(n) }})
}

// recheck is the statement the apply runs inside its transaction, before the migration, for a type change the
// pre-flight found lossless: rows written since the plan can never be altered silently.
type recheck struct {
	label, message string
	stmt           database.Stmt
}

// rowKey is how a sample row is named: by its primary key when it has one, else by rowid.
func rowKey(ct *table) string {
	for _, c := range ct.Columns {
		if c.PK {
			return fmt.Sprintf("'%s=' || quote(%s)", c.Name, qi(c.Name))
		}
	}
	return "'rowid=' || rowid"
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// survivesCast is the condition under which a non-NULL value of col keeps its value through CAST(col AS to):
// the comparison applies the cast's numeric affinity to the stored value, so '12' → 12 survives, 'abc' → 0 and
// 1.5 → 1 do not.
func survivesCast(col, to string) string {
	return fmt.Sprintf("CAST(%s AS %s) = %s", qi(col), to, qi(col))
}

// preflightColumn records the checks a changed column needs: NULLs in a column becoming required without a
// default, values a lossy type change would alter, values a new reference would not find.
func (pl *planner) preflightColumn(objName, field string, ct *table, old *column, c column) {
	tn := ct.Name
	col := qi(c.Name)
	if c.NotNull && !old.NotNull && c.Default == nil {
		pl.p.checks = append(pl.p.checks, preflightCheck{rule: RuleRequired, object: objName, field: field, table: tn,
			columns: []string{c.Name}, cond: col + " IS NULL", sample: rowKey(ct),
			describe: func(n, _ int64) string {
				return fmt.Sprintf("%d row(s) of table %s have no value in column %s, which becomes required without a defaultValue; the apply would fail — fill them or add a defaultValue",
					n, tn, c.Name)
			}})
	}
	if affinity(old.Type) != affinity(c.Type) && lossyTypeChange(old.Type, c.Type) {
		pl.p.checks = append(pl.p.checks, preflightCheck{rule: RuleTypeChange, object: objName, field: field, table: tn,
			columns: []string{c.Name}, cond: fmt.Sprintf("%s IS NOT NULL AND NOT (%s)", col, survivesCast(c.Name, c.Type)),
			sample:   rowKey(ct) + fmt.Sprintf(" || ' %s=' || quote(%s)", c.Name, col),
			castFrom: old.Type, castTo: c.Type,
			describe: func(n, _ int64) string {
				return fmt.Sprintf("%d value(s) of column %s.%s would not survive the cast %s → %s", n, tn, c.Name, old.Type, c.Type)
			}})
	}
	if c.Ref != nil && (old.Ref == nil || old.Ref.Table != c.Ref.Table || old.Ref.Column != c.Ref.Column) {
		ref := *c.Ref
		pl.p.checks = append(pl.p.checks, preflightCheck{rule: RuleForeignKey, object: objName, field: field, table: tn,
			columns: []string{c.Name}, parent: ref.Table,
			cond:   fmt.Sprintf("%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s AS p WHERE p.%s = %s.%s)", col, qi(ref.Table), qi(ref.Column), qi(tn), col),
			sample: rowKey(ct) + fmt.Sprintf(" || ' %s=' || quote(%s)", c.Name, col),
			describe: func(n, _ int64) string {
				return fmt.Sprintf("%d row(s) of table %s reference a %s row that does not exist (%s.%s → %s.%s); the apply's foreign key check would fail",
					n, tn, ref.Table, tn, c.Name, ref.Table, ref.Column)
			}})
	}
}

// preflightIndexes records a duplicate-key check for each unique index that is new on an existing table or
// widened (made unique, given other columns, or stripped of its WHERE).
func (pl *planner) preflightIndexes(objName string, dt, ct *table) {
	for _, ix := range dt.Indexes {
		if !ix.Unique {
			continue
		}
		if old, ok := ct.index(ix.Name); ok && old.equal(ix) {
			continue
		}
		var cols, conds, shown []string
		known := true
		for _, cn := range ix.Columns {
			if _, ok := ct.column(cn); !ok {
				known = false // a column the plan adds: its values are the default, checked by the apply itself
			}
			cols = append(cols, qi(cn))
			conds = append(conds, qi(cn)+" IS NOT NULL") // NULLs never collide in a unique index
			shown = append(shown, fmt.Sprintf("'%s=' || quote(%s)", cn, qi(cn)))
		}
		if !known {
			continue
		}
		if ix.Where != "" {
			conds = append(conds, "("+ix.Where+")")
		}
		field := fieldOfColumn(dt, nil, ix.Columns[0])
		tn, name, on := ct.Name, ix.Name, strings.Join(ix.Columns, ", ")
		pl.p.checks = append(pl.p.checks, preflightCheck{rule: RuleUnique, object: objName, field: field, table: tn,
			columns: ix.Columns, cond: strings.Join(conds, " AND "), group: strings.Join(cols, ", "),
			sample: strings.Join(shown, " || ', ' || "),
			describe: func(n, rows int64) string {
				return fmt.Sprintf("%d duplicate key(s) (%d rows) in table %s would fail the new unique index %s on (%s)", n, rows, tn, name, on)
			}})
	}
}

// Preflight checks the data each plan would touch, in ONE read of db (the database the plans' States were
// read from) — and in none when no plan touches existing rows. It fills each plan's Preflight report. A type
// change every value survives stops being a lossy_type_change (the apply re-checks it inside its transaction);
// a lossy one keeps its destructive change, with the count and samples in its message. When the data would
// make an apply fail, the result is a *PreflightError naming every failure (owner, object, field, rule, count,
// samples). A plan is checked once; plans made inside a legacy transaction (no State) are skipped.
func Preflight(ctx context.Context, db *sql.DB, plans ...*Plan) error {
	type pending struct {
		p *Plan
		c *preflightCheck
	}
	var todo []pending
	var stmts []database.Stmt
	for _, p := range plans {
		if p == nil || p.Preflight != nil || p.state == nil {
			continue
		}
		p.Preflight = &PreflightReport{Failures: []PreflightFinding{}}
		read := p.state.read().cur
		for i := range p.checks {
			c := &p.checks[i]
			ct, ok := read.Tables[c.table]
			if !ok {
				continue // made by an earlier owner of the same revision: no rows yet
			}
			have := true
			for _, cn := range c.columns {
				if _, ok := ct.column(cn); !ok {
					have = false
				}
			}
			if !have {
				continue
			}
			_, parentExists := read.Tables[c.parent]
			todo = append(todo, pending{p, c})
			stmts = append(stmts, c.query(parentExists))
		}
	}
	if len(stmts) == 0 {
		return nil
	}
	res, err := database.For(db).Read(ctx, stmts)
	if err != nil {
		return fmt.Errorf("pre-flight: %w", err)
	}
	var failures []PreflightFinding
	for i, t := range todo {
		p, c := t.p, t.c
		p.Preflight.Checks++
		r := res[i]
		if r.Err != nil {
			return fmt.Errorf("pre-flight %s: %s %s.%s: %w", p.Owner, c.rule, c.object, c.field, r.Err)
		}
		f := PreflightFinding{Owner: p.Owner, Rule: c.rule, Object: c.object, Field: c.field, Table: c.table}
		for _, row := range r.Rows {
			f.Count = asInt(row[0])
			f.Samples = append(f.Samples, asString(row[len(row)-1]))
		}
		var rows int64 // unique: the rows sharing a duplicated key
		if c.group != "" {
			for j, row := range r.Rows {
				rows = asInt(row[1])
				f.Samples[j] = fmt.Sprintf("%s (%d rows)", f.Samples[j], asInt(row[2]))
			}
		}
		switch {
		case c.rule == RuleTypeChange && f.Count == 0:
			f.Message = fmt.Sprintf("every value of column %s.%s survives the cast %s → %s: not a lossy change for this data; the apply re-checks it inside its transaction",
				c.table, c.columnName(), c.castFrom, c.castTo)
			p.Preflight.Lossless = append(p.Preflight.Lossless, f)
			if i := p.lossyChange(c); i >= 0 {
				p.Destructive[i].Kind = "" // dropped below
			}
			p.rechecks = append(p.rechecks, recheck{
				label:   fmt.Sprintf("pre-flight re-check of %s.%s", c.object, c.field),
				message: fmt.Sprintf("rows written since the plan hold values of %s.%s that would not survive the cast %s → %s (lossy_type_change); plan again", c.table, c.columnName(), c.castFrom, c.castTo),
				stmt:    database.Stmt{SQL: fmt.Sprintf("SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE %s) THEN json('objectstack: lossy cast') ELSE 1 END", qi(c.table), c.cond)},
			})
		case c.rule == RuleTypeChange:
			f.Message = c.describe(f.Count, 0) + ", e.g. " + strings.Join(f.Samples, "; ")
			p.Preflight.Lossy = append(p.Preflight.Lossy, f)
			if i := p.lossyChange(c); i >= 0 {
				p.Destructive[i].Message += fmt.Sprintf("; the data has %d such value(s), e.g. %s", f.Count, strings.Join(f.Samples, "; "))
			}
		case f.Count > 0:
			f.Message = c.describe(f.Count, rows) + ", e.g. " + strings.Join(f.Samples, "; ")
			p.Preflight.Failures = append(p.Preflight.Failures, f)
			failures = append(failures, f)
		}
	}
	for _, p := range plans {
		if p != nil {
			p.checks = nil
			p.compactDestructive()
		}
	}
	if len(failures) > 0 {
		return &PreflightError{Failures: failures}
	}
	return nil
}

func (c *preflightCheck) columnName() string { return c.columns[0] }

// lossyChange is the index of the lossy_type_change entry check c is about (-1 when none).
func (p *Plan) lossyChange(c *preflightCheck) int {
	for i, d := range p.Destructive {
		if d.Kind == LossyTypeChange && d.Object == c.object && d.Field == c.field {
			return i
		}
	}
	return -1
}

// compactDestructive drops the destructive changes the pre-flight cleared; the plan is breaking only while
// destructive changes remain.
func (p *Plan) compactDestructive() {
	kept := p.Destructive[:0]
	for _, d := range p.Destructive {
		if d.Kind != "" {
			kept = append(kept, d)
		}
	}
	if len(kept) == len(p.Destructive) {
		return
	}
	p.Destructive = kept
	// Constraints a rebuild drops are drop_constraint changes: no destructive change left means not breaking.
	p.Diff.HasBreakingChanges = len(kept) > 0
}

// AsPreflightError returns the pre-flight failure err is or wraps.
func AsPreflightError(err error) (*PreflightError, bool) {
	var pe *PreflightError
	ok := errors.As(err, &pe)
	return pe, ok
}
