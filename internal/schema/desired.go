package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// timestampDefault is the default of the created_at/updated_at system columns: RFC 3339 UTC with
// milliseconds (protocol §3 Rec.), not SQLite's datetime('now') format.
const timestampDefault = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

// column is one column of a table, in the normalised form both the desired schema and introspection
// produce, so that equal schemas compare equal field by field.
type column struct {
	Name    string      `json:"name"`
	Type    string      `json:"type"` // declared type, upper case
	NotNull bool        `json:"notNull,omitempty"`
	Default *string     `json:"default,omitempty"` // the default expression exactly as sqlite_schema keeps it
	PK      bool        `json:"primaryKey,omitempty"`
	Ref     *foreignKey `json:"references,omitempty"`
	// Field is the field key the column comes from (desired schema only).
	Field string `json:"-"`
}

type foreignKey struct {
	Table    string `json:"table"`
	Column   string `json:"column"`
	OnDelete string `json:"onDelete"` // SET NULL | CASCADE | RESTRICT | NO ACTION
}

// index is a user index (origin "c"); constraint indexes of adopted tables are kept apart.
type index struct {
	Name    string   `json:"name"`
	Table   string   `json:"table"`
	Unique  bool     `json:"unique,omitempty"`
	Columns []string `json:"columns"`
	Where   string   `json:"where,omitempty"`
	SQL     string   `json:"-"` // CREATE statement (introspected: as stored in sqlite_schema)
}

type table struct {
	Name    string
	Object  string // object name (desired only)
	Columns []column
	Indexes []index // sorted by name
	// Introspected only: constraint index columns (PRIMARY KEY/UNIQUE of adopted tables), triggers,
	// and the CREATE TABLE text (a rebuild reports the constraints in it that the engine cannot recreate).
	constraintCols map[string]bool
	triggers       []namedSQL
	sql            string
}

type namedSQL struct{ Name, SQL string }

func (t *table) column(name string) (*column, bool) {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i], true
		}
	}
	return nil, false
}

func (t *table) index(name string) (*index, bool) {
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i], true
		}
	}
	return nil, false
}

// columnSQL renders a column definition.
func (c column) sql() string {
	var b strings.Builder
	b.WriteString(qi(c.Name))
	b.WriteByte(' ')
	b.WriteString(c.Type)
	if c.PK {
		b.WriteString(" PRIMARY KEY")
	}
	if c.NotNull {
		b.WriteString(" NOT NULL")
	}
	if c.Default != nil {
		b.WriteString(" DEFAULT ")
		b.WriteString(*c.Default)
	}
	if c.Ref != nil {
		fmt.Fprintf(&b, " REFERENCES %s(%s) ON DELETE %s", qi(c.Ref.Table), qi(c.Ref.Column), c.Ref.OnDelete)
	}
	return b.String()
}

func (c column) equal(o column) bool {
	if c.Name != o.Name || c.Type != o.Type || c.NotNull != o.NotNull || c.PK != o.PK {
		return false
	}
	if (c.Default == nil) != (o.Default == nil) || (c.Default != nil && *c.Default != *o.Default) {
		return false
	}
	if (c.Ref == nil) != (o.Ref == nil) || (c.Ref != nil && *c.Ref != *o.Ref) {
		return false
	}
	return true
}

func (t *table) createSQL(name string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(qi(name))
	b.WriteString(" (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.sql())
	}
	b.WriteString(")")
	return b.String()
}

func (ix index) createSQL() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	b.WriteString(qi(ix.Name))
	b.WriteString(" ON ")
	b.WriteString(qi(ix.Table))
	b.WriteString(" (")
	for i, c := range ix.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(qi(c))
	}
	b.WriteString(")")
	if ix.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(ix.Where)
	}
	return b.String()
}

func (ix index) equal(o index) bool {
	return ix.Name == o.Name && ix.Table == o.Table && ix.Unique == o.Unique && ix.Where == o.Where &&
		reflect.DeepEqual(ix.Columns, o.Columns)
}

