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
	if n.kind == kindScalar {
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
	if n.kind == kindScalar && n.value == nil {
		return nil
	}
	if n.kind != kindSeq {
		d.wrongType(rel, n, "a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
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

var (
	objectKeys = []string{"name", "label", "pluralLabel", "description", "icon", "fields", "indexes", "datasource",
		"active", "isSystem", "abstract", "softDelete"}
	// objectUIKeys are protocol keys that do not affect the schema; they are kept in Extra without a warning.
	objectUIKeys = []string{"tags", "displayNameField", "titleFormat", "recordName", "compactLayout", "search",
		"fieldGroups", "validations", "stateMachines", "sharingModel", "keyPrefix", "actions", "partitioning", "cdc",
		"enable", "tenancy", "versioning"}
	fieldKeys = []string{"type", "name", "label", "columnName", "required", "unique", "defaultValue", "multiple",
		"reference", "deleteBehavior", "maxLength", "minLength", "precision", "scale", "min", "max", "options", "index",
		"externalId", "expression", "summaryOperations", "autonumberFormat", "vectorConfig", "currencyConfig",
		"description", "hidden", "readonly", "searchable"}
	fieldUIKeys    = []string{"format", "sortable", "group", "inlineHelpText", "placeholder", "helpText"}
	optionKeys     = []string{"label", "value", "color", "default"}
	indexKeys      = []string{"name", "fields", "type", "unique", "partial"}
	softDeleteKeys = []string{"enabled", "field", "cascadeDelete"}
	summaryKeys    = []string{"object", "field", "function"}
	vectorKeys     = []string{"dimensions", "distanceMetric", "normalized", "indexed", "indexType"}
	currencyKeys   = []string{"precision", "currencyMode", "defaultCurrency"}
	datasetKeys    = []string{"object", "externalId", "mode", "env", "records"}
	manifestKeys   = []string{"name", "version", "checksum", "objects", "views", "flows", "permissions", "createdAt"}
	manifestUIKeys = []string{"description", "label"}
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func withUI(keys, ui []string) []string { return append(append([]string{}, keys...), ui...) }

// objectPath is the issue path of an object: objects.<name> for a valid name, objects[i] otherwise so that a
// hostile name cannot forge paths.
func objectPath(name string, i int) string {
	if IsIdentifier(name) {
		return "objects." + name
	}
	return joinIndex("objects", i)
}

func decodeObject(root *node, file string, index int, out *issues) (Object, bool) {
	name := ""
	if root.kind == kindMap {
		if n := root.get("name"); n != nil && n.kind == kindScalar {
			name, _ = n.value.(string)
		}
	}
	d := newDecoder(file, objectPath(name, index), root, out)
	o := Object{Source: file, Lines: d.lines}
	if !d.mapping(root, "", "a mapping (one object definition per file)") {
		return o, false
	}
	sawFields := false
	for _, p := range root.pairs {
		rel := joinKey("", p.key)
		v := p.val
		switch p.key {
		case "name":
			o.Name = d.str(v, rel)
		case "label":
			o.Label = d.str(v, rel)
		case "pluralLabel":
			o.PluralLabel = d.str(v, rel)
		case "description":
			o.Description = d.str(v, rel)
		case "icon":
			o.Icon = d.str(v, rel)
		case "datasource":
			o.Datasource = d.str(v, rel)
		case "active":
			b := d.boolean(v, rel)
			o.Active = &b
		case "isSystem":
			o.IsSystem = d.boolean(v, rel)
		case "abstract":
			o.Abstract = d.boolean(v, rel)
		case "fields":
			sawFields = true
			if v.kind == kindScalar && v.value == nil {
				continue
			}
			if !d.mapping(v, rel, "a mapping from field key to field definition") {
				continue
			}
			o.Fields = make([]Field, 0, len(v.pairs))
			for _, fp := range v.pairs {
				o.Fields = append(o.Fields, d.field(fp.key, fp.val, joinKey(rel, fp.key)))
			}
		case "indexes":
			if v.kind == kindScalar && v.value == nil {
				continue
			}
			if v.kind != kindSeq {
				d.wrongType(rel, v, "a list of indexes")
				continue
			}
			for i, it := range v.items {
				o.Indexes = append(o.Indexes, d.index(it, joinIndex(rel, i)))
			}
		case "softDelete":
			if d.mapping(v, rel, "a mapping") {
				o.SoftDelete = d.softDelete(v, rel)
			}
		default:
			if o.Extra == nil {
				o.Extra = map[string]any{}
			}
			o.Extra[p.key] = v.plain()
			if !contains(objectUIKeys, p.key) {
				d.unknown("", p.key, withUI(objectKeys, objectUIKeys), true)
			}
		}
	}
	if !sawFields {
		d.errorf(CodeMissingRequired, "", "object has no fields mapping")
	}
	return o, true
}

func (d *decoder) field(key string, n *node, rel string) Field {
	f := Field{Key: key}
	if !d.mapping(n, rel, "a mapping with at least a type (e.g. { type: text })") {
		return f
	}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		v := p.val
		switch p.key {
		case "type":
			f.Type = FieldType(d.str(v, r))
		case "name":
			f.Name = d.str(v, r)
		case "label":
			f.Label = d.str(v, r)
		case "columnName":
			f.ColumnName = d.str(v, r)
		case "required":
			f.Required = d.boolean(v, r)
		case "unique":
			f.Unique = d.boolean(v, r)
		case "defaultValue":
			f.DefaultValue = v.plain()
		case "multiple":
			f.Multiple = d.boolean(v, r)
		case "reference":
			f.Reference = d.str(v, r)
		case "deleteBehavior":
			f.DeleteBehavior = d.str(v, r)
		case "maxLength":
			f.MaxLength = d.integer(v, r)
		case "minLength":
			f.MinLength = d.integer(v, r)
		case "precision":
			f.Precision = d.integer(v, r)
		case "scale":
			f.Scale = d.integer(v, r)
		case "min":
			f.Min = d.number(v, r)
		case "max":
			f.Max = d.number(v, r)
		case "options":
			f.Options = d.options(v, r)
		case "index":
			f.Index = d.boolean(v, r)
		case "externalId":
			f.ExternalID = d.boolean(v, r)
		case "expression":
			f.Expression = d.str(v, r)
		case "summaryOperations":
			if d.mapping(v, r, "a mapping") {
				f.SummaryOperations = d.summary(v, r)
			}
		case "autonumberFormat":
			f.AutonumberFormat = d.str(v, r)
		case "vectorConfig":
			if d.mapping(v, r, "a mapping") {
				f.VectorConfig = d.vector(v, r)
			}
		case "currencyConfig":
			if d.mapping(v, r, "a mapping") {
				f.CurrencyConfig = d.currency(v, r)
			}
		case "description":
			f.Description = d.str(v, r)
		case "hidden":
			f.Hidden = d.boolean(v, r)
		case "readonly":
			f.Readonly = d.boolean(v, r)
		case "searchable":
			f.Searchable = d.boolean(v, r)
		default:
			if f.Extra == nil {
				f.Extra = map[string]any{}
			}
			f.Extra[p.key] = v.plain()
			if !contains(fieldUIKeys, p.key) {
				d.unknown(rel, p.key, withUI(fieldKeys, fieldUIKeys), true)
			}
		}
	}
	return f
}

func (d *decoder) options(n *node, rel string) []Option {
	if n.kind == kindScalar && n.value == nil {
		return nil
	}
	if n.kind != kindSeq {
		d.wrongType(rel, n, "a list of { label, value } options")
		return nil
	}
	var out []Option
	for i, it := range n.items {
		r := joinIndex(rel, i)
		if it.kind != kindMap {
			// §6.21: upstream examples use plain strings; the schema requires {label, value}.
			d.wrongType(r, it, "a { label, value } mapping (plain strings are not valid options)")
			continue
		}
		var o Option
		for _, p := range it.pairs {
			pr := joinKey(r, p.key)
			switch p.key {
			case "label":
				o.Label = d.str(p.val, pr)
			case "value":
				o.Value = d.str(p.val, pr)
			case "color":
				o.Color = d.str(p.val, pr)
			case "default":
				o.Default = d.boolean(p.val, pr)
			default:
				d.unknown(r, p.key, optionKeys, false)
			}
		}
		out = append(out, o)
	}
	return out
}

func (d *decoder) index(n *node, rel string) Index {
	var ix Index
	if !d.mapping(n, rel, "a mapping with fields") {
		return ix
	}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		switch p.key {
		case "name":
			ix.Name = d.str(p.val, r)
		case "fields":
			ix.Fields = d.strList(p.val, r)
		case "type":
			ix.Type = d.str(p.val, r)
		case "unique":
			ix.Unique = d.boolean(p.val, r)
		case "partial":
			ix.Partial = d.str(p.val, r)
		default:
			d.unknown(rel, p.key, indexKeys, false)
		}
	}
	return ix
}

func (d *decoder) softDelete(n *node, rel string) *SoftDelete {
	s := &SoftDelete{}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		switch p.key {
		case "enabled":
			s.Enabled = d.boolean(p.val, r)
		case "field":
			s.Field = d.str(p.val, r)
		case "cascadeDelete":
			s.CascadeDelete = d.boolean(p.val, r)
		default:
			d.unknown(rel, p.key, softDeleteKeys, false)
		}
	}
	return s
}

func (d *decoder) summary(n *node, rel string) *SummaryOperations {
	s := &SummaryOperations{}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		switch p.key {
		case "object":
			s.Object = d.str(p.val, r)
		case "field":
			s.Field = d.str(p.val, r)
		case "function":
			s.Function = d.str(p.val, r)
		default:
			d.unknown(rel, p.key, summaryKeys, false)
		}
	}
	return s
}

