package bundle

import (
	"fmt"
	"math"
	"strconv"
)

// decoder turns a parsed document into model values, reporting every type problem as an Issue positioned by the
// document's recorded lines. It never stops at the first problem: the author sees all of them in one run.
type decoder struct {
	file   string
	prefix string         // full path of the document root, e.g. "objects.account" or "seedData[2]"
	lines  map[string]int // relative path → line
	out    *issues
}

func newDecoder(file, prefix string, root *node, out *issues) *decoder {
	d := &decoder{file: file, prefix: prefix, lines: make(map[string]int, 64), out: out}
	recordLines(root, "", d.lines)
	return d
}

func (d *decoder) full(rel string) string {
	switch {
	case rel == "":
		return d.prefix
	case d.prefix == "":
		return rel
	case rel[0] == '[':
		return d.prefix + rel
	}
	return d.prefix + "." + rel
}

func (d *decoder) errorf(code, rel, format string, a ...any) {
	d.out.errorf(code, d.full(rel), d.file, lookupLine(d.lines, rel), format, a...)
}

func (d *decoder) warnf(code, rel, format string, a ...any) {
	d.out.warnf(code, d.full(rel), d.file, lookupLine(d.lines, rel), format, a...)
}

func (d *decoder) wrongType(rel string, n *node, want string) {
	got := n.kind.String()
	switch {
	case n.kind == kindScalar && rel == "":
		// A whole document that is one scalar is not a definition at all: maybe a token file or
		// /etc/passwd reached through the bundle. Name its type, never its text.
		got = scalarType(n.value)
	case n.kind == kindScalar:
		got = describeScalar(n.value)
	}
	d.errorf(CodeInvalidType, rel, "must be %s, got %s", want, got)
}

func describeScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + strconv.Quote(truncate(x, 40))
	case bool:
		return "the boolean " + strconv.FormatBool(x)
	case int64:
		return "the number " + strconv.FormatInt(x, 10)
	case float64:
		return "the number " + strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprintf("%T", v)
}

func scalarType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (d *decoder) str(n *node, rel string) string {
	if n.kind == kindScalar {
		if s, ok := n.value.(string); ok {
			return s
		}
		if n.value == nil {
			return ""
		}
	}
	d.wrongType(rel, n, "a string")
	return ""
}

func (d *decoder) boolean(n *node, rel string) bool {
	if n.kind == kindScalar {
		switch v := n.value.(type) {
		case bool:
			return v
		case nil:
			return false
		}
	}
	d.wrongType(rel, n, "true or false")
	return false
}

func (d *decoder) integer(n *node, rel string) *int {
	if n.kind == kindScalar {
		switch v := n.value.(type) {
		case int64:
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				i := int(v)
				return &i
			}
			d.errorf(CodeInvalidValue, rel, "number %d is out of range", v)
			return nil
		case float64:
			if v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32 {
				i := int(v)
				return &i
			}
		case nil:
			return nil
		}
	}
	d.wrongType(rel, n, "a whole number")
	return nil
}

func (d *decoder) number(n *node, rel string) *float64 {
	if n.kind == kindScalar {
		switch v := n.value.(type) {
		case int64:
			f := float64(v)
			return &f
		case float64:
			return &v
		case nil:
			return nil
		}
	}
	d.wrongType(rel, n, "a number")
	return nil
}

func (d *decoder) strList(n *node, rel string) []string {
	items, ok := d.seq(n, rel, "a list of strings")
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		out = append(out, d.str(it, joinIndex(rel, i)))
	}
	return out
}

func (d *decoder) mapping(n *node, rel, what string) bool {
	if n.kind == kindMap {
		return true
	}
	d.wrongType(rel, n, what)
	return false
}

// unknown reports a key the format does not define. kept says whether the value survives (in Extra).
func (d *decoder) unknown(rel, key string, known []string, kept bool) {
	what := "is ignored"
	if kept {
		what = "is kept but has no effect on the schema"
	}
	d.warnf(CodeUnknownKey, joinKey(rel, key), "unknown key %q %s%s", key, what, didYouMean(key, known))
}

// seq returns the items of a list value and whether it was one. Null is not reported (the key is simply unset);
// any other non-list is.
func (d *decoder) seq(n *node, rel, what string) ([]*node, bool) {
	if n.kind == kindScalar && n.value == nil {
		return nil, false
	}
	if n.kind != kindSeq {
		d.wrongType(rel, n, what)
		return nil, false
	}
	return n.items, true
}

