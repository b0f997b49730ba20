package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// Statement kinds of renames (MigrationStatement.Kind).
const (
	KindRenameTable  = "rename_table"
	KindRenameColumn = "rename_column"
)

// phaseRename runs before everything else: the rest of the plan is made against the schema as the renames leave it.
const phaseRename = 5

// rename is one rename a plan may carry out: an object's table (field == "") or one field's column. object is
// the object's name as desired; from (object renames) and fromField (field renames) are the names it had.
type rename struct {
	object, from     string
	field, fromField string
}

// RenameInfo is the old and the new value of the SchemaChange a rename reports (an object's name and table, or a
// field's key and column).
type RenameInfo struct {
	Name   string `json:"name"`
	Table  string `json:"table,omitempty"`
	Column string `json:"column,omitempty"`
}

// planRenames carries out the renames the desired objects declare (renamedFrom), plus extra ones (a rollback's
// reversals), against the introspected schema: for each one whose old name the tenant still has and whose new
// name it does not, it emits ALTER TABLE … RENAME TO / RENAME COLUMN and moves the table or column in pl.cur, a
// copy of the schema as SQLite leaves it after the rename (indexes and foreign keys of every table follow, as
// SQLite's own RENAME rewrites them with legacy_alter_table off). The rest of the plan is then made against that
// copy, so it neither drops the old name nor adds the new one. A tenant that never had the old name gets the new
// one fresh; one that has both names is an error naming both. The returned registry rows are reg with the renamed
// objects' rows under their new names, so their stored definitions are compared as the previous ones.
func (pl *planner) planRenames(desired map[string]*bundle.Object, reg []registryRow, extra []rename) ([]registryRow, error) {
	var objRenames, fieldRenames []rename
	for _, name := range sortedKeys(desired) {
		o := desired[name]
		if o.Abstract {
			continue
		}
		if o.RenamedFrom != "" {
			objRenames = append(objRenames, rename{object: o.Name, from: o.RenamedFrom})
		}
		for _, f := range o.Fields {
			if f.RenamedFrom != "" {
				fieldRenames = append(fieldRenames, rename{object: o.Name, field: f.Key, fromField: f.RenamedFrom})
			}
		}
	}
	for _, r := range extra {
		if r.field == "" {
			objRenames = append(objRenames, r)
		} else {
			fieldRenames = append(fieldRenames, r)
		}
	}
	if len(objRenames) == 0 && len(fieldRenames) == 0 {
		return reg, nil
	}
	reg = append([]registryRow(nil), reg...) // the State's rows are shared; renamed rows are this plan's
	regByName := map[string]int{}
	for i, r := range reg {
		regByName[r.Name] = i
	}
	var errs []error
	for _, r := range objRenames {
		if err := pl.renameObject(desired, reg, regByName, r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range fieldRenames {
		if err := pl.renameField(desired, reg, regByName, r); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return reg, nil
}

// renameObject renames r.from's table to the desired object's table when the tenant has the first and not the
// second; reg (a copy owned by the planner once a rename happened) gets the old row under the new name.
func (pl *planner) renameObject(desired map[string]*bundle.Object, reg []registryRow, regByName map[string]int, r rename) error {
	o := desired[r.object]
	if o == nil || o.Abstract {
		return nil
	}
	if _, both := desired[r.from]; both {
		return renameError(o, "", "renamedFrom %s names an object this bundle still declares; swapping or chaining object names in one deployment is not supported — rename in two deployments", r.from)
	}
	oldTable := (&bundle.Object{Name: r.from}).Table()
	ri, registered := regByName[r.from]
	if registered {
		row := reg[ri]
		if row.Owner != string(pl.owner) {
			return renameError(o, "", "renamedFrom %s names an object owned by %s; only an owner's own objects can be renamed", r.from, row.Owner)
		}
		if row.Table == "" {
			return nil // an abstract object had no table: the new one is created fresh
		}
		oldTable = row.Table
	}
	newTable := o.Table()
	if oldTable == newTable {
		return nil // same table under another object name: nothing to move
	}
	if _, has := pl.cur.Tables[oldTable]; !has {
		return nil // the tenant never had it, or the rename already happened: created fresh or left alone
	}
	for _, row := range reg {
		if row.Table == oldTable && row.Owner != string(pl.owner) {
			return renameError(o, "", "renamedFrom %s: table %s belongs to %s", r.from, oldTable, row.Owner)
		}
	}
	if _, has := pl.cur.Tables[newTable]; has {
		return renameError(o, "", "renamedFrom %s, but the database has both table %s (object %s) and table %s (object %s); drop or rename one of them first, or remove renamedFrom",
			r.from, oldTable, r.from, newTable, r.object)
	}
	if _, taken := regByName[r.object]; taken {
		return renameError(o, "", "renamedFrom %s, but the registry already holds both objects %s and %s; remove renamedFrom or the other object first", r.from, r.from, r.object)
	}
	pl.emit(phaseRename, KindRenameTable, newTable, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", qi(oldTable), qi(newTable)),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", qi(newTable), qi(oldTable)), true)
	pl.change(EntityObject, r.object, "", ChangeModified, RenameInfo{Name: r.from, Table: oldTable}, RenameInfo{Name: r.object, Table: newTable})
	pl.moveTable(oldTable, newTable)
	if registered {
		reg[ri].Name, reg[ri].Table = r.object, newTable
		delete(regByName, r.from)
		regByName[r.object] = ri
	}
	return nil
}

// renameField renames the column of r.fromField to the desired field's column when the tenant's table has the
// first and not the second.
func (pl *planner) renameField(desired map[string]*bundle.Object, reg []registryRow, regByName map[string]int, r rename) error {
	o := desired[r.object]
	if o == nil || o.Abstract {
		return nil
	}
	f, ok := o.Field(r.field)
	if !ok {
		return nil
	}
	if other, both := o.Field(r.fromField); both && other != f {
		return renameError(o, r.field, "renamedFrom %s names a field object %s still declares; swapping or chaining field names in one deployment is not supported — rename in two deployments", r.fromField, r.object)
	}
	if _, hasCol := columnType(*f); !hasCol {
		return nil
	}
	t := pl.cur.Tables[o.Table()]
	if t == nil {
		return nil // the table is created fresh
	}
	oldCol := r.fromField
	if i, registered := regByName[r.object]; registered && reg[i].Definition != nil {
		// The registered definition knows the old field's column (columnName); planRenames already moved
		// a renamed object's row to its new name.
		prev, err := decodeObject(reg[i].Definition)
		if err != nil {
			return fmt.Errorf("registered object %s: %w", r.object, err)
		}
		if pf, ok := prev.Field(r.fromField); ok {
			oldCol = pf.Column()
		}
	}
	newCol := f.Column()
	if oldCol == newCol {
		return nil
	}
	if isSystemColumn(oldCol) || isSystemColumn(newCol) {
		return renameError(o, r.field, "renamedFrom %s: system columns cannot be renamed", r.fromField)
	}
	for _, g := range o.Fields {
		if g.Key != f.Key && g.Column() == oldCol {
			if _, hasCol := columnType(g); hasCol {
				return renameError(o, r.field, "renamedFrom %s, but field %s still uses column %s; swapping column names in one deployment is not supported", r.fromField, g.Key, oldCol)
			}
		}
	}
	if _, has := t.column(oldCol); !has {
		return nil // the tenant never had it, or the rename already happened
	}
	if _, has := t.column(newCol); has {
		return renameError(o, r.field, "renamedFrom %s, but table %s has both column %s (field %s) and column %s (field %s); drop one of them first, or remove renamedFrom",
			r.fromField, t.Name, oldCol, r.fromField, newCol, r.field)
	}
	pl.emit(phaseRename, KindRenameColumn, t.Name, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", qi(t.Name), qi(oldCol), qi(newCol)),
		fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", qi(t.Name), qi(newCol), qi(oldCol)), true)
	pl.change(EntityField, r.field, r.object, ChangeModified, RenameInfo{Name: r.fromField, Column: oldCol}, RenameInfo{Name: r.field, Column: newCol})
	pl.moveColumn(t.Name, oldCol, newCol)
	return nil
}

// ownCur gives the planner its own copy of the schema's table map before the first rename changes it: the
// introspected schema may be shared (a State planned for several owners, or chained with After).
func (pl *planner) ownCur() {
	if pl.renamedTables != nil {
		return
	}
	c := *pl.cur
	c.Tables = make(map[string]*table, len(pl.cur.Tables))
	for k, v := range pl.cur.Tables {
		c.Tables[k] = v
	}
	pl.cur = &c
	pl.renamedTables = map[string]string{}
}

// cloneTable replaces table name in pl.cur with a copy the planner may change.
func (pl *planner) cloneTable(name string) *table {
	t := *pl.cur.Tables[name]
	t.Columns = append([]column(nil), t.Columns...)
	for i := range t.Columns {
		if t.Columns[i].Ref != nil {
			ref := *t.Columns[i].Ref
			t.Columns[i].Ref = &ref
		}
	}
	t.Indexes = append([]index(nil), t.Indexes...)
	for i := range t.Indexes {
		t.Indexes[i].Columns = append([]string(nil), t.Indexes[i].Columns...)
	}
	if t.constraintCols != nil {
		cc := make(map[string]bool, len(t.constraintCols))
		for k, v := range t.constraintCols {
			cc[k] = v
		}
		t.constraintCols = cc
	}
	pl.cur.Tables[name] = &t
	return &t
}

// moveTable renames table from to to in pl.cur as ALTER TABLE … RENAME TO does: its indexes follow, and other
// tables' REFERENCES to it are rewritten.
func (pl *planner) moveTable(from, to string) {
	pl.ownCur()
	t := pl.cloneTable(from)
	delete(pl.cur.Tables, from)
	t.Name = to
	for i := range t.Indexes {
		t.Indexes[i].Table = to
		t.Indexes[i].SQL = t.Indexes[i].createSQL()
	}
	pl.cur.Tables[to] = t
	pl.renamedTables[to] = from
	for _, name := range sortedKeys(pl.cur.Tables) {
		for _, c := range pl.cur.Tables[name].Columns {
			if c.Ref != nil && c.Ref.Table == from {
				ct := pl.cloneTable(name)
				for i := range ct.Columns {
					if ct.Columns[i].Ref != nil && ct.Columns[i].Ref.Table == from {
						ct.Columns[i].Ref.Table = to
					}
				}
				break
			}
		}
	}
}

// moveColumn renames column from to to of table tn in pl.cur as ALTER TABLE … RENAME COLUMN does: indexes over it
// and other tables' REFERENCES to it follow. A partial index's WHERE text is left as it was: when it mentioned
// the column the index no longer compares equal and is recreated, which is always safe.
func (pl *planner) moveColumn(tn, from, to string) {
	pl.ownCur()
	t := pl.cloneTable(tn)
	for i := range t.Columns {
		if t.Columns[i].Name == from {
			t.Columns[i].Name = to
		}
	}
	if t.constraintCols[from] {
		delete(t.constraintCols, from)
		t.constraintCols[to] = true
	}
	for i := range t.Indexes {
		for j, c := range t.Indexes[i].Columns {
			if c == from {
				t.Indexes[i].Columns[j] = to
				t.Indexes[i].SQL = t.Indexes[i].createSQL()
			}
		}
	}
	if _, ok := pl.renamedTables[tn]; !ok {
		pl.renamedTables[tn] = tn
	}
	for _, name := range sortedKeys(pl.cur.Tables) {
		for _, c := range pl.cur.Tables[name].Columns {
			if c.Ref != nil && c.Ref.Table == tn && c.Ref.Column == from {
				ct := pl.cloneTable(name)
				for i := range ct.Columns {
					if ct.Columns[i].Ref != nil && ct.Columns[i].Ref.Table == tn && ct.Columns[i].Ref.Column == from {
						ct.Columns[i].Ref.Column = to
					}
				}
				break
			}
		}
	}
}

// checkRebuildAfterRename refuses to rebuild a table in the same plan as a rename when the rebuild would recreate
// a view or trigger: SQLite rewrites their text at the RENAME, but the plan only knows the text from before it
// and would recreate them with the old names.
func (pl *planner) checkRebuildAfterRename(dt *table) {
	if len(pl.renamedTables) == 0 {
		return
	}
	tn := dt.Name
	stale := func(sqlText string) bool {
		for n, old := range pl.renamedTables {
			if mentions(sqlText, n) || mentions(sqlText, old) {
				return true
			}
		}
		return false
	}
	var what []string
	for _, v := range pl.cur.Views {
		if mentions(v.SQL, tn) && stale(v.SQL) {
			what = append(what, "view "+v.Name)
		}
	}
	for _, on := range sortedKeys(pl.cur.Tables) {
		for _, tr := range pl.cur.Tables[on].triggers {
			if (on == tn || mentions(tr.SQL, tn)) && stale(tr.SQL) {
				what = append(what, "trigger "+tr.Name)
			}
		}
	}
	if len(what) > 0 {
		pl.errs = append(pl.errs, &PlanError{Object: dt.Object, Message: fmt.Sprintf("this plan renames and also rebuilds table %s, which would recreate %s from its text before the rename; deploy the rename first (renamedFrom alone), then the other change",
			tn, strings.Join(what, ", "))})
	}
}

// hintRenames adds to each "drop column" of the object a note when the plan also adds a column of the same
// type to it: without renamedFrom a rename is a drop and an add, and the author sees the line that keeps the data.
func (pl *planner) hintRenames(o *bundle.Object, prev *bundle.Object, dt, ct *table) {
	var added []column
	for _, c := range dt.Columns {
		if _, ok := ct.column(c.Name); !ok && !c.PK {
			added = append(added, c)
		}
	}
	if len(added) == 0 {
		return
	}
	for _, old := range ct.Columns {
		if _, ok := dt.column(old.Name); ok {
			continue
		}
		var cands []string
		for _, c := range added {
			if c.Type == old.Type {
				cands = append(cands, fieldOfColumn(dt, nil, c.Name))
			}
		}
		if len(cands) == 0 {
			continue
		}
		oldField := fieldOfColumn(dt, prev, old.Name)
		msg := fmt.Sprintf("drop column %s.%s and its values", dt.Name, old.Name)
		var hints []string
		for _, nf := range cands {
			hints = append(hints, fmt.Sprintf("\"renamedFrom: %s\" on field %s (objects.%s.fields.%s.renamedFrom)", oldField, nf, o.Name, nf))
		}
		for i := range pl.p.Destructive {
			d := &pl.p.Destructive[i]
			if d.Kind == DropColumn && d.Object == o.Name && d.Message == msg {
				d.Message += "; this may be a rename — to keep the values, declare " + strings.Join(hints, ", or ")
			}
		}
	}
}

// reverseRenames lists the renames that take the tenant from the objects registered now (current) back to prev,
// an earlier object set that carries no renamedFrom for them: each renamedFrom of current whose old name prev
// declares, and whose new name it does not, is undone.
func reverseRenames(current, prev []bundle.Object) []rename {
	prevByName := map[string]*bundle.Object{}
	for i := range prev {
		prevByName[prev[i].Name] = &prev[i]
	}
	var out []rename
	for _, c := range current {
		target := c.Name
		if c.RenamedFrom != "" && prevByName[c.RenamedFrom] != nil && prevByName[c.Name] == nil {
			out = append(out, rename{object: c.RenamedFrom, from: c.Name})
			target = c.RenamedFrom
		}
		po := prevByName[target]
		if po == nil {
			continue
		}
		for _, f := range c.Fields {
			if f.RenamedFrom == "" {
				continue
			}
			_, hasOld := po.Field(f.RenamedFrom)
			_, hasNew := po.Field(f.Key)
			if hasOld && !hasNew {
				out = append(out, rename{object: target, field: f.RenamedFrom, fromField: f.Key})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].field == "" && out[j].field != "" })
	return out
}

// planRollback plans owner back to prev, undoing the renames of the objects registered now (see reverseRenames).
func planRollback(ctx context.Context, db *sql.DB, owner Owner, prev []bundle.Object) (*Plan, error) {
	st, err := ReadState(ctx, db, ReadOptions{Owners: []Owner{owner}})
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", owner, err)
	}
	regs, err := st.Registered()
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", owner, err)
	}
	var current []bundle.Object
	for _, ro := range regs {
		if ro.Owner == owner {
			current = append(current, ro.Definition)
		}
	}
	p, err := buildPlanRenaming(owner, prev, st.cur, st.reg, reverseRenames(current, prev))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", owner, err)
	}
	p.state = st
	return p, nil
}

