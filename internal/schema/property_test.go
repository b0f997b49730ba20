package schema

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The generated bundles draw from a small pool of object and field names so that consecutive bundles
// overlap: objects and fields appear, disappear and change type, required-ness, defaults and indexes.
var (
	poolObjects = []string{"o0", "o1", "o2", "o3"}
	poolFields  = []string{"f0", "f1", "f2", "f3", "f4"}
	// Lookup fields have a fixed target (r0 → o0, r1 → o1) so existing values stay valid references.
	poolLookups = []string{"r0", "r1"}
	genTypes    = []bundle.FieldType{
		bundle.TypeText, bundle.TypeEmail, bundle.TypeJSON, bundle.TypeDate, bundle.TypeNumber, bundle.TypeRating,
		bundle.TypeCurrency, bundle.TypeBoolean, bundle.TypeToggle, bundle.TypeFormula, bundle.TypeTags,
	}
)

func genDefault(t *rapid.T, typ bundle.FieldType, label string) any {
	ct, _ := columnType(bundle.Field{Type: typ})
	switch ct {
	case "REAL":
		return rapid.SampledFrom([]any{0, 1.5, -2, 1000000}).Draw(t, label)
	case "INTEGER":
		return rapid.Bool().Draw(t, label)
	}
	return rapid.SampledFrom([]any{"", "new", "it's", `x"; DROP TABLE y; --`, "42"}).Draw(t, label)
}

func genBundle(t *rapid.T, label string) []bundle.Object {
	var objs []bundle.Object
	for _, on := range poolObjects {
		if !rapid.Bool().Draw(t, label+"."+on) {
			continue
		}
		o := bundle.Object{Name: on, Label: rapid.SampledFrom([]string{"", "Label"}).Draw(t, label+"."+on+".label")}
		o.Abstract = rapid.IntRange(0, 9).Draw(t, label+"."+on+".abstract") == 0
		var cols []string
		for _, fk := range poolFields {
			if !rapid.Bool().Draw(t, label+"."+on+"."+fk) {
				continue
			}
			p := label + "." + on + "." + fk
			f := bundle.Field{Key: fk, Type: rapid.SampledFrom(genTypes).Draw(t, p+".type")}
			if f.Type == bundle.TypeTags {
				f.Multiple = true
			}
			if f.Type != bundle.TypeFormula {
				if rapid.IntRange(0, 3).Draw(t, p+".required") == 0 {
					f.Required = true
					f.DefaultValue = genDefault(t, f.Type, p+".default")
				} else if rapid.IntRange(0, 3).Draw(t, p+".hasdefault") == 0 {
					f.DefaultValue = genDefault(t, f.Type, p+".default")
				}
				f.Unique = rapid.IntRange(0, 5).Draw(t, p+".unique") == 0
				f.Index = rapid.IntRange(0, 4).Draw(t, p+".index") == 0
				cols = append(cols, fk)
			}
			o.Fields = append(o.Fields, f)
		}
		for i, lk := range poolLookups {
			if !rapid.Bool().Draw(t, label+"."+on+"."+lk) {
				continue
			}
			p := label + "." + on + "." + lk
			f := bundle.Field{Key: lk, Type: rapid.SampledFrom([]bundle.FieldType{bundle.TypeLookup, bundle.TypeMasterDetail}).Draw(t, p+".type"),
				Reference: poolObjects[i], DeleteBehavior: rapid.SampledFrom([]string{"", "set_null", "cascade", "restrict"}).Draw(t, p+".del")}
			f.Index = rapid.Bool().Draw(t, p+".index")
			o.Fields = append(o.Fields, f)
			cols = append(cols, lk)
		}
		if len(cols) > 0 && rapid.IntRange(0, 2).Draw(t, label+"."+on+".hasidx") == 0 {
			n := rapid.IntRange(1, min(2, len(cols))).Draw(t, label+"."+on+".idxn")
			fields := cols[:n]
			ix := bundle.Index{Fields: append([]string(nil), fields...), Unique: rapid.IntRange(0, 3).Draw(t, label+"."+on+".idxu") == 0}
			if rapid.Bool().Draw(t, label+"."+on+".idxpartial") {
				ix.Partial = fields[0] + " IS NOT NULL"
			}
			if rapid.Bool().Draw(t, label+"."+on+".idxnamed") || n == 1 {
				// A one-field index would share its generated name with the field's own index flag.
				ix.Name = "named_" + on
			}
			o.Indexes = append(o.Indexes, ix)
		}
		objs = append(objs, o)
	}
	return objs
}