// keyDecoder decodes the value of one defined key into a *T; rel is the value's issue path. The decoder comes by
// value: it is a few words that never change once made, and a pointer passed through a function value would move
// every decoder to the heap.
type keyDecoder[T any] struct {
	key    string
	decode func(d decoder, t *T, v *node, rel string)
}

// keyTable is the set of keys one mapping of the format defines. Every mapping is decoded by walking its pairs
// through its table, so unknown-key reporting, Extra keeping and issue paths are written once for all of them.
type keyTable[T any] struct {
	// keys are the defined keys in protocol order: suggestions prefer the earlier of two equally close keys, and
	// the canonical and JSON encoders never let Extra shadow one of them.
	keys   []string
	ui     []string // protocol keys that do not affect the schema: kept in Extra without a warning
	known  []string // keys then ui, the candidates for "did you mean"
	decode map[string]func(d decoder, t *T, v *node, rel string)
}

func newKeyTable[T any](ui []string, entries []keyDecoder[T]) *keyTable[T] {
	t := &keyTable[T]{ui: ui, decode: make(map[string]func(decoder, *T, *node, string), len(entries))}
	for _, e := range entries {
		t.keys = append(t.keys, e.key)
		t.decode[e.key] = e.decode
	}
	t.known = append(append([]string{}, t.keys...), ui...)
	return t
}

// decodeKeys decodes the pairs of the mapping n (at issue path rel) into t. A key outside the table is reported;
// when extra is non-nil its value is also kept there, so that a registry round trip loses nothing.
func decodeKeys[T any](d *decoder, n *node, rel string, t *T, tab *keyTable[T], extra *map[string]any) {
	for _, p := range n.pairs {
		if dec, ok := tab.decode[p.key]; ok {
			dec(*d, t, p.val, joinKey(rel, p.key))
			continue
		}
		if extra == nil {
			d.unknown(rel, p.key, tab.known, false)
			continue
		}
		if *extra == nil {
			*extra = map[string]any{}
		}
		(*extra)[p.key] = p.val.plain()
		if !contains(tab.ui, p.key) {
			d.unknown(rel, p.key, tab.known, true)
		}
	}
}

// nested decodes an optional sub-mapping such as softDelete or vectorConfig; a value that is not a mapping is
// reported and yields nil.
func nested[T any](d *decoder, n *node, rel string, tab *keyTable[T]) *T {
	if !d.mapping(n, rel, "a mapping") {
		return nil
	}
	t := new(T)
	decodeKeys(d, n, rel, t, tab, nil)
	return t
}

var objectTable = newKeyTable([]string{"tags", "displayNameField", "titleFormat", "recordName", "compactLayout",
	"search", "fieldGroups", "validations", "stateMachines", "sharingModel", "keyPrefix", "actions", "partitioning",
	"cdc", "enable", "tenancy", "versioning"}, []keyDecoder[Object]{
	{"name", func(d decoder, o *Object, v *node, r string) { o.Name = d.str(v, r) }},
	{"label", func(d decoder, o *Object, v *node, r string) { o.Label = d.str(v, r) }},
	{"pluralLabel", func(d decoder, o *Object, v *node, r string) { o.PluralLabel = d.str(v, r) }},
	{"description", func(d decoder, o *Object, v *node, r string) { o.Description = d.str(v, r) }},
	{"icon", func(d decoder, o *Object, v *node, r string) { o.Icon = d.str(v, r) }},
	{"renamedFrom", func(d decoder, o *Object, v *node, r string) { o.RenamedFrom = d.str(v, r) }},
	{"fields", func(d decoder, o *Object, v *node, r string) { o.Fields = d.fields(v, r) }},
	{"indexes", func(d decoder, o *Object, v *node, r string) {
		items, _ := d.seq(v, r, "a list of indexes")
		for i, it := range items {
			o.Indexes = append(o.Indexes, Index{})
			d.index(&o.Indexes[i], it, joinIndex(r, i))
		}
	}},
	{"datasource", func(d decoder, o *Object, v *node, r string) { o.Datasource = d.str(v, r) }},
	{"active", func(d decoder, o *Object, v *node, r string) { b := d.boolean(v, r); o.Active = &b }},
	{"isSystem", func(d decoder, o *Object, v *node, r string) { o.IsSystem = d.boolean(v, r) }},
	{"abstract", func(d decoder, o *Object, v *node, r string) { o.Abstract = d.boolean(v, r) }},
	{"softDelete", func(d decoder, o *Object, v *node, r string) { o.SoftDelete = nested(&d, v, r, softDeleteTable) }},
})

