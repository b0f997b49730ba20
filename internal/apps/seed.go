package apps

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// Dataset modes (the spec's Dataset shape, protocol §6 item 18).
const (
	ModeInsert  = "insert"  // insert every record; a record whose external id already exists is an error
	ModeUpdate  = "update"  // update records whose external id exists; skip the others
	ModeUpsert  = "upsert"  // update when the external id exists, insert otherwise (the default)
	ModeReplace = "replace" // delete every row of the object, then insert the records
	ModeIgnore  = "ignore"  // insert records whose external id does not exist; leave existing rows alone
)

var validModes = []string{ModeInsert, ModeUpdate, ModeUpsert, ModeReplace, ModeIgnore}

// defaultEnvs is the env list of a dataset that does not name one.
var defaultEnvs = []string{"prod", "dev", "test"}

func datasetMode(d bundle.Dataset) string {
	if d.Mode == "" {
		return ModeUpsert
	}
	return d.Mode
}

func datasetExternalID(d bundle.Dataset) string {
	if d.ExternalID == "" {
		return "name"
	}
	return d.ExternalID
}

func datasetApplies(d bundle.Dataset, env string) bool {
	if env == "" {
		env = "prod"
	}
	envs := d.Env
	if len(envs) == 0 {
		envs = defaultEnvs
	}
	for _, e := range envs {
		if e == env {
			return true
		}
	}
	return false
}

// seedHook, when set (tests only), is called inside the install transaction after each write with the number of
// records written so far and the total to write.
var seedHook func(written, total int)

// seedTarget is a dataset resolved against its object: the columns each record writes, already encoded.
type seedTarget struct {
	ds     bundle.Dataset
	obj    *bundle.Object
	mode   string
	extCol string
	rows   []seedRow
}

type seedRow struct {
	id   string // "" = generate
	ext  any    // encoded external id value (nil when absent)
	cols []string
	vals []any
}

// prepareSeeds encodes every applicable dataset's records, ordered so referenced objects are seeded first.
func prepareSeeds(objects []bundle.Object, datasets []bundle.Dataset, env string) ([]seedTarget, error) {
	byName := map[string]*bundle.Object{}
	for i := range objects {
		byName[objects[i].Name] = &objects[i]
	}
	var out []seedTarget
	for _, ds := range datasets {
		if !datasetApplies(ds, env) {
			continue
		}
		obj, ok := byName[ds.Object]
		if !ok {
			return nil, fmt.Errorf("dataset %s: object %s is not one of the app's objects", ds.Source, ds.Object)
		}
		t := seedTarget{ds: ds, obj: obj, mode: datasetMode(ds)}
		ext := datasetExternalID(ds)
		if ext == "id" {
			t.extCol = "id"
		} else if f, ok := obj.Field(ext); ok {
			t.extCol = f.Column()
		}
		pos := indexFields(obj)
		for i, rec := range ds.Records {
			row, err := encodeRecordIx(obj, pos, rec, ext)
			if err != nil {
				return nil, fmt.Errorf("dataset %s: records[%d]: %w", ds.Source, i, err)
			}
			t.rows = append(t.rows, row)
		}
		out = append(out, t)
	}
	order := objectOrder(objects)
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].obj.Name] < order[out[j].obj.Name] })
	return out, nil
}

// objectOrder ranks objects so an object comes after the objects its lookups reference (within the app).
func objectOrder(objects []bundle.Object) map[string]int {
	byName := map[string]*bundle.Object{}
	for i := range objects {
		byName[objects[i].Name] = &objects[i]
	}
	rank := map[string]int{}
	state := map[string]int{} // 1 visiting, 2 done
	n := 0
	var visit func(o *bundle.Object)
	visit = func(o *bundle.Object) {
		if state[o.Name] != 0 {
			return // done, or a reference cycle: keep declaration order
		}
		state[o.Name] = 1
		for _, f := range o.Fields {
			if f.Reference != "" && f.Reference != o.Name {
				if r, ok := byName[f.Reference]; ok {
					visit(r)
				}
			}
		}
		state[o.Name] = 2
		rank[o.Name] = n
		n++
	}
	for i := range objects {
		visit(&objects[i])
	}
	return rank
}

// fieldIndex maps an object's field keys to their declaration position.
type fieldIndex map[string]int

func indexFields(obj *bundle.Object) fieldIndex {
	ix := make(fieldIndex, len(obj.Fields))
	for i := range obj.Fields {
		ix[obj.Fields[i].Key] = i
	}
	return ix
}