// genRenames turns some objects and fields of b that a also has into renames: the object (or field) gets a name
// from a pool of its own and renamedFrom its old name, and every lookup, index and partial index of b follows the
// new name. A tenant migrated from a keeps the renamed tables' rows and the renamed columns' values.
func genRenames(t *rapid.T, a, b []bundle.Object) []bundle.Object {
	inA := map[string]*bundle.Object{}
	for i := range a {
		inA[a[i].Name] = &a[i]
	}
	objRenamed := map[string]string{} // old → new object name
	for i := range b {
		o := &b[i]
		old, ok := inA[o.Name]
		if !ok || o.Abstract {
			continue
		}
		for j := range o.Fields {
			f := &o.Fields[j]
			if _, had := old.Field(f.Key); !had || f.Type == bundle.TypeFormula {
				continue
			}
			if rapid.IntRange(0, 2).Draw(t, "rename."+o.Name+"."+f.Key) != 0 {
				continue
			}
			// f3 → g3, r0 → s0 (a lookup: its foreign key column is renamed).
			nk := string(f.Key[0]+1) + f.Key[1:]
			for k := range o.Indexes {
				ix := &o.Indexes[k]
				for m := range ix.Fields {
					if ix.Fields[m] == f.Key {
						ix.Fields[m] = nk
					}
				}
				if ix.Partial == f.Key+" IS NOT NULL" {
					ix.Partial = nk + " IS NOT NULL"
				}
			}
			f.RenamedFrom, f.Key = f.Key, nk
		}
		if rapid.IntRange(0, 2).Draw(t, "rename."+o.Name) == 0 {
			nn := "n" + strings.TrimPrefix(o.Name, "o")
			objRenamed[o.Name] = nn
			o.RenamedFrom, o.Name = o.Name, nn
		}
	}
	for i := range b {
		for j := range b[i].Fields {
			if nn, ok := objRenamed[b[i].Fields[j].Reference]; ok {
				b[i].Fields[j].Reference = nn
			}
		}
	}
	return b
}

// renamedNames maps each table of b declared renamedFrom to its old name, and each renamed column (by its new
// table) from its new name to its old one.
func renamedNames(b []bundle.Object) (tables map[string]string, cols map[string]map[string]string) {
	tables, cols = map[string]string{}, map[string]map[string]string{}
	for _, o := range b {
		if o.RenamedFrom != "" {
			tables[o.Table()] = o.RenamedFrom
		}
		for _, f := range o.Fields {
			if f.RenamedFrom != "" {
				if cols[o.Table()] == nil {
					cols[o.Table()] = map[string]string{}
				}
				cols[o.Table()][f.Column()] = f.RenamedFrom
			}
		}
	}
	return tables, cols
}

// snapshot of every row of every user table, values as SQLite returns them.
type rowset map[string]map[string]map[string]any // table → id → column → value

func readRows(t *rapid.T, db *sql.DB) rowset {
	s, err := introspect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	out := rowset{}
	for tn := range s.Tables {
		rows, err := db.Query("SELECT * FROM " + qi(tn))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		out[tn] = map[string]map[string]any{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			r := map[string]any{}
			for i, c := range cols {
				r[c] = vals[i]
			}
			out[tn][fmt.Sprint(r["id"])] = r
		}
		rows.Close()
	}
	return out
}

