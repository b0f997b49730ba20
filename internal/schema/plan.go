package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// PlanOptions is reserved for future planning switches.
type PlanOptions struct{}

// Plan is the migration of one owner's objects against one database, as of one introspection.
type Plan struct {
	Owner       Owner               `json:"owner"`
	Checksum    string              `json:"checksum"` // checksum of the desired object set (see OwnerChecksum)
	Diff        DeployDiff          `json:"diff"`
	Migration   MigrationPlan       `json:"migrationPlan"`
	Destructive []DestructiveChange `json:"destructive"`
	UpToDate    bool                `json:"upToDate"`
	// Preflight is what the data said (see Preflight); nil until Preflight ran.
	Preflight *PreflightReport `json:"preflight,omitempty"`

	base         string            // fingerprint of schema + registry the plan was made against
	objects      []bundle.Object   // desired objects
	checksums    map[string]string // desired object name → checksum
	tables       map[string]string // desired object name → table ("" for abstract objects)
	previousJSON []byte            // the owner's registered objects when planned, as a JSON array
	fkCheck      []string          // tables whose foreign keys Apply verifies
	want         map[string]*table // the owner's tables as they will be (State.After)
	dropTables   []string          // tables the plan drops
	cascadeRisk  []string          // what dropping would cascade into were foreign keys enforced
	registered   []registryRow     // the owner's registry rows when planned
	state        *State            // what the plan was made from (nil for plans made inside a legacy transaction)
	checks       []preflightCheck  // data checks Preflight runs (preflight.go)
	rechecks     []recheck         // conditions the apply re-checks in its transaction (preflight.go)
	renamedCur   *dbSchema         // the schema as the plan's renames leave it (nil without renames), for State.After
}

// Compact drops what only planning needed (the State's schema and registry rows, the desired tables, stored
// definitions) and keeps what applying the plan needs; see State.Compact. A compacted plan cannot seed
// State.After.
func (p *Plan) Compact() {
	if p.state != nil {
		p.state = p.state.Compact()
	}
	p.want = nil
	p.renamedCur = nil
	for i := range p.registered {
		p.registered[i].Definition = nil
	}
}

// State is the State the plan was made from (nil for a plan made inside a legacy transaction).
func (p *Plan) State() *State { return p.state }

// Objects returns the desired objects the plan converges to.
func (p *Plan) Objects() []bundle.Object { return p.objects }

// ConflictError is returned when the desired objects include objects (or tables) another owner holds.
type ConflictError struct {
	Conflicts []Conflict
}

// Conflict is one object claimed by two owners.
type Conflict struct {
	Object string
	Owner  Owner // the current owner
}

func (e *ConflictError) Error() string {
	parts := make([]string, 0, len(e.Conflicts))
	for _, c := range e.Conflicts {
		parts = append(parts, fmt.Sprintf("object_conflict: object %s is owned by %s", c.Object, c.Owner))
	}
	return strings.Join(parts, "; ")
}

// PlanError is a planning failure caused by the desired objects (for example a required field added
// to an existing table without a default). Object/Field name the culprit.
type PlanError struct {
	Object, Field, Message string
}

func (e *PlanError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s.%s: %s", e.Object, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Object, e.Message)
}

// PlanOwner introspects db (one query for the schema, one for the registry), diffs it against objects —
// the complete desired object set of owner — and generates the migration.
func PlanOwner(ctx context.Context, db *sql.DB, owner Owner, objects []bundle.Object, _ PlanOptions) (*Plan, error) {
	if owner.Kind() != "bundle" && owner.Kind() != "app" || owner.Name() == "" {
		return nil, fmt.Errorf("plan: owner %q is not bundle:<name> or app:<name>", owner)
	}
	st, err := ReadState(ctx, db, ReadOptions{Owners: []Owner{owner}})
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", owner, err)
	}
	return st.Plan(owner, objects)
}