// encodeRecord maps a seed record's keys to columns and encodes each value for the field's column type.
func encodeRecord(obj *bundle.Object, rec map[string]any, ext string) (seedRow, error) {
	return encodeRecordIx(obj, indexFields(obj), rec, ext)
}

func encodeRecordIx(obj *bundle.Object, pos fieldIndex, rec map[string]any, ext string) (seedRow, error) {
	var row seedRow
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	// Column order follows the object's field order so records with the same keys share one INSERT statement.
	sort.Slice(keys, func(i, j int) bool {
		pi, iok := pos[keys[i]]
		pj, jok := pos[keys[j]]
		if iok && jok {
			return pi < pj
		}
		if iok != jok {
			return !iok // "id" (not a declared field) first
		}
		return keys[i] < keys[j]
	})
	row.cols = make([]string, 0, len(keys))
	row.vals = make([]any, 0, len(keys))
	for _, k := range keys {
		v := rec[k]
		if k == "id" || k == "_id" {
			s, ok := v.(string)
			if !ok || s == "" {
				return row, fmt.Errorf("%s: id must be a non-empty string", k)
			}
			row.id = s
			if ext == "id" {
				row.ext = s
			}
			continue
		}
		i, ok := pos[k]
		if !ok {
			return row, fmt.Errorf("%s: object %s has no field %q", k, obj.Name, k)
		}
		f := &obj.Fields[i]
		enc, err := encodeValue(*f, v)
		if err != nil {
			return row, fmt.Errorf("%s: %w", k, err)
		}
		row.cols = append(row.cols, f.Column())
		row.vals = append(row.vals, enc)
		if k == ext {
			row.ext = enc
		}
	}
	return row, nil
}

// encodeValue converts a YAML/JSON value to what the field's column stores: JSON text for arrays and objects and
// the JSON-typed fields, 0/1 for booleans, REAL for numbers, TEXT otherwise.
func encodeValue(f bundle.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if f.Type == bundle.TypeFormula {
		return nil, fmt.Errorf("formula field %s has no column and cannot be seeded", f.Key)
	}
	if f.Multiple || jsonTyped(f.Type) {
		b, err := json.Marshal(jsonSafe(v))
		if err != nil {
			return nil, fmt.Errorf("cannot encode as JSON: %w", err)
		}
		return string(b), nil
	}
	switch f.Type {
	case bundle.TypeBoolean, bundle.TypeToggle:
		switch b := v.(type) {
		case bool:
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			switch strings.ToLower(b) {
			case "true":
				return int64(1), nil
			case "false":
				return int64(0), nil
			}
		default:
			if n, ok := toFloat(v); ok && (n == 0 || n == 1) {
				return int64(n), nil
			}
		}
		return nil, fmt.Errorf("%s field needs true or false, got %s", f.Type, typeName(v))
	case bundle.TypeNumber, bundle.TypeCurrency, bundle.TypePercent, bundle.TypeSummary,
		bundle.TypeRating, bundle.TypeSlider, bundle.TypeProgress:
		if n, ok := toFloat(v); ok {
			return n, nil
		}
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%s field needs a number, got %s", f.Type, typeName(v))
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		switch f.Type {
		case bundle.TypeDate:
			return x.UTC().Format("2006-01-02"), nil
		case bundle.TypeTime:
			return x.UTC().Format("15:04:05"), nil
		}
		return x.UTC().Format(time.RFC3339Nano), nil
	case map[string]any, []any:
		return nil, fmt.Errorf("%s field needs a scalar value, got %s", f.Type, typeName(v))
	}
	if n, ok := toFloat(v); ok {
		return strconv.FormatFloat(n, 'f', -1, 64), nil
	}
	return fmt.Sprint(v), nil
}

func jsonTyped(t bundle.FieldType) bool {
	switch t {
	case bundle.TypeJSON, bundle.TypeImage, bundle.TypeFile, bundle.TypeAvatar, bundle.TypeLocation,
		bundle.TypeMultiselect, bundle.TypeCheckboxes, bundle.TypeTags, bundle.TypeAddress, bundle.TypeVideo,
		bundle.TypeAudio, bundle.TypeVector:
		return true
	}
	return false
}

// jsonSafe turns YAML's map[any]any (nested non-string keys) into JSON-encodable maps.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonSafe(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonSafe(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	}
	return v
}

// valueKey is the comparison key of an external id value, the same whether it came from a record or the database.
func valueKey(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return "s:" + string(x)
	case string:
		return "s:" + x
	case int64:
		return "n:" + strconv.FormatInt(x, 10)
	}
	if n, ok := toFloat(v); ok {
		if n == math.Trunc(n) && math.Abs(n) < 1e15 {
			return "n:" + strconv.FormatInt(int64(n), 10)
		}
		return "n:" + strconv.FormatFloat(n, 'g', -1, 64)
	}
	return "s:" + fmt.Sprint(v)
}