var fieldTable = newKeyTable([]string{"format", "sortable", "group", "inlineHelpText", "placeholder", "helpText"},
	[]keyDecoder[Field]{
		{"type", func(d decoder, f *Field, v *node, r string) { f.Type = FieldType(d.str(v, r)) }},
		{"name", func(d decoder, f *Field, v *node, r string) { f.Name = d.str(v, r) }},
		{"label", func(d decoder, f *Field, v *node, r string) { f.Label = d.str(v, r) }},
		{"columnName", func(d decoder, f *Field, v *node, r string) { f.ColumnName = d.str(v, r) }},
		{"renamedFrom", func(d decoder, f *Field, v *node, r string) { f.RenamedFrom = d.str(v, r) }},
		{"required", func(d decoder, f *Field, v *node, r string) { f.Required = d.boolean(v, r) }},
		{"unique", func(d decoder, f *Field, v *node, r string) { f.Unique = d.boolean(v, r) }},
		{"defaultValue", func(_ decoder, f *Field, v *node, _ string) { f.DefaultValue = v.plain() }},
		{"multiple", func(d decoder, f *Field, v *node, r string) { f.Multiple = d.boolean(v, r) }},
		{"reference", func(d decoder, f *Field, v *node, r string) { f.Reference = d.str(v, r) }},
		{"deleteBehavior", func(d decoder, f *Field, v *node, r string) { f.DeleteBehavior = d.str(v, r) }},
		{"maxLength", func(d decoder, f *Field, v *node, r string) { f.MaxLength = d.integer(v, r) }},
		{"minLength", func(d decoder, f *Field, v *node, r string) { f.MinLength = d.integer(v, r) }},
		{"precision", func(d decoder, f *Field, v *node, r string) { f.Precision = d.integer(v, r) }},
		{"scale", func(d decoder, f *Field, v *node, r string) { f.Scale = d.integer(v, r) }},
		{"min", func(d decoder, f *Field, v *node, r string) { f.Min = d.number(v, r) }},
		{"max", func(d decoder, f *Field, v *node, r string) { f.Max = d.number(v, r) }},
		{"options", func(d decoder, f *Field, v *node, r string) { f.Options = d.options(v, r) }},
		{"index", func(d decoder, f *Field, v *node, r string) { f.Index = d.boolean(v, r) }},
		{"externalId", func(d decoder, f *Field, v *node, r string) { f.ExternalID = d.boolean(v, r) }},
		{"expression", func(d decoder, f *Field, v *node, r string) { f.Expression = d.str(v, r) }},
		{"summaryOperations", func(d decoder, f *Field, v *node, r string) { f.SummaryOperations = nested(&d, v, r, summaryTable) }},
		{"autonumberFormat", func(d decoder, f *Field, v *node, r string) { f.AutonumberFormat = d.str(v, r) }},
		{"vectorConfig", func(d decoder, f *Field, v *node, r string) { f.VectorConfig = nested(&d, v, r, vectorTable) }},
		{"currencyConfig", func(d decoder, f *Field, v *node, r string) { f.CurrencyConfig = nested(&d, v, r, currencyTable) }},
		{"description", func(d decoder, f *Field, v *node, r string) { f.Description = d.str(v, r) }},
		{"hidden", func(d decoder, f *Field, v *node, r string) { f.Hidden = d.boolean(v, r) }},
		{"readonly", func(d decoder, f *Field, v *node, r string) { f.Readonly = d.boolean(v, r) }},
		{"searchable", func(d decoder, f *Field, v *node, r string) { f.Searchable = d.boolean(v, r) }},
	})

var optionTable = newKeyTable(nil, []keyDecoder[Option]{
	{"label", func(d decoder, o *Option, v *node, r string) { o.Label = d.str(v, r) }},
	{"value", func(d decoder, o *Option, v *node, r string) { o.Value = d.str(v, r) }},
	{"color", func(d decoder, o *Option, v *node, r string) { o.Color = d.str(v, r) }},
	{"default", func(d decoder, o *Option, v *node, r string) { o.Default = d.boolean(v, r) }},
})

var indexTable = newKeyTable(nil, []keyDecoder[Index]{
	{"name", func(d decoder, ix *Index, v *node, r string) { ix.Name = d.str(v, r) }},
	{"fields", func(d decoder, ix *Index, v *node, r string) { ix.Fields = d.strList(v, r) }},
	{"type", func(d decoder, ix *Index, v *node, r string) { ix.Type = d.str(v, r) }},
	{"unique", func(d decoder, ix *Index, v *node, r string) { ix.Unique = d.boolean(v, r) }},
	{"partial", func(d decoder, ix *Index, v *node, r string) { ix.Partial = d.str(v, r) }},
})