// insertRows fills every table of the applied bundle with a few rows whose lookups point at real rows.
func insertRows(t *rapid.T, db *sql.DB, objs []bundle.Object) {
	s, err := introspect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, o := range objs {
		if o.Abstract {
			continue
		}
		tb := s.Tables[o.Table()]
		n := rapid.IntRange(0, 4).Draw(t, "rows."+o.Name)
		for r := 0; r < n; r++ {
			id := fmt.Sprintf("%s-%d", o.Name, r)
			var names, marks []string
			var args []any
			for _, c := range tb.Columns {
				if c.Name == "created_at" || c.Name == "updated_at" {
					continue
				}
				var v any
				switch {
				case c.Name == "id":
					v = id
				case c.Ref != nil || strings.HasPrefix(c.Name, "r"):
					// Lookups only ever hold ids of existing rows (or NULL), as an application would write them.
					if c.Ref == nil {
						break
					}
					if cand := ids[c.Ref.Table]; len(cand) > 0 && rapid.Bool().Draw(t, "ref") {
						v = rapid.SampledFrom(cand).Draw(t, "refid")
					}
				case !c.NotNull && rapid.IntRange(0, 4).Draw(t, "null") == 0:
					v = nil
				case c.Type == "REAL":
					v = float64(r) + rapid.SampledFrom([]float64{0, 0.5}).Draw(t, "frac")
				case c.Type == "INTEGER":
					v = r
				default:
					v = rapid.SampledFrom([]string{fmt.Sprint(r), fmt.Sprintf("s%d", r), fmt.Sprintf("%d.5", r)}).Draw(t, "text")
				}
				if v == nil && c.NotNull {
					continue // the default fills it
				}
				names = append(names, qi(c.Name))
				marks = append(marks, "?")
				args = append(args, v)
			}
			q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", qi(tb.Name), strings.Join(names, ","), strings.Join(marks, ","))
			if _, err := db.Exec(q, args...); err != nil {
				if strings.Contains(err.Error(), "UNIQUE constraint failed") {
					continue // two rows picked the same referenced id for a unique lookup
				}
				t.Fatalf("%s %v: %v", q, args, err)
			}
			ids[tb.Name] = append(ids[tb.Name], id)
		}
	}
}

var propCase atomic.Int64

func propDB(t *rapid.T, dir string) *sql.DB {
	path := filepath.Join(dir, fmt.Sprintf("case-%d.db", propCase.Add(1)))
	db, err := database.Open(fastDSN(t, path), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	})
	return db
}

func normVal(v any) string {
	switch x := v.(type) {
	case []byte:
		return "text:" + string(x)
	case string:
		return "text:" + x
	case int64:
		return fmt.Sprintf("int:%d", x)
	case float64:
		return fmt.Sprintf("real:%v", x)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// expectedValue is what a surviving column must hold after the migration: the old value, converted
// with SQLite's CAST when the column's type changed, or the new default when the column became NOT NULL.
func expectedValue(t *rapid.T, db *sql.DB, old any, oldCol, newCol column) string {
	expr := "?"
	if affinity(oldCol.Type) != affinity(newCol.Type) {
		expr = fmt.Sprintf("CAST(? AS %s)", newCol.Type)
	}
	if newCol.NotNull && !oldCol.NotNull && newCol.Default != nil {
		// The stored default goes through the column's affinity, as CAST does.
		expr = fmt.Sprintf("COALESCE(%s, CAST(%s AS %s))", expr, *newCol.Default, newCol.Type)
	}
	var v any
	if err := db.QueryRow("SELECT "+expr, old).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return normVal(v)
}

var propStats struct{ migrated, refused, failed atomic.Int64 }

// kindCounts records how many migrated cases exercised each statement kind, so the log shows the
// generator really covers rebuilds, native adds/drops and index changes.
var (
	kindMu     sync.Mutex
	kindCounts = map[string]int{}
)

func countKinds(p *Plan) {
	seen := map[string]bool{}
	for _, s := range p.Migration.Statements {
		seen[s.Kind] = true
	}
	for _, d := range p.Destructive {
		seen[string(d.Kind)] = true
	}
	kindMu.Lock()
	defer kindMu.Unlock()
	for k := range seen {
		kindCounts[k]++
	}
}

func setRapidChecks(t *testing.T, n int) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		if err := flag.Set("rapid.checks", fmt.Sprint(n)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { flag.Set("rapid.checks", f.DefValue) })
	}
}