// maxSeedVariables keeps one INSERT under the bound-parameter limits of SQLite builds and remote libSQL servers.
const maxSeedVariables = 900

// seedStmt is one statement of a dataset's write; counts marks those whose affected rows are seeded records, and
// records how many records it carries (for the crash test's progress hook).
type seedStmt struct {
	database.Stmt
	counts  bool
	records int
	check   string // set on a guard: the error to report when it fails
}

// seedStatements writes a dataset as statements that are correct whatever the table holds when they run — no
// read of existing rows first — so they go into the revision's one batch: existing rows are matched by the
// external id inside each statement (UPDATE … FROM (VALUES …), INSERT … SELECT … WHERE NOT EXISTS). fresh says the
// table did not exist when the tenant was read (it is created in the same batch), so every record is an insert.
// A record repeating an external id of the same dataset updates the row the first one wrote, as before.
func seedStatements(t seedTarget, existed bool) []seedStmt {
	table := schema.QuoteIdent(t.obj.Table())
	var out []seedStmt
	ext := t.extCol
	if ext == "" {
		ext = "id" // records that name their id match on it
	}
	if t.mode == ModeReplace {
		out = append(out, seedStmt{Stmt: database.Stmt{SQL: "DELETE FROM " + table}})
		existed = false
	}
	first := make([]seedRow, 0, len(t.rows))
	var repeats []seedRow
	seen := map[string]bool{}
	for _, r := range t.rows {
		key := r.ext
		if t.extCol == "" {
			key = nil
			if r.id != "" {
				key = r.id
			}
		}
		if key != nil {
			k := valueKey(key)
			if seen[k] {
				repeats = append(repeats, r)
				continue
			}
			seen[k] = true
		}
		if r.id == "" {
			r.id = newID()
		}
		first = append(first, r)
	}
	switch {
	case !existed:
		if t.mode != ModeUpdate {
			out = append(out, insertStatements(table, first)...)
		}
	case t.mode == ModeInsert:
		out = append(out, duplicateGuards(table, ext, first)...)
		out = append(out, insertStatements(table, first)...)
	default:
		if t.mode == ModeUpsert || t.mode == ModeUpdate {
			out = append(out, updateStatements(table, ext, first)...)
		}
		if t.mode != ModeUpdate {
			out = append(out, insertMissingStatements(table, ext, first)...)
		}
	}
	if t.mode != ModeIgnore && t.mode != ModeInsert {
		out = append(out, updateStatements(table, ext, repeats)...)
	}
	return out
}

// groupRows splits rows into runs that share a column set and fit under maxSeedVariables with extra columns each.
func groupRows(rows []seedRow, extra int) [][]seedRow {
	var order []string
	groups := map[string][]seedRow{}
	for _, r := range rows {
		sig := strings.Join(r.cols, "\x00")
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
		}
		groups[sig] = append(groups[sig], r)
	}
	var out [][]seedRow
	for _, sig := range order {
		g := groups[sig]
		per := max(maxSeedVariables/(len(g[0].cols)+extra), 1)
		for start := 0; start < len(g); start += per {
			out = append(out, g[start:min(start+per, len(g))])
		}
	}
	return out
}

func insertStatements(table string, rows []seedRow) []seedStmt {
	var out []seedStmt
	for _, g := range groupRows(rows, 1) {
		args := make([]any, 0, len(g)*(len(g[0].cols)+1))
		for _, r := range g {
			args = append(args, r.id)
			args = append(args, r.vals...)
		}
		out = append(out, seedStmt{Stmt: database.Stmt{SQL: insertSQL(table, g[0].cols, len(g)), Args: args}, counts: true, records: len(g)})
	}
	return out
}

// valuesRows is "(VALUES (?, …), …)" with the match key first, then each row's id and columns.
func valuesRows(g []seedRow, key func(seedRow) any) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, len(g)*(len(g[0].cols)+2))
	tuple := "(?, ?" + strings.Repeat(", ?", len(g[0].cols)) + ")"
	b.WriteString("(VALUES ")
	for i, r := range g {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
		args = append(args, key(r), r.id)
		args = append(args, r.vals...)
	}
	b.WriteString(")")
	return b.String(), args
}

func matchKey(ext string) func(seedRow) any {
	return func(r seedRow) any {
		if ext == "id" {
			return r.id
		}
		return r.ext
	}
}