func readState(ctx context.Context, q queryer, owner Owner) (*dbSchema, []registryRow, error) {
	cur, err := introspect(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	var reg []registryRow
	if cur.HasRegistry {
		if reg, err = readRegistry(ctx, q, owner); err != nil {
			return nil, nil, err
		}
	}
	return cur, reg, nil
}

// baseFingerprint hashes the introspected schema and every owner's registry rows: what a plan depends on.
func baseFingerprint(cur *dbSchema, reg []registryRow) string {
	h := sha256.New()
	h.Write([]byte(cur.Fingerprint))
	for _, r := range reg {
		fmt.Fprintf(h, "\n%s\x00%s\x00%s\x00%s", r.Owner, r.Name, r.Table, r.Checksum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Statement phases: protocol §4 Rec. order.
const (
	phaseCreateTable = 10
	phaseAddColumn   = 20
	phaseDropViews   = 29
	phaseRebuild     = 30
	phaseRecreate    = 31
	phaseIndexes     = 40
	phaseDropIndex   = 50
	phaseDropColumn  = 60
	phaseDropTable   = 70
)

type draft struct {
	phase int
	MigrationStatement
}

type planner struct {
	owner   Owner
	cur     *dbSchema
	p       *Plan
	stmts   []draft
	changes []SchemaChange
	errs    []error
	fkCheck map[string]bool
	views   map[string]bool // views dropped for a rebuild
	// Triggers set aside for a rebuild: dropped (those on other tables that mention a rebuilt table) and
	// recreated, each at most once however many of the tables involved are rebuilt.
	triggersDropped, triggersRecreated map[string]bool
	// lostConstraints is set when a rebuild drops constraints of an adopted table: a drop_constraint change
	// (uniqueness or checks stop being enforced).
	lostConstraints bool
	// renamedTables holds the tables a rename touched (new name → old name; the same name for a column rename);
	// nil until the first rename, when cur becomes the planner's own copy (see planRenames).
	renamedTables map[string]string
}

func (pl *planner) emit(phase int, kind, object, sqlText string, rollback string, reversible bool) {
	pl.stmts = append(pl.stmts, draft{phase, MigrationStatement{SQL: sqlText, Kind: kind, Object: object, RollbackSQL: rollback, Reversible: reversible}})
}

func (pl *planner) change(entity, name, parent, kind string, old, new any) {
	pl.changes = append(pl.changes, SchemaChange{EntityType: entity, EntityName: name, ParentEntity: parent, ChangeType: kind, OldValue: old, NewValue: new})
}

func (pl *planner) destructive(kind DestructiveKind, object, field, msg string) {
	pl.p.Destructive = append(pl.p.Destructive, DestructiveChange{Kind: kind, Object: object, Field: field, Message: msg})
}

func buildPlan(owner Owner, objects []bundle.Object, cur *dbSchema, reg []registryRow) (*Plan, error) {
	return buildPlanRenaming(owner, objects, cur, reg, nil)
}

// buildPlanRenaming plans like buildPlan, carrying out extra renames besides those the objects declare.
func buildPlanRenaming(owner Owner, objects []bundle.Object, cur *dbSchema, reg []registryRow, extra []rename) (*Plan, error) {
	p := &Plan{Owner: owner, base: baseFingerprint(cur, reg), checksums: map[string]string{}, tables: map[string]string{}}
	pl := &planner{owner: owner, cur: cur, p: p, fkCheck: map[string]bool{}, views: map[string]bool{},
		triggersDropped: map[string]bool{}, triggersRecreated: map[string]bool{}}

	desired := map[string]*bundle.Object{}
	for i := range objects {
		o := &objects[i]
		if err := checkIdent("object name", o.Name); err != nil {
			return nil, err
		}
		if _, dup := desired[o.Name]; dup {
			return nil, fmt.Errorf("object %s is declared twice", o.Name)
		}
		desired[o.Name] = o
		sum, err := objectChecksum(*o)
		if err != nil {
			return nil, err
		}
		p.checksums[o.Name] = sum
		if !o.Abstract {
			p.tables[o.Name] = o.Table()
		}
	}
	p.objects = objects
	p.Checksum = setChecksum(p.checksums)

	// Renames first: the rest of the plan is made against the schema and registry as they leave them. The
	// fingerprint above is of the database as read, which is what the apply re-checks.
	realReg := reg
	reg, err := pl.planRenames(desired, reg, extra)
	if err != nil {
		return nil, err
	}
	cur = pl.cur
	if pl.renamedTables != nil {
		p.renamedCur = cur
	}

	// Registry: who owns what.
	regByName := map[string]registryRow{}
	tableClaim := map[string]registryRow{}
	prevPairs := map[string]string{} // the owner's registered objects: name → checksum
	var prevRaw [][]byte
	for _, r := range reg {
		regByName[r.Name] = r
		if r.Table != "" {
			if _, ok := tableClaim[r.Table]; !ok || r.Owner != string(owner) {
				tableClaim[r.Table] = r
			}
		}
		if r.Owner == string(owner) {
			p.registered = append(p.registered, r)
			prevPairs[r.Name] = r.Checksum
			prevRaw = append(prevRaw, r.Definition)
		}
	}
	p.previousJSON = joinJSON(prevRaw)
	if pl.renamedTables != nil {
		// The registry writes compare with the rows as stored, under their old names.
		p.registered = p.registered[:0:0]
		for _, r := range realReg {
			if r.Owner == string(owner) {
				p.registered = append(p.registered, r)
			}
		}
	}
	// Stored definitions are decoded only for objects whose checksum changed: decoding all of them
	// would dominate the cost of planning a large, mostly unchanged bundle.
	prevCache := map[string]*bundle.Object{}
	prevDef := func(name string) (*bundle.Object, error) {
		if d, ok := prevCache[name]; ok {
			return d, nil
		}
		d, err := decodeObject(regByName[name].Definition)
		if err != nil {
			return nil, fmt.Errorf("registered object %s: %w", name, err)
		}
		prevCache[name] = &d
		return &d, nil
	}
	var conflicts []Conflict
	desiredTables := map[string]string{} // table → object
	for _, name := range sortedKeys(desired) {
		o := desired[name]
		if r, ok := regByName[name]; ok && r.Owner != string(owner) {
			conflicts = append(conflicts, Conflict{Object: name, Owner: Owner(r.Owner)})
			continue
		}
		if o.Abstract {
			continue
		}
		t := o.Table()
		if r, ok := tableClaim[t]; ok && r.Owner != string(owner) {
			conflicts = append(conflicts, Conflict{Object: name, Owner: Owner(r.Owner)})
			continue
		}
		if other, dup := desiredTables[t]; dup {
			return nil, fmt.Errorf("objects %s and %s both map to table %s", other, name, t)
		}
		desiredTables[t] = name
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Conflicts: conflicts}
	}

	// Tables this owner held that are no longer desired are dropped, so they are not valid FK targets.
	dropping := map[string]string{} // table → object
	for _, name := range sortedKeys(prevPairs) {
		t := regByName[name].Table
		if t == "" { // abstract
			continue
		}
		if _, still := desiredTables[t]; !still {
			dropping[t] = name
		}
	}
	resolve := func(ref string) (string, bool) {
		if o, ok := desired[ref]; ok {
			if o.Abstract {
				return "", false
			}
			return o.Table(), true
		}
		if r, ok := regByName[ref]; ok && r.Owner != string(owner) {
			if _, exists := cur.Tables[r.Table]; exists {
				return r.Table, true
			}
			return "", false
		}
		if _, exists := cur.Tables[ref]; exists {
			if _, drop := dropping[ref]; !drop {
				if _, claimed := tableClaim[ref]; !claimed || tableClaim[ref].Owner == string(owner) {
					return ref, true
				}
			}
		}
		return "", false
	}

	want := map[string]*table{}
	for _, t := range sortedKeys(desiredTables) {
		dt, err := desiredTable(desired[desiredTables[t]], resolve)
		if err != nil {
			return nil, err
		}
		want[t] = dt
	}
	if err := checkIndexNames(want, cur); err != nil {
		return nil, err
	}
	p.want = want

	// Creates and alterations, tables in dependency order (referenced first).
	for _, tn := range topoOrder(want) {
		dt := want[tn]
		o := desired[dt.Object]
		ct := cur.Tables[tn]
		if ct == nil {
			pl.createTable(dt)
			continue
		}
		var prev *bundle.Object
		if sum, ok := prevPairs[dt.Object]; ok && sum != p.checksums[dt.Object] {
			var err error
			if prev, err = prevDef(dt.Object); err != nil {
				return nil, err
			}
		}
		pl.alterTable(o, prev, dt, ct)
		pl.hintRenames(o, prev, dt, ct)
	}

	// Metadata-only changes (abstract objects, formula fields, labels, options...).
	for _, name := range sortedKeys(desired) {
		o := desired[name]
		sum, ok := prevPairs[name]
		if !ok {
			if o.Abstract {
				pl.change(EntityObject, name, "", ChangeAdded, nil, objectSummary(o, nil))
			}
			continue
		}
		if sum == p.checksums[name] {
			continue
		}
		prev, err := prevDef(name)
		if err != nil {
			return nil, err
		}
		pl.metadataChanges(prev, o, want[p.tables[name]])
	}

	// Objects the owner no longer declares, and tables it no longer wants (objects turned abstract).
	for _, name := range sortedKeys(prevPairs) {
		if _, ok := desired[name]; !ok {
			pl.change(EntityObject, name, "", ChangeRemoved, objectInfo{Table: regByName[name].Table}, nil)
		}
	}
	for _, t := range sortedKeys(dropping) {
		name := dropping[t]
		if _, exists := cur.Tables[t]; !exists {
			continue
		}
		if o, ok := desired[name]; ok && !pl.hasObjectChange(name) {
			pl.change(EntityObject, name, "", ChangeModified, objectInfo{Table: t}, objectSummary(o, nil))
		}
		pl.emit(phaseDropTable, KindDropTable, t, "DROP TABLE "+qi(t), "", false)
		msg := fmt.Sprintf("drop table %s of object %s and all its rows", t, name)
		// This plan rebuilds its own referencing tables without the foreign key; tables of other owners
		// (or unmanaged ones) keep a REFERENCES to a missing table, which fails every write to them on a
		// connection that enforces foreign keys, so whoever allows the drop has to see them.
		var broken []string
		for _, cn := range sortedKeys(cur.Tables) {
			if _, mine := want[cn]; mine || dropping[cn] != "" {
				continue
			}
			holder := "unmanaged"
			if r, ok := tableClaim[cn]; ok {
				holder = r.Owner
			}
			for _, c := range cur.Tables[cn].Columns {
				if c.Ref != nil && c.Ref.Table == t {
					broken = append(broken, fmt.Sprintf("%s.%s (%s)", cn, c.Name, holder))
				}
			}
		}
		if len(broken) > 0 {
			msg += fmt.Sprintf("; %s still reference it: writes to them fail while foreign keys are enforced until their owners drop the reference", strings.Join(broken, ", "))
		}
		pl.destructive(DropTable, name, "", msg)
	}

	pl.hintObjectRenames(want)
	if len(pl.errs) > 0 {
		return nil, errors.Join(pl.errs...)
	}

	sort.SliceStable(pl.stmts, func(i, j int) bool { return pl.stmts[i].phase < pl.stmts[j].phase })
	p.Migration = MigrationPlan{Dialect: "sqlite", Reversible: true, Statements: make([]MigrationStatement, 0, len(pl.stmts))}
	for i, d := range pl.stmts {
		s := d.MigrationStatement
		s.Order = i
		if !s.Reversible {
			p.Migration.Reversible = false
		}
		p.Migration.Statements = append(p.Migration.Statements, s)
		p.Migration.EstimatedDurationMs += 2
		if s.Kind == KindRebuild {
			p.Migration.EstimatedDurationMs += 20
		}
	}
	p.Diff.Changes = pl.changes
	if p.Diff.Changes == nil {
		p.Diff.Changes = []SchemaChange{}
	}
	for _, c := range pl.changes {
		switch c.ChangeType {
		case ChangeAdded:
			p.Diff.Summary.Added++
		case ChangeModified:
			p.Diff.Summary.Modified++
		case ChangeRemoved:
			p.Diff.Summary.Removed++
		}
	}
	if p.Destructive == nil {
		p.Destructive = []DestructiveChange{}
	}
	p.Diff.HasBreakingChanges = len(p.Destructive) > 0 || pl.lostConstraints
	for t := range pl.fkCheck {
		if _, drop := dropping[t]; drop {
			delete(pl.fkCheck, t)
		}
	}
	p.fkCheck = sortedKeys(pl.fkCheck)
	for _, t := range sortedKeys(dropping) {
		if _, exists := cur.Tables[t]; exists {
			p.dropTables = append(p.dropTables, t)
		}
	}
	p.cascadeRisk = cascadingDrops(p, cur)
	p.UpToDate = len(p.Migration.Statements) == 0 && setChecksum(prevPairs) == p.Checksum
	return p, nil
}

// checkIndexNames refuses index names that cannot all exist at once: SQLite keeps one index namespace per
// database, while generated names join table and column with "_" (a.b_c and a_b.c both give idx_a_b_c) and
// other owners' or unmanaged tables may already hold a name. Such a plan would only fail at apply.
func checkIndexNames(want map[string]*table, cur *dbSchema) error {
	byName := map[string]string{} // index name → table
	for _, tn := range sortedKeys(want) {
		for _, ix := range want[tn].Indexes {
			if other, dup := byName[ix.Name]; dup {
				return &PlanError{Object: want[tn].Object, Message: fmt.Sprintf("index %s of table %s is also the index name of table %q (index names are unique per database); name one of them explicitly", ix.Name, tn, other)}
			}
			byName[ix.Name] = tn
		}
	}
	// Tables this plan does not manage keep their indexes; a table it drops loses them only after the
	// index phase, so both count.
	for _, tn := range sortedKeys(cur.Tables) {
		if _, managed := want[tn]; managed {
			continue
		}
		for _, ix := range cur.Tables[tn].Indexes {
			if wt, clash := byName[ix.Name]; clash {
				return &PlanError{Object: want[wt].Object, Message: fmt.Sprintf("index %s of table %s already exists on table %q (index names are unique per database); name the index explicitly", ix.Name, wt, tn)}
			}
		}
	}
	return nil
}

// topoOrder orders tables so that a referenced table comes before the tables referencing it; cycles
// (allowed, since SQLite resolves REFERENCES lazily) fall back to name order.
func topoOrder(want map[string]*table) []string {
	var out []string
	state := map[string]int{}
	var visit func(string)
	visit = func(n string) {
		if state[n] != 0 {
			return
		}
		state[n] = 1
		for _, c := range want[n].Columns {
			if c.Ref != nil && c.Ref.Table != n {
				if _, ok := want[c.Ref.Table]; ok {
					visit(c.Ref.Table)
				}
			}
		}
		state[n] = 2
		out = append(out, n)
	}
	for _, n := range sortedKeys(want) {
		visit(n)
	}
	return out
}

// TableDefinition is the old and new value of the object change a rebuild reports when the current table
// has hand-written constraints (see handWrittenConstraints) the rebuilt table will not have.
type TableDefinition struct {
	Table              string   `json:"table"`
	DroppedConstraints []string `json:"droppedConstraints,omitempty"`
	SQL                string   `json:"sql"`
}

type objectInfo struct {
	Table   string   `json:"table,omitempty"`
	Columns []column `json:"columns,omitempty"`
	Indexes []string `json:"indexes,omitempty"`
}

func objectSummary(o *bundle.Object, t *table) objectInfo {
	if t == nil {
		if o.Abstract {
			return objectInfo{}
		}
		return objectInfo{Table: o.Table()}
	}
	info := objectInfo{Table: t.Name, Columns: t.Columns}
	for _, ix := range t.Indexes {
		info.Indexes = append(info.Indexes, ix.SQL)
	}
	return info
}

func (pl *planner) hasObjectChange(name string) bool {
	for _, c := range pl.changes {
		if c.EntityType == EntityObject && c.EntityName == name {
			return true
		}
	}
	return false
}

func (pl *planner) createTable(dt *table) {
	pl.change(EntityObject, dt.Object, "", ChangeAdded, nil, objectSummary(nil, dt))
	pl.emit(phaseCreateTable, KindCreateTable, dt.Name, dt.createSQL(dt.Name), "DROP TABLE "+qi(dt.Name), true)
	for _, ix := range dt.Indexes {
		pl.emit(phaseIndexes, KindCreateIndex, dt.Name, ix.SQL, "DROP INDEX "+qi(ix.Name), true)
	}
}

// fieldOfColumn names the field a column belongs to, for changes and errors.
func fieldOfColumn(dt *table, prev *bundle.Object, col string) string {
	if c, ok := dt.column(col); ok && c.Field != "" {
		return c.Field
	}
	if prev != nil {
		for _, f := range prev.Fields {
			if f.Column() == col {
				return f.Key
			}
		}
	}
	return col
}

func mentions(sqlText, name string) bool {
	return strings.Contains(strings.ToLower(sqlText), strings.ToLower(name))
}

func (pl *planner) alterTable(o *bundle.Object, prev *bundle.Object, dt, ct *table) {
	tn := dt.Name
	rebuild := false
	var adds []column
	var drops []column
	copyExpr := map[string]string{}

	for _, c := range dt.Columns {
		old, ok := ct.column(c.Name)
		if !ok {
			pl.change(EntityField, fieldOfColumn(dt, prev, c.Name), o.Name, ChangeAdded, nil, c)
			if c.NotNull && c.Default == nil {
				pl.errs = append(pl.errs, &PlanError{Object: o.Name, Field: fieldOfColumn(dt, prev, c.Name),
					Message: fmt.Sprintf("required field added to existing table %s without a defaultValue; existing rows would have no value — add a defaultValue, or add the field as optional first", tn)})
				continue
			}
			adds = append(adds, c)
			if c.PK || (c.Default != nil && strings.HasPrefix(*c.Default, "(")) || (c.Ref != nil && c.Default != nil) {
				rebuild = true
			}
			if c.Ref != nil {
				pl.fkCheck[tn] = true
			}
			continue
		}
		expr := qi(c.Name)
		if !old.equal(c) {
			pl.change(EntityField, fieldOfColumn(dt, prev, c.Name), o.Name, ChangeModified, *old, c)
			rebuild = true
			if affinity(old.Type) != affinity(c.Type) {
				expr = fmt.Sprintf("CAST(%s AS %s)", expr, c.Type)
				if lossyTypeChange(old.Type, c.Type) {
					pl.destructive(LossyTypeChange, o.Name, fieldOfColumn(dt, prev, c.Name),
						fmt.Sprintf("column %s.%s changes type %s → %s; values that do not convert are changed by CAST", tn, c.Name, old.Type, c.Type))
				}
			}
			if c.NotNull && !old.NotNull && c.Default != nil {
				expr = fmt.Sprintf("COALESCE(%s, %s)", expr, *c.Default)
			}
			if c.Ref != nil {
				pl.fkCheck[tn] = true
			}
			pl.preflightColumn(o.Name, fieldOfColumn(dt, prev, c.Name), ct, old, c)
		}
		copyExpr[c.Name] = expr
	}
	for _, old := range ct.Columns {
		if _, ok := dt.column(old.Name); ok {
			continue
		}
		f := fieldOfColumn(dt, prev, old.Name)
		pl.change(EntityField, f, o.Name, ChangeRemoved, old, nil)
		pl.destructive(DropColumn, o.Name, f, fmt.Sprintf("drop column %s.%s and its values", tn, old.Name))
		drops = append(drops, old)
		native := !old.PK && old.Ref == nil && !ct.constraintCols[old.Name] && len(ct.triggers) == 0
		for _, v := range pl.cur.Views {
			if mentions(v.SQL, tn) {
				native = false
			}
		}
		for _, ix := range dt.Indexes {
			if ix.Where != "" && mentions(ix.Where, old.Name) {
				native = false
			}
		}
		if !native {
			rebuild = true
		}
	}

	// Indexes.
	var createIx, dropIx []index
	var modifiedIx []index
	for _, ix := range dt.Indexes {
		old, ok := ct.index(ix.Name)
		switch {
		case !ok:
			pl.change(EntityIndex, ix.Name, o.Name, ChangeAdded, nil, ix.SQL)
			createIx = append(createIx, ix)
		case !old.equal(ix):
			pl.change(EntityIndex, ix.Name, o.Name, ChangeModified, old.SQL, ix.SQL)
			modifiedIx = append(modifiedIx, *old)
			createIx = append(createIx, ix)
		}
	}
	for _, old := range ct.Indexes {
		if _, ok := dt.index(old.Name); !ok {
			pl.change(EntityIndex, old.Name, o.Name, ChangeRemoved, old.SQL, nil)
			dropIx = append(dropIx, old)
		}
	}

	pl.preflightIndexes(o.Name, dt, ct)
	if rebuild {
		pl.rebuild(dt, ct, copyExpr)
		for _, ix := range dt.Indexes {
			pl.emit(phaseIndexes, KindCreateIndex, tn, ix.SQL, "DROP INDEX "+qi(ix.Name), true)
		}
		// Tables referencing the rebuilt one are re-verified too.
		for name, t := range pl.cur.Tables {
			for _, c := range t.Columns {
				if c.Ref != nil && c.Ref.Table == tn {
					pl.fkCheck[name] = true
				}
			}
		}
		return
	}
	for _, c := range adds {
		rb := fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", qi(tn), qi(c.Name))
		pl.emit(phaseAddColumn, KindAddColumn, tn, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", qi(tn), c.sql()), rb, c.Ref == nil)
	}
	for _, old := range modifiedIx {
		pl.emit(phaseIndexes, KindDropIndex, tn, "DROP INDEX "+qi(old.Name), old.SQL, old.SQL != "")
	}
	for _, ix := range createIx {
		pl.emit(phaseIndexes, KindCreateIndex, tn, ix.SQL, "DROP INDEX "+qi(ix.Name), true)
	}
	for _, old := range dropIx {
		pl.emit(phaseDropIndex, KindDropIndex, tn, "DROP INDEX "+qi(old.Name), old.SQL, old.SQL != "")
	}
	for _, old := range drops {
		pl.emit(phaseDropColumn, KindDropColumn, tn, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", qi(tn), qi(old.Name)), "", false)
	}
}

// rebuild emits SQLite's generalized ALTER procedure (protocol §4): views that mention the table are
// dropped first and recreated after every rebuild; the new table is filled with CAST/COALESCE copies;
// the old one is dropped before the new one is renamed (never the other way round, or other tables'
// REFERENCES would follow the rename); triggers are recreated; indexes come in the index phase.
func (pl *planner) rebuild(dt, ct *table, copyExpr map[string]string) {
	pl.checkRebuildAfterRename(dt)
	tn := dt.Name
	tmp := "_new_" + tn
	for _, v := range pl.cur.Views {
		if mentions(v.SQL, tn) && !pl.views[v.Name] {
			pl.views[v.Name] = true
			pl.emit(phaseDropViews, KindDropView, v.Name, "DROP VIEW "+qi(v.Name), v.SQL, true)
			pl.emit(phaseRecreate, KindCreateView, v.Name, v.SQL, "DROP VIEW "+qi(v.Name), true)
		}
	}
	// A trigger on another table naming this one breaks the RENAME below ("error in trigger: no such
	// table") once the old table is dropped, exactly like a view; its own table keeps it otherwise.
	for _, on := range sortedKeys(pl.cur.Tables) {
		if on == tn {
			continue
		}
		for _, tr := range pl.cur.Tables[on].triggers {
			if !mentions(tr.SQL, tn) {
				continue
			}
			if !pl.triggersDropped[tr.Name] {
				pl.triggersDropped[tr.Name] = true
				pl.emit(phaseDropViews, KindDropTrigger, on, "DROP TRIGGER "+qi(tr.Name), tr.SQL, true)
			}
			pl.recreateTrigger(on, tr)
		}
	}
	if lost := handWrittenConstraints(ct.sql); len(lost) > 0 {
		// The new table is built from the declared fields only, so clauses written by hand before the
		// table was adopted cannot survive; say so rather than drop them unseen.
		pl.change(EntityObject, dt.Object, "", ChangeModified,
			TableDefinition{Table: tn, DroppedConstraints: lost, SQL: ct.sql},
			TableDefinition{Table: tn, SQL: dt.createSQL(tn)})
		pl.lostConstraints = true
		pl.destructive(DropConstraint, dt.Object, "", fmt.Sprintf("rebuilding table %s drops its hand-written %s; they stop being enforced", tn, strings.Join(lost, ", ")))
	}
	pl.emit(phaseRebuild, KindRebuild, tn, dt.createSQL(tmp), "", false)
	var cols, exprs []string
	for _, c := range dt.Columns {
		if e, ok := copyExpr[c.Name]; ok {
			cols = append(cols, qi(c.Name))
			exprs = append(exprs, e)
		}
	}
	if len(cols) > 0 {
		pl.emit(phaseRebuild, KindRebuild, tn, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s",
			qi(tmp), strings.Join(cols, ", "), strings.Join(exprs, ", "), qi(tn)), "", false)
	}
	pl.emit(phaseRebuild, KindRebuild, tn, "DROP TABLE "+qi(tn), "", false)
	pl.emit(phaseRebuild, KindRebuild, tn, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", qi(tmp), qi(tn)), "", false)
	for _, tr := range ct.triggers {
		pl.recreateTrigger(tn, tr)
	}
	pl.fkCheck[tn] = true
}

func (pl *planner) recreateTrigger(table string, tr namedSQL) {
	if pl.triggersRecreated[tr.Name] {
		return
	}
	pl.triggersRecreated[tr.Name] = true
	pl.emit(phaseRecreate, KindCreateTrigger, table, tr.SQL, "DROP TRIGGER "+qi(tr.Name), true)
}

// metadataChanges reports changes introspection cannot see (labels, options, formula fields, ...) by
// comparing the stored definition with the desired one; fields whose column changed are already listed.
func (pl *planner) metadataChanges(prev, o *bundle.Object, dt *table) {
	listed := map[string]bool{}
	for _, c := range pl.changes {
		if c.EntityType == EntityField && c.ParentEntity == o.Name {
			listed[c.EntityName] = true
		}
		if c.EntityType == EntityObject && c.EntityName == o.Name && c.ChangeType == ChangeAdded {
			return // created (again): nothing finer to report
		}
	}
	if objectProps(prev) != objectProps(o) && !renamedOnly(prev, o) {
		pl.change(EntityObject, o.Name, "", ChangeModified, json.RawMessage(objectProps(prev)), json.RawMessage(objectProps(o)))
	}
	pf := map[string]bundle.Field{}
	for _, f := range prev.Fields {
		pf[f.Key] = f
	}
	nf := map[string]bool{}
	for _, f := range o.Fields {
		nf[f.Key] = true
		if listed[f.Key] {
			continue
		}
		old, ok := pf[f.Key]
		if !ok {
			if _, hasCol := columnType(f); !hasCol || isSystemColumn(f.Key) {
				pl.change(EntityField, f.Key, o.Name, ChangeAdded, nil, fieldValue(f))
			}
			continue
		}
		if !sameField(old, f) {
			pl.change(EntityField, f.Key, o.Name, ChangeModified, fieldValue(old), fieldValue(f))
		}
	}
	for _, f := range prev.Fields {
		if nf[f.Key] || listed[f.Key] {
			continue
		}
		if _, hasCol := columnType(f); !hasCol || isSystemColumn(f.Key) || dt == nil {
			pl.change(EntityField, f.Key, o.Name, ChangeRemoved, fieldValue(f), nil)
		}
	}
}

func sameField(a, b bundle.Field) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func fieldValue(f bundle.Field) any { return f }

// objectProps is the object's definition without its fields, for object-level metadata changes.
func objectProps(o *bundle.Object) string {
	c := *o
	c.Fields = nil
	c.Source = ""
	b, _ := json.Marshal(c)
	return string(b)
}