// TestPropertyMigratedEqualsFresh: for generated bundles A and B, applying A, inserting rows and
// migrating to B (every destructive kind allowed) yields exactly the schema of applying B to an empty
// database, a second plan is empty, and every surviving column of every row keeps its value (CAST for
// changed types, the default for values that became required). B renames some of A's objects and fields
// (renamedFrom): their rows and values survive under the new names. A migration SQLite itself refuses
// (a new unique index over duplicate values) must leave the database exactly as it was.
func TestPropertyMigratedEqualsFresh(t *testing.T) {
	setRapidChecks(t, 250)
	dir := t.TempDir()
	ctx := context.Background()
	owner := BundleOwner("prop")
	rapid.Check(t, func(rt *rapid.T) {
		a := genBundle(rt, "A")
		b := genRenames(rt, a, genBundle(rt, "B"))
		db := propDB(rt, dir)
		pa, err := PlanOwner(ctx, db, owner, a, PlanOptions{})
		if err != nil {
			rt.Fatalf("plan A: %v", err)
		}
		if _, err := Apply(ctx, db, pa, ApplyOptions{Source: "prop"}); err != nil {
			rt.Fatalf("apply A: %v\n%s", err, planSQL(pa))
		}
		insertRows(rt, db, a)
		before := readRows(rt, db)
		beforeSchema, _ := introspect(ctx, db)
		pb, err := PlanOwner(ctx, db, owner, b, PlanOptions{})
		if err != nil {
			rt.Fatalf("plan B: %v", err)
		}
		_, err = Apply(ctx, db, pb, ApplyOptions{Allow: AllDestructiveKinds, Source: "prop"})
		if err != nil {
			var ae *ApplyError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
				rt.Fatalf("apply B: %v\n%s", err, planSQL(pb))
			}
			propStats.failed.Add(1)
			afterSchema, _ := introspect(ctx, db)
			if describe(afterSchema) != describe(beforeSchema) || !reflect.DeepEqual(readRows(rt, db), before) {
				rt.Fatalf("failed apply changed the database")
			}
			return
		}
		propStats.migrated.Add(1)
		countKinds(pb)

		fresh := propDB(rt, dir)
		pf, err := PlanOwner(ctx, fresh, owner, b, PlanOptions{})
		if err != nil {
			rt.Fatalf("plan B fresh: %v", err)
		}
		if _, err := Apply(ctx, fresh, pf, ApplyOptions{Source: "prop"}); err != nil {
			rt.Fatalf("apply B fresh: %v", err)
		}
		migrated, _ := introspect(ctx, db)
		freshS, _ := introspect(ctx, fresh)
		if dm, df := describe(migrated), describe(freshS); dm != df {
			rt.Fatalf("migrated schema differs from fresh\nmigrated:\n%s\nfresh:\n%s\nplan:\n%s", dm, df, planSQL(pb))
		}
		if again := mustPlanR(rt, db, owner, b); !again.UpToDate {
			rt.Fatalf("plan after migration not empty: %+v\n%s", again.Diff.Changes, planSQL(again))
		}
		after := readRows(rt, db)
		renamedTables, renamedCols := renamedNames(b)
		newName := map[string]string{}
		for n, old := range renamedTables {
			newName[old] = n
		}
		for otn, rows := range before {
			tn := otn
			if n, ok := newName[otn]; ok {
				tn = n
			}
			nt := migrated.Tables[tn]
			if nt == nil {
				continue
			}
			ot := beforeSchema.Tables[otn]
			if len(after[tn]) != len(rows) {
				rt.Fatalf("table %s had %d rows, now %d", tn, len(rows), len(after[tn]))
			}
			for id, row := range rows {
				nrow := after[tn][id]
				if nrow == nil {
					rt.Fatalf("row %s.%s lost", tn, id)
				}
				for _, nc := range nt.Columns {
					ocName := nc.Name
					if old, ok := renamedCols[tn][nc.Name]; ok {
						ocName = old
					}
					oc, ok := ot.column(ocName)
					if !ok {
						continue
					}
					if want, got := expectedValue(rt, db, row[ocName], *oc, nc), normVal(nrow[nc.Name]); want != got {
						rt.Fatalf("%s.%s (was %s.%s) row %s: was %s, now %s, want %s\n%s", tn, nc.Name, otn, ocName, id, normVal(row[ocName]), got, want, planSQL(pb))
					}
				}
			}
		}
	})
	t.Logf("migrated %d, refused by SQLite (unique over duplicates) %d; cases per statement/destructive kind: %v",
		propStats.migrated.Load(), propStats.failed.Load(), kindCounts)
	for _, k := range []string{KindCreateTable, KindAddColumn, KindRebuild, KindCreateIndex, KindDropIndex, KindDropColumn, KindDropTable, string(LossyTypeChange), KindRenameTable, KindRenameColumn} {
		if kindCounts[k] == 0 {
			t.Errorf("no generated case exercised %s", k)
		}
	}
}