// updateStatements updates the rows whose external id matches a record (UPDATE … FROM (VALUES …)).
func updateStatements(table, ext string, rows []seedRow) []seedStmt {
	var out []seedStmt
	for _, g := range groupRows(rows, 2) {
		vals, args := valuesRows(g, matchKey(ext))
		var b strings.Builder
		b.WriteString("UPDATE " + table + ` SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ','now')`)
		for i, c := range g[0].cols {
			fmt.Fprintf(&b, ", %s = v.column%d", schema.QuoteIdent(c), i+3)
		}
		fmt.Fprintf(&b, " FROM %s AS v WHERE %s.%s = v.column1", vals, table, schema.QuoteIdent(ext))
		out = append(out, seedStmt{Stmt: database.Stmt{SQL: b.String(), Args: args}, counts: true, records: len(g)})
	}
	return out
}

// insertMissingStatements inserts the records whose external id no row has (INSERT … SELECT … WHERE NOT EXISTS).
// Records without an external id value are always inserted.
func insertMissingStatements(table, ext string, rows []seedRow) []seedStmt {
	var out []seedStmt
	for _, g := range groupRows(rows, 2) {
		vals, args := valuesRows(g, matchKey(ext))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + ` ("id"`)
		for _, c := range g[0].cols {
			b.WriteString(", " + schema.QuoteIdent(c))
		}
		b.WriteString(") SELECT v.column2")
		for i := range g[0].cols {
			fmt.Fprintf(&b, ", v.column%d", i+3)
		}
		fmt.Fprintf(&b, " FROM %s AS v WHERE v.column1 IS NULL OR NOT EXISTS (SELECT 1 FROM %s WHERE %s.%s = v.column1)",
			vals, table, table, schema.QuoteIdent(ext))
		out = append(out, seedStmt{Stmt: database.Stmt{SQL: b.String(), Args: args}, counts: true, records: len(g)})
	}
	return out
}

// duplicateGuards fail the batch when a record of an insert-mode dataset already exists (json() of a non-JSON text
// raises an error); the error names the external id column.
func duplicateGuards(table, ext string, rows []seedRow) []seedStmt {
	var out []seedStmt
	var keyed []seedRow
	for _, r := range rows {
		if matchKey(ext)(r) != nil {
			keyed = append(keyed, r)
		}
	}
	per := maxSeedVariables
	for start := 0; start < len(keyed); start += per {
		g := keyed[start:min(start+per, len(keyed))]
		args := make([]any, 0, len(g))
		for _, r := range g {
			args = append(args, matchKey(ext)(r))
		}
		msg := fmt.Sprintf("a row with one of the dataset's %s values already exists (mode insert refuses duplicates; use upsert or ignore)", ext)
		out = append(out, seedStmt{Stmt: database.Stmt{SQL: fmt.Sprintf(
			"SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE %s IN (%s)) THEN json('duplicate') ELSE 1 END",
			table, schema.QuoteIdent(ext), strings.TrimSuffix(strings.Repeat("?, ", len(g)), ", ")), Args: args}, check: msg})
	}
	return out
}

func insertSQL(table string, cols []string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(` ("id"`)
	for _, c := range cols {
		b.WriteString(", ")
		b.WriteString(schema.QuoteIdent(c))
	}
	b.WriteString(") VALUES ")
	tuple := "(?" + strings.Repeat(", ?", len(cols)) + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// newID returns a 16-character nanoid-style id (protocol §3 system columns).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = idAlphabet[b[i]&63]
	}
	return string(b[:])
}

// seedPreflight adds to the schema plan's pre-flight the rows an insert-mode dataset would collide with (the
// batch's duplicateGuards refuse them at apply): the plan then names the count and samples before anything runs.
func seedPreflight(sp *schema.Plan, t seedTarget) {
	if t.mode != ModeInsert {
		return
	}
	ext := t.extCol
	if ext == "" {
		ext = "id"
	}
	var keys []any
	for _, r := range t.rows {
		if k := matchKey(ext)(r); k != nil && k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	js, err := json.Marshal(keys)
	if err != nil {
		return // the batch's guard still refuses duplicates
	}
	table := t.obj.Table()
	sp.AddDataCheck(schema.DataCheck{Rule: schema.RuleSeedConflict, Object: t.obj.Name, Field: ext, Table: table,
		Columns: []string{ext}, Cond: schema.QuoteIdent(ext) + " IN (SELECT value FROM json_each(?))", Args: []any{string(js)}, Shown: ext,
		Describe: func(n int64) string {
			return fmt.Sprintf("%d existing row(s) of table %s already hold one of the %s values of dataset %s (mode insert refuses duplicates; use upsert or ignore)",
				n, table, ext, t.ds.Source)
		}})
}