var softDeleteTable = newKeyTable(nil, []keyDecoder[SoftDelete]{
	{"enabled", func(d decoder, s *SoftDelete, v *node, r string) { s.Enabled = d.boolean(v, r) }},
	{"field", func(d decoder, s *SoftDelete, v *node, r string) { s.Field = d.str(v, r) }},
	{"cascadeDelete", func(d decoder, s *SoftDelete, v *node, r string) { s.CascadeDelete = d.boolean(v, r) }},
})

var summaryTable = newKeyTable(nil, []keyDecoder[SummaryOperations]{
	{"object", func(d decoder, s *SummaryOperations, v *node, r string) { s.Object = d.str(v, r) }},
	{"field", func(d decoder, s *SummaryOperations, v *node, r string) { s.Field = d.str(v, r) }},
	{"function", func(d decoder, s *SummaryOperations, v *node, r string) { s.Function = d.str(v, r) }},
})

var vectorTable = newKeyTable(nil, []keyDecoder[VectorConfig]{
	{"dimensions", func(d decoder, vc *VectorConfig, v *node, r string) {
		if i := d.integer(v, r); i != nil {
			vc.Dimensions = *i
		}
	}},
	{"distanceMetric", func(d decoder, vc *VectorConfig, v *node, r string) { vc.DistanceMetric = d.str(v, r) }},
	{"normalized", func(d decoder, vc *VectorConfig, v *node, r string) { vc.Normalized = d.boolean(v, r) }},
	{"indexed", func(d decoder, vc *VectorConfig, v *node, r string) { b := d.boolean(v, r); vc.Indexed = &b }},
	{"indexType", func(d decoder, vc *VectorConfig, v *node, r string) { vc.IndexType = d.str(v, r) }},
})

var currencyTable = newKeyTable(nil, []keyDecoder[CurrencyConfig]{
	{"precision", func(d decoder, c *CurrencyConfig, v *node, r string) { c.Precision = d.integer(v, r) }},
	{"currencyMode", func(d decoder, c *CurrencyConfig, v *node, r string) { c.CurrencyMode = d.str(v, r) }},
	{"defaultCurrency", func(d decoder, c *CurrencyConfig, v *node, r string) { c.DefaultCurrency = d.str(v, r) }},
})

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// objectPath is the issue path of an object: objects.<name> for a valid name, objects[i] otherwise so that a
// hostile name cannot forge paths.
func objectPath(name string, i int) string {
	if IsIdentifier(name) {
		return "objects." + name
	}
	return joinIndex("objects", i)
}

// decodeObject decodes into o, which the caller has already placed where it will live (the table's setters take it
// through a function value, so a local Object would be one more heap allocation per object). It reports false,
// leaving o untouched, when root is not a mapping.
func decodeObject(o *Object, root *node, file string, index int, out *issues) bool {
	name := ""
	if root.kind == kindMap {
		if n := root.get("name"); n != nil && n.kind == kindScalar {
			name, _ = n.value.(string)
		}
	}
	d := newDecoder(file, objectPath(name, index), root, out)
	if !d.mapping(root, "", "a mapping (one object definition per file)") {
		return false
	}
	*o = Object{Source: file, Lines: d.lines}
	decodeKeys(d, root, "", o, objectTable, &o.Extra)
	if root.get("fields") == nil {
		d.errorf(CodeMissingRequired, "", "object has no fields mapping")
	}
	return true
}

// fields decodes an object's fields mapping, keeping declaration order (it is the column order).
func (d *decoder) fields(n *node, rel string) []Field {
	if n.kind == kindScalar && n.value == nil {
		return nil
	}
	if !d.mapping(n, rel, "a mapping from field key to field definition") {
		return nil
	}
	out := make([]Field, len(n.pairs))
	for i, p := range n.pairs {
		out[i].Key = p.key
		d.field(&out[i], p.val, joinKey(rel, p.key))
	}
	return out
}

// field decodes into f, which lives in its slice already: the table's setters take it through a function value,
// so a Field on the stack would escape to the heap once more per field.
func (d *decoder) field(f *Field, n *node, rel string) {
	if d.mapping(n, rel, "a mapping with at least a type (e.g. { type: text })") {
		decodeKeys(d, n, rel, f, fieldTable, &f.Extra)
	}
}

func (d *decoder) options(n *node, rel string) []Option {
	items, _ := d.seq(n, rel, "a list of { label, value } options")
	var out []Option
	for i, it := range items {
		r := joinIndex(rel, i)
		if it.kind != kindMap {
			// §6.21: upstream examples use plain strings; the schema requires {label, value}.
			d.wrongType(r, it, "a { label, value } mapping (plain strings are not valid options)")
			continue
		}
		out = append(out, Option{})
		decodeKeys(d, it, r, &out[len(out)-1], optionTable, nil)
	}
	return out
}