// columnType maps a field to its SQLite declared type (protocol §3 "Rec." column); ok=false for
// fields that have no column (formula).
func columnType(f bundle.Field) (string, bool) {
	if f.Type == bundle.TypeFormula {
		return "", false
	}
	if f.Multiple {
		return "TEXT", true
	}
	switch f.Type {
	case bundle.TypeNumber, bundle.TypeCurrency, bundle.TypePercent, bundle.TypeSummary,
		bundle.TypeRating, bundle.TypeSlider, bundle.TypeProgress:
		return "REAL", true
	case bundle.TypeBoolean, bundle.TypeToggle:
		return "INTEGER", true
	default:
		return "TEXT", true
	}
}

// isSystemColumn reports the columns every table gets; same-named fields are skipped.
func isSystemColumn(name string) bool {
	return name == "id" || name == "created_at" || name == "updated_at"
}

func systemColumns() []column {
	ts := timestampDefault
	return []column{
		{Name: "id", Type: "TEXT", PK: true},
		{Name: "created_at", Type: "TEXT", Default: &ts},
		{Name: "updated_at", Type: "TEXT", Default: &ts},
	}
}

// defaultLiteral renders a field's defaultValue as a constant SQL literal suited to the column type.
// Strings always become quoted literals, so a default can never inject SQL.
func defaultLiteral(v any, colType string) (string, error) {
	switch x := v.(type) {
	case string:
		if strings.ContainsRune(x, 0) {
			return "", fmt.Errorf("default contains a NUL byte")
		}
		return qs(x), nil
	case bool:
		if colType == "TEXT" {
			if x {
				return qs("true"), nil
			}
			return qs("false"), nil
		}
		if x {
			return "1", nil
		}
		return "0", nil
	}
	if f, ok := toFloat(v); ok {
		n, err := formatNumber(f)
		if err != nil {
			return "", err
		}
		if colType == "TEXT" {
			return qs(n), nil
		}
		return n, nil
	}
	// Structured values (lists, maps) are stored as JSON text.
	j, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("default is not representable as JSON: %w", err)
	}
	return qs(string(j)), nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// onDelete maps deleteBehavior to the SQL action; master_detail defaults to cascade, lookup to set_null.
func onDelete(f bundle.Field) (string, error) {
	b := f.DeleteBehavior
	if b == "" {
		if f.Type == bundle.TypeMasterDetail {
			b = "cascade"
		} else {
			b = "set_null"
		}
	}
	switch b {
	case "set_null":
		return "SET NULL", nil
	case "cascade":
		return "CASCADE", nil
	case "restrict":
		return "RESTRICT", nil
	}
	return "", fmt.Errorf("deleteBehavior %q is not set_null, cascade or restrict", b)
}