func mustPlanR(t *rapid.T, db *sql.DB, owner Owner, objs []bundle.Object) *Plan {
	p, err := PlanOwner(context.Background(), db, owner, objs, PlanOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// TestPropertyDestructiveRefusal: without any allowance, a migration either has no destructive change
// and applies, or is refused with an error naming every destructive change — and then nothing changed.
func TestPropertyDestructiveRefusal(t *testing.T) {
	setRapidChecks(t, 150)
	dir := t.TempDir()
	ctx := context.Background()
	owner := BundleOwner("prop")
	rapid.Check(t, func(rt *rapid.T) {
		a := genBundle(rt, "A")
		b := genBundle(rt, "B")
		db := propDB(rt, dir)
		pa := mustPlanR(rt, db, owner, a)
		if _, err := Apply(ctx, db, pa, ApplyOptions{}); err != nil {
			rt.Fatalf("apply A: %v", err)
		}
		insertRows(rt, db, a)
		before := readRows(rt, db)
		beforeSchema, _ := introspect(ctx, db)
		pb := mustPlanR(rt, db, owner, b)
		_, err := Apply(ctx, db, pb, ApplyOptions{})
		if len(pb.Destructive) == 0 {
			if err != nil && !strings.Contains(err.Error(), "UNIQUE constraint failed") {
				rt.Fatalf("non-destructive apply failed: %v", err)
			}
			return
		}
		var de *DestructiveError
		if !errors.As(err, &de) || len(de.Refused) != len(pb.Destructive) {
			rt.Fatalf("want refusal of %d changes, got %v", len(pb.Destructive), err)
		}
		for _, d := range pb.Destructive {
			name := d.Object
			if d.Field != "" {
				name += "." + d.Field
			}
			if !strings.Contains(err.Error(), string(d.Kind)+" "+name) {
				rt.Fatalf("refusal %q does not name %s %s", err, d.Kind, name)
			}
		}
		propStats.refused.Add(1)
		afterSchema, _ := introspect(ctx, db)
		if describe(afterSchema) != describe(beforeSchema) || !reflect.DeepEqual(readRows(rt, db), before) {
			rt.Fatalf("refused apply changed the database")
		}
	})
	t.Logf("refused %d", propStats.refused.Load())
}