func (d *decoder) index(ix *Index, n *node, rel string) {
	if d.mapping(n, rel, "a mapping with fields") {
		decodeKeys(d, n, rel, ix, indexTable, nil)
	}
}

// Dataset defaults (protocol §6 item 18), filled in when the key is absent.
const (
	DefaultExternalID = "name"
	DefaultSeedMode   = "upsert"
)

// DefaultSeedEnv is the env list a dataset gets when it names none.
var DefaultSeedEnv = []string{"prod", "dev", "test"}

var datasetTable = newKeyTable(nil, []keyDecoder[Dataset]{
	{"object", func(d decoder, ds *Dataset, v *node, r string) { ds.Object = d.str(v, r) }},
	{"externalId", func(d decoder, ds *Dataset, v *node, r string) { ds.ExternalID = d.str(v, r) }},
	{"mode", func(d decoder, ds *Dataset, v *node, r string) { ds.Mode = d.str(v, r) }},
	{"env", func(d decoder, ds *Dataset, v *node, r string) { ds.Env = d.strList(v, r) }},
	{"records", func(d decoder, ds *Dataset, v *node, r string) {
		items, ok := d.seq(v, r, "a list of records")
		if !ok {
			return
		}
		ds.Records = make([]map[string]any, 0, len(items))
		for i, it := range items {
			if it.kind != kindMap {
				d.wrongType(joinIndex(r, i), it, "a record mapping")
				continue
			}
			ds.Records = append(ds.Records, it.plain().(map[string]any))
		}
	}},
})

// decodeDataset decodes into ds in place, as decodeObject does, leaving it untouched when n is not a mapping.
func decodeDataset(ds *Dataset, n *node, file, prefix string, out *issues) bool {
	d := newDecoder(file, prefix, n, out)
	if !d.mapping(n, "", "a dataset mapping { object, records }") {
		return false
	}
	*ds = Dataset{Source: file, Lines: d.lines}
	decodeKeys(d, n, "", ds, datasetTable, nil)
	if ds.ExternalID == "" {
		ds.ExternalID = DefaultExternalID
	}
	if ds.Mode == "" {
		ds.Mode = DefaultSeedMode
	}
	if ds.Env == nil {
		ds.Env = append([]string(nil), DefaultSeedEnv...)
	}
	return true
}

var manifestTable = newKeyTable([]string{"description", "label"}, []keyDecoder[Manifest]{
	{"name", func(d decoder, m *Manifest, v *node, r string) { m.Name = d.str(v, r) }},
	{"version", func(d decoder, m *Manifest, v *node, r string) {
		if v.kind == kindScalar {
			switch v.value.(type) {
			case int64, float64:
				d.errorf(CodeInvalidType, r, "version must be a string; quote it (version: \"1.0.0\")")
				return
			}
		}
		m.Version = d.str(v, r)
	}},
	{"checksum", func(d decoder, m *Manifest, v *node, r string) { m.Checksum = d.str(v, r) }},
	{"objects", func(d decoder, m *Manifest, v *node, r string) { m.Objects = d.strList(v, r) }},
	{"views", func(d decoder, m *Manifest, v *node, r string) { m.Views = d.strList(v, r) }},
	{"flows", func(d decoder, m *Manifest, v *node, r string) { m.Flows = d.strList(v, r) }},
	{"permissions", func(d decoder, m *Manifest, v *node, r string) { m.Permissions = d.strList(v, r) }},
	{"createdAt", func(d decoder, m *Manifest, v *node, r string) { m.CreatedAt = d.str(v, r) }},
})

func decodeManifest(n *node, file string, out *issues) Manifest {
	d := newDecoder(file, "manifest", n, out)
	m := Manifest{Source: file, Lines: d.lines}
	if d.mapping(n, "", "a mapping { name, version, objects, ... }") {
		decodeKeys(d, n, "", &m, manifestTable, &m.Extra)
	}
	return m
}

// ParseObject parses one object definition from data (JSON when file ends in .json, YAML otherwise).
// The object is nil only when the document could not be parsed or is not a mapping; the issues say why.
// It checks only the document's shape and types; ValidateObjects checks the rules.
func ParseObject(file string, data []byte) (*Object, []Issue) {
	var out issues
	root, perr := parseDocument(file, data)
	if perr != nil {
		out.errorf(perr.code, "", file, perr.line, "%s", perr.msg)
		return nil, out.all()
	}
	o := new(Object)
	if !decodeObject(o, root, file, 0, &out) {
		return nil, out.all()
	}
	return o, out.all()
}