// renamedOnly reports whether the object's properties differ from its previous definition's only by the rename
// itself, which the rename's own change already shows.
func renamedOnly(prev, o *bundle.Object) bool {
	if prev.Name == o.Name {
		return false
	}
	a, b := *prev, *o
	a.Name, a.RenamedFrom, b.Name, b.RenamedFrom = "", "", "", ""
	return objectProps(&a) == objectProps(&b)
}

// hintObjectRenames adds to each "drop table" a note when the plan also creates a table with the same columns
// (names and types, system columns aside): without renamedFrom an object rename is a drop and a create.
func (pl *planner) hintObjectRenames(want map[string]*table) {
	shape := func(t *table) string {
		var cols []string
		for _, c := range t.Columns {
			if !isSystemColumn(c.Name) {
				cols = append(cols, c.Name+" "+c.Type)
			}
		}
		sort.Strings(cols)
		return strings.Join(cols, ",")
	}
	created := map[string][]string{} // shape → objects whose table the plan creates
	for _, d := range pl.stmts {
		if d.Kind == KindCreateTable {
			if t := want[d.Object]; t != nil && len(t.Columns) > len(bundle.SystemColumns) {
				created[shape(t)] = append(created[shape(t)], t.Object)
			}
		}
	}
	if len(created) == 0 {
		return
	}
	for i := range pl.p.Destructive {
		d := &pl.p.Destructive[i]
		if d.Kind != DropTable {
			continue
		}
		for _, d2 := range pl.stmts {
			if d2.Kind != KindDropTable || pl.cur.Tables[d2.Object] == nil || !strings.HasPrefix(d.Message, "drop table "+d2.Object+" ") {
				continue
			}
			var hints []string
			for _, n := range created[shape(pl.cur.Tables[d2.Object])] {
				hints = append(hints, fmt.Sprintf("\"renamedFrom: %s\" on object %s (objects.%s.renamedFrom)", d.Object, n, n))
			}
			if len(hints) > 0 {
				d.Message += "; this may be a rename — to keep the rows, declare " + strings.Join(hints, ", or ")
			}
			break
		}
	}
}

// renameError is a PlanError about the renamedFrom of object o (or of its field), located with at.
func renameError(o *bundle.Object, field, format string, a ...any) *PlanError {
	rel := "renamedFrom"
	if field != "" {
		rel = "fields." + field + ".renamedFrom"
	}
	return &PlanError{Object: o.Name, Field: field, Message: fmt.Sprintf(format, a...) + at(o, rel)}
}

// at locates a renamedFrom for an error: the file and line it was written on (when the objects were loaded from
// files) and its path, so a planning error points where a validation issue would.
func at(o *bundle.Object, rel string) string {
	path := "objects." + o.Name + "." + rel
	switch {
	case o.Source == "":
		return " [" + path + "]"
	case o.Lines[rel] > 0:
		return fmt.Sprintf(" [%s:%d %s]", o.Source, o.Lines[rel], path)
	}
	return fmt.Sprintf(" [%s %s]", o.Source, path)
}