func (d *decoder) vector(n *node, rel string) *VectorConfig {
	v := &VectorConfig{}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		switch p.key {
		case "dimensions":
			if i := d.integer(p.val, r); i != nil {
				v.Dimensions = *i
			}
		case "distanceMetric":
			v.DistanceMetric = d.str(p.val, r)
		case "normalized":
			v.Normalized = d.boolean(p.val, r)
		case "indexed":
			b := d.boolean(p.val, r)
			v.Indexed = &b
		case "indexType":
			v.IndexType = d.str(p.val, r)
		default:
			d.unknown(rel, p.key, vectorKeys, false)
		}
	}
	return v
}

func (d *decoder) currency(n *node, rel string) *CurrencyConfig {
	c := &CurrencyConfig{}
	for _, p := range n.pairs {
		r := joinKey(rel, p.key)
		switch p.key {
		case "precision":
			c.Precision = d.integer(p.val, r)
		case "currencyMode":
			c.CurrencyMode = d.str(p.val, r)
		case "defaultCurrency":
			c.DefaultCurrency = d.str(p.val, r)
		default:
			d.unknown(rel, p.key, currencyKeys, false)
		}
	}
	return c
}

// Dataset defaults (protocol §6 item 18), filled in when the key is absent.
const (
	DefaultExternalID = "name"
	DefaultSeedMode   = "upsert"
)