// desiredTable builds the table of one non-abstract object.
//
// maxLength/minLength, min/max, precision/scale and select options are deliberately NOT turned into
// CHECK constraints: they are validation rules the application enforces, SQLite cannot add or change a
// CHECK without rebuilding the table, and a UI-level edit (say maxLength 200 → 250) must not cost a
// full copy of a large table. They are still diffed, as metadata, through the stored definitions. resolve maps a referenced object name to
// its table when that table is known (so REFERENCES only ever points at a table that exists after apply).
func desiredTable(o *bundle.Object, resolve func(object string) (string, bool)) (*table, error) {
	name := o.Table()
	if err := checkIdent("table name of object "+o.Name, name); err != nil {
		return nil, err
	}
	for _, prefix := range []string{"sqlite_", "_objectstack_", "_new_"} {
		if strings.HasPrefix(strings.ToLower(name), prefix) {
			return nil, fmt.Errorf("object %s: table name %s uses the reserved prefix %s (SQLite internals, the registry, rebuild temporaries)", o.Name, name, prefix)
		}
	}
	t := &table{Name: name, Object: o.Name, Columns: systemColumns()}
	colOf := map[string]string{"id": "id", "created_at": "created_at", "updated_at": "updated_at"}
	seen := map[string]string{"id": "id", "created_at": "created_at", "updated_at": "updated_at"}
	for _, f := range o.Fields {
		path := o.Name + "." + f.Key
		if isSystemColumn(f.Key) {
			continue
		}
		ct, ok := columnType(f)
		if !ok {
			continue
		}
		cn := f.Column()
		if err := checkIdent("column of field "+path, cn); err != nil {
			return nil, err
		}
		if prev, dup := seen[cn]; dup {
			return nil, fmt.Errorf("field %s: column %q is already used by field %s", path, cn, prev)
		}
		seen[cn] = f.Key
		colOf[f.Key] = cn
		c := column{Name: cn, Type: ct, NotNull: f.Required, Field: f.Key}
		if f.DefaultValue != nil {
			lit, err := defaultLiteral(f.DefaultValue, ct)
			if err != nil {
				return nil, fmt.Errorf("field %s: defaultValue: %w", path, err)
			}
			c.Default = &lit
		}
		if (f.Type == bundle.TypeLookup || f.Type == bundle.TypeMasterDetail) && !f.Multiple && f.Reference != "" {
			if target, ok := resolve(f.Reference); ok {
				od, err := onDelete(f)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", path, err)
				}
				c.Ref = &foreignKey{Table: target, Column: "id", OnDelete: od}
			}
		}
		t.Columns = append(t.Columns, c)
	}
	addIndex := func(ix index) error {
		if err := checkIdent("index name", ix.Name); err != nil {
			return fmt.Errorf("object %s: %w", o.Name, err)
		}
		if old, dup := t.index(ix.Name); dup {
			if old.equal(ix) {
				return nil
			}
			return fmt.Errorf("object %s: index %q is declared twice with different definitions", o.Name, ix.Name)
		}
		t.Indexes = append(t.Indexes, ix)
		return nil
	}
	for _, f := range o.Fields {
		cn, ok := colOf[f.Key]
		if !ok || isSystemColumn(f.Key) {
			continue
		}
		if f.Unique {
			if err := addIndex(index{Name: "uq_" + name + "_" + cn, Table: name, Unique: true, Columns: []string{cn}}); err != nil {
				return nil, err
			}
		}
		if f.Index {
			if err := addIndex(index{Name: "idx_" + name + "_" + cn, Table: name, Columns: []string{cn}}); err != nil {
				return nil, err
			}
		}
	}
	for i, d := range o.Indexes {
		path := fmt.Sprintf("%s.indexes[%d]", o.Name, i)
		if len(d.Fields) == 0 {
			return nil, fmt.Errorf("%s: an index needs at least one field", path)
		}
		cols := make([]string, 0, len(d.Fields))
		for _, fk := range d.Fields {
			cn, ok := colOf[fk]
			if !ok {
				return nil, fmt.Errorf("%s: field %q has no column on %s", path, fk, o.Name)
			}
			cols = append(cols, cn)
		}
		n := d.Name
		if n == "" {
			n = "idx_" + name + "_" + strings.Join(cols, "_")
		}
		where := strings.TrimSpace(d.Partial)
		if err := checkPartial(where); err != nil {
			return nil, fmt.Errorf("%s.partial: %w", path, err)
		}
		if err := addIndex(index{Name: n, Table: name, Unique: d.Unique, Columns: cols, Where: where}); err != nil {
			return nil, err
		}
	}
	sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Name < t.Indexes[j].Name })
	for i := range t.Indexes {
		t.Indexes[i].SQL = t.Indexes[i].createSQL()
	}
	return t, nil
}

// checkPartial rejects a partial-index WHERE clause that could be more than one expression: it is the only
// user-written SQL the engine emits, so statement separators, comments and unbalanced quotes are refused.
func checkPartial(w string) error {
	if w == "" {
		return nil
	}
	if strings.ContainsAny(w, ";\x00") || strings.Contains(w, "--") || strings.Contains(w, "/*") {
		return fmt.Errorf("a partial index condition must be a single SQL expression without ';' or comments")
	}
	if strings.Count(w, "'")%2 != 0 || strings.Count(w, `"`)%2 != 0 {
		return fmt.Errorf("unbalanced quotes in partial index condition")
	}
	depth := 0
	for _, r := range w {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced parentheses in partial index condition")
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("unbalanced parentheses in partial index condition")
	}
	return nil
}
