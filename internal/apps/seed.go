package apps

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
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

// writeSeeds writes every target's records inside tx and returns the number of rows inserted or updated.
func writeSeeds(ctx context.Context, tx *sql.Tx, targets []seedTarget) (int, error) {
	total := 0
	for _, t := range targets {
		total += len(t.rows)
	}
	written := 0
	progress := func(n int) {
		written += n
		if seedHook != nil {
			seedHook(written, total)
		}
	}
	for _, t := range targets {
		if err := writeDataset(ctx, tx, t, progress); err != nil {
			return written, fmt.Errorf("seed %s (%s): %w", t.obj.Name, t.ds.Source, err)
		}
	}
	return written, nil
}

func writeDataset(ctx context.Context, tx *sql.Tx, t seedTarget, progress func(int)) error {
	table := schema.QuoteIdent(t.obj.Table())
	existingByExt := map[string]string{}
	existingIDs := map[string]bool{}
	if t.mode == ModeReplace {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return fmt.Errorf("replace: delete existing rows: %w", err)
		}
	} else {
		if err := loadExisting(ctx, tx, table, t.extCol, existingByExt, existingIDs); err != nil {
			return err
		}
	}
	var inserts []seedRow
	for i, r := range t.rows {
		matchID := ""
		if r.ext != nil {
			matchID = existingByExt[valueKey(r.ext)]
		}
		if matchID == "" && r.id != "" && existingIDs[r.id] {
			matchID = r.id
		}
		switch {
		case matchID != "" && t.mode == ModeInsert:
			return fmt.Errorf("records[%d]: a row with %s = %s already exists (mode insert refuses duplicates; use upsert or ignore)", i, t.extCol, formatValue(r.ext))
		case matchID != "" && t.mode == ModeIgnore:
			continue
		case matchID != "":
			if err := updateRow(ctx, tx, table, matchID, r); err != nil {
				return fmt.Errorf("records[%d]: %w", i, err)
			}
			progress(1)
		case t.mode == ModeUpdate:
			continue
		default:
			if r.id == "" {
				r.id = newID()
			}
			if r.ext != nil {
				// A dataset that repeats an external id updates the row it just inserted instead of duplicating it.
				existingByExt[valueKey(r.ext)] = r.id
			}
			existingIDs[r.id] = true
			inserts = append(inserts, r)
		}
	}
	return insertRows(ctx, tx, table, inserts, progress)
}

func loadExisting(ctx context.Context, tx *sql.Tx, table, extCol string, byExt map[string]string, ids map[string]bool) error {
	q := `SELECT "id" FROM ` + table
	if extCol != "" && extCol != "id" {
		q = `SELECT "id", ` + schema.QuoteIdent(extCol) + ` FROM ` + table
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read existing rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id sql.NullString
		var ext any
		dest := []any{&id}
		if extCol != "" && extCol != "id" {
			dest = append(dest, &ext)
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read existing rows: %w", err)
		}
		ids[id.String] = true
		if extCol == "id" {
			byExt[valueKey(id.String)] = id.String
		} else if ext != nil {
			byExt[valueKey(ext)] = id.String
		}
	}
	return rows.Err()
}

func updateRow(ctx context.Context, tx *sql.Tx, table, id string, r seedRow) error {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(table)
	b.WriteString(` SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ','now')`)
	for _, c := range r.cols {
		b.WriteString(", ")
		b.WriteString(schema.QuoteIdent(c))
		b.WriteString(" = ?")
	}
	b.WriteString(` WHERE "id" = ?`)
	args := append(append([]any{}, r.vals...), id)
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	return nil
}

// insertRows inserts rows in multi-row INSERT statements, one statement shape per column set.
func insertRows(ctx context.Context, tx *sql.Tx, table string, rows []seedRow, progress func(int)) error {
	type group struct {
		cols []string
		rows []seedRow
	}
	var order []string
	groups := map[string]*group{}
	for _, r := range rows {
		sig := strings.Join(r.cols, "\x00")
		g, ok := groups[sig]
		if !ok {
			g = &group{cols: r.cols}
			groups[sig] = g
			order = append(order, sig)
		}
		g.rows = append(g.rows, r)
	}
	for _, sig := range order {
		g := groups[sig]
		width := len(g.cols) + 1
		per := maxSeedVariables / width
		if per < 1 {
			per = 1
		}
		stmts := map[int]*sql.Stmt{}
		for start := 0; start < len(g.rows); start += per {
			end := min(start+per, len(g.rows))
			n := end - start
			st, ok := stmts[n]
			if !ok {
				var err error
				st, err = tx.PrepareContext(ctx, insertSQL(table, g.cols, n))
				if err != nil {
					return fmt.Errorf("prepare insert: %w", err)
				}
				defer st.Close()
				stmts[n] = st
			}
			args := make([]any, 0, n*width)
			for _, r := range g.rows[start:end] {
				args = append(args, r.id)
				args = append(args, r.vals...)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert rows %d..%d: %w", start, end-1, err)
			}
			progress(n)
		}
	}
	return nil
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