// DefaultSeedEnv is the env list a dataset gets when it names none.
var DefaultSeedEnv = []string{"prod", "dev", "test"}

func decodeDataset(n *node, file, prefix string, out *issues) (Dataset, bool) {
	d := newDecoder(file, prefix, n, out)
	ds := Dataset{Source: file, Lines: d.lines}
	if !d.mapping(n, "", "a dataset mapping { object, records }") {
		return ds, false
	}
	for _, p := range n.pairs {
		r := joinKey("", p.key)
		switch p.key {
		case "object":
			ds.Object = d.str(p.val, r)
		case "externalId":
			ds.ExternalID = d.str(p.val, r)
		case "mode":
			ds.Mode = d.str(p.val, r)
		case "env":
			ds.Env = d.strList(p.val, r)
		case "records":
			if p.val.kind == kindScalar && p.val.value == nil {
				continue
			}
			if p.val.kind != kindSeq {
				d.wrongType(r, p.val, "a list of records")
				continue
			}
			ds.Records = make([]map[string]any, 0, len(p.val.items))
			for i, it := range p.val.items {
				if it.kind != kindMap {
					d.wrongType(joinIndex(r, i), it, "a record mapping")
					continue
				}
				ds.Records = append(ds.Records, it.plain().(map[string]any))
			}
		default:
			d.unknown("", p.key, datasetKeys, false)
		}
	}
	if ds.ExternalID == "" {
		ds.ExternalID = DefaultExternalID
	}
	if ds.Mode == "" {
		ds.Mode = DefaultSeedMode
	}
	if ds.Env == nil {
		ds.Env = append([]string(nil), DefaultSeedEnv...)
	}
	return ds, true
}

func decodeManifest(n *node, file string, out *issues) Manifest {
	d := newDecoder(file, "manifest", n, out)
	m := Manifest{Source: file, Lines: d.lines}
	if !d.mapping(n, "", "a mapping { name, version, objects, ... }") {
		return m
	}
	for _, p := range n.pairs {
		r := joinKey("", p.key)
		switch p.key {
		case "name":
			m.Name = d.str(p.val, r)
		case "version":
			if p.val.kind == kindScalar {
				switch p.val.value.(type) {
				case int64, float64:
					d.errorf(CodeInvalidType, r, "version must be a string; quote it (version: \"1.0.0\")")
					continue
				}
			}
			m.Version = d.str(p.val, r)
		case "checksum":
			m.Checksum = d.str(p.val, r)
		case "objects":
			m.Objects = d.strList(p.val, r)
		case "views":
			m.Views = d.strList(p.val, r)
		case "flows":
			m.Flows = d.strList(p.val, r)
		case "permissions":
			m.Permissions = d.strList(p.val, r)
		case "createdAt":
			m.CreatedAt = d.str(p.val, r)
		default:
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[p.key] = p.val.plain()
			if !contains(manifestUIKeys, p.key) {
				d.unknown("", p.key, withUI(manifestKeys, manifestUIKeys), true)
			}
		}
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
	o, ok := decodeObject(root, file, 0, &out)
	if !ok {
		return nil, out.all()
	}
	return &o, out.all()
}
