package bundle

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The engine hashes every object of a plan, so ObjectChecksum is on the planning hot path. canonWriter writes an
// Object's canonical JSON directly, byte-for-byte what CanonicalJSON(o) produces (TestFastCanonicalMatches and
// the fuzz target hold it to that), without the marshal → decode → re-encode round trip.

var errNotFast = errors.New("value needs the generic encoder")

// canonWriter hands out canonObjects by nesting depth and reuses them, so hashing many objects allocates little.
type canonWriter struct {
	pool  []*canonObject
	depth int
}

type canonEntry struct {
	key   string
	start int // value bytes live in scratch[start:end]
	end   int
}

// canonObject collects key/value pairs into a scratch buffer, then emits them sorted by key.
type canonObject struct {
	w       *canonWriter
	entries []canonEntry
	scratch *bytes.Buffer
}

func (w *canonWriter) begin() *canonObject {
	if w.depth == len(w.pool) {
		w.pool = append(w.pool, &canonObject{w: w, scratch: &bytes.Buffer{}})
	}
	c := w.pool[w.depth]
	w.depth++
	c.entries = c.entries[:0]
	c.scratch.Reset()
	return c
}

func (c *canonObject) add(key string, write func(b *bytes.Buffer) error) error {
	start := c.scratch.Len()
	if err := write(c.scratch); err != nil {
		return err
	}
	c.entries = append(c.entries, canonEntry{key: key, start: start, end: c.scratch.Len()})
	return nil
}

func (c *canonObject) mark(key string, start int) {
	c.entries = append(c.entries, canonEntry{key: key, start: start, end: c.scratch.Len()})
}

func (c *canonObject) str(key, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	start := c.scratch.Len()
	canonString(c.scratch, v)
	c.mark(key, start)
}

func (c *canonObject) boolean(key string, v, omitEmpty bool) {
	if omitEmpty && !v {
		return
	}
	start := c.scratch.Len()
	c.scratch.WriteString(strconv.FormatBool(v))
	c.mark(key, start)
}

func (c *canonObject) intp(key string, v *int) {
	if v == nil {
		return
	}
	start := c.scratch.Len()
	c.scratch.WriteString(strconv.Itoa(*v))
	c.mark(key, start)
}

func (c *canonObject) floatp(key string, v *float64) error {
	if v == nil {
		return nil
	}
	start := c.scratch.Len()
	if err := canonFloat(c.scratch, *v); err != nil {
		return err
	}
	c.mark(key, start)
	return nil
}

// sub adds key holding a nested object whose keys fill adds; pooled canonObjects keep nesting cheap.
func (c *canonObject) sub(key string, fill func(sc *canonObject)) {
	_ = c.add(key, func(b *bytes.Buffer) error {
		c.w.nested(b, fill)
		return nil
	})
}

// objects adds key holding a JSON array of n nested objects; fill adds the keys of element i.
func (c *canonObject) objects(key string, n int, fill func(ec *canonObject, i int)) {
	_ = c.add(key, func(b *bytes.Buffer) error {
		return canonArray(b, n, func(i int) error {
			c.w.nested(b, func(ec *canonObject) { fill(ec, i) })
			return nil
		})
	})
}

// nested writes to b one object whose keys fill adds.
func (w *canonWriter) nested(b *bytes.Buffer, fill func(c *canonObject)) {
	c := w.begin()
	fill(c)
	c.end(b)
}

// canonArray writes a JSON array of n elements; item writes element i to the same buffer.
func canonArray(b *bytes.Buffer, n int, item func(i int) error) error {
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := item(i); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

// canonMap writes m as a JSON object with its keys sorted; value writes the value of key k to the same buffer.
func canonMap(b *bytes.Buffer, m map[string]any, value func(k string) error) error {
	b.WriteByte('{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		canonString(b, k)
		b.WriteByte(':')
		if err := value(k); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func (c *canonObject) end(dst *bytes.Buffer) {
	c.w.depth--
	slices.SortFunc(c.entries, func(a, b canonEntry) int { return strings.Compare(a.key, b.key) })
	sb := c.scratch.Bytes()
	dst.WriteByte('{')
	for i, e := range c.entries {
		if i > 0 {
			dst.WriteByte(',')
		}
		canonString(dst, e.key)
		dst.WriteByte(':')
		dst.Write(sb[e.start:e.end])
	}
	dst.WriteByte('}')
}

// canonString writes s as a JSON string. Plain printable ASCII is written directly; anything else goes through
// encoding/json so escaping is exactly what CanonicalJSON produces.
func canonString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			writeString(b, s)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

func canonFloat(b *bytes.Buffer, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errNotFast
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		b.WriteString(strconv.FormatInt(int64(f), 10))
		return nil
	}
	return errNotFast
}

// canonAny writes a generic value; types other than the ones loading produces are refused so the caller falls
// back to the generic encoder.
func canonAny(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		canonString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		return canonFloat(b, x)
	case []any:
		return canonArray(b, len(x), func(i int) error { return canonAny(b, x[i]) })
	case map[string]any:
		return canonMap(b, x, func(k string) error { return canonAny(b, x[k]) })
	default:
		return errNotFast
	}
	return nil
}

func (c *canonObject) extra(extra map[string]any, modelled []string) error {
	for k, v := range extra {
		if contains(modelled, k) {
			continue
		}
		if err := c.add(k, func(b *bytes.Buffer) error { return canonAny(b, v) }); err != nil {
			return err
		}
	}
	return nil
}

func (w *canonWriter) field(dst *bytes.Buffer, f *Field) error {
	c := w.begin()
	c.str("type", string(f.Type), false)
	c.str("name", f.Name, true)
	c.str("label", f.Label, true)
	c.str("columnName", f.ColumnName, true)
	c.str("renamedFrom", f.RenamedFrom, true)
	c.boolean("required", f.Required, true)
	c.boolean("unique", f.Unique, true)
	if f.DefaultValue != nil {
		if err := c.add("defaultValue", func(b *bytes.Buffer) error { return canonAny(b, f.DefaultValue) }); err != nil {
			return err
		}
	}
	c.boolean("multiple", f.Multiple, true)
	c.str("reference", f.Reference, true)
	c.str("deleteBehavior", f.DeleteBehavior, true)
	c.intp("maxLength", f.MaxLength)
	c.intp("minLength", f.MinLength)
	c.intp("precision", f.Precision)
	c.intp("scale", f.Scale)
	if err := c.floatp("min", f.Min); err != nil {
		return err
	}
	if err := c.floatp("max", f.Max); err != nil {
		return err
	}
	if len(f.Options) > 0 {
		c.objects("options", len(f.Options), func(oc *canonObject, i int) {
			o := &f.Options[i]
			oc.str("label", o.Label, false)
			oc.str("value", o.Value, false)
			oc.str("color", o.Color, true)
			oc.boolean("default", o.Default, true)
		})
	}
	c.boolean("index", f.Index, true)
	c.boolean("externalId", f.ExternalID, true)
	c.str("expression", f.Expression, true)
	if s := f.SummaryOperations; s != nil {
		c.sub("summaryOperations", func(sc *canonObject) {
			sc.str("object", s.Object, false)
			sc.str("field", s.Field, false)
			sc.str("function", s.Function, false)
		})
	}
	c.str("autonumberFormat", f.AutonumberFormat, true)
	if v := f.VectorConfig; v != nil {
		c.sub("vectorConfig", func(vc *canonObject) {
			vc.intp("dimensions", &v.Dimensions)
			vc.str("distanceMetric", v.DistanceMetric, true)
			vc.boolean("normalized", v.Normalized, true)
			if v.Indexed != nil {
				vc.boolean("indexed", *v.Indexed, false)
			}
			vc.str("indexType", v.IndexType, true)
		})
	}
	if cc := f.CurrencyConfig; cc != nil {
		c.sub("currencyConfig", func(xc *canonObject) {
			xc.intp("precision", cc.Precision)
			xc.str("currencyMode", cc.CurrencyMode, true)
			xc.str("defaultCurrency", cc.DefaultCurrency, true)
		})
	}
	c.str("description", f.Description, true)
	c.boolean("hidden", f.Hidden, true)
	c.boolean("readonly", f.Readonly, true)
	c.boolean("searchable", f.Searchable, true)
	if err := c.extra(f.Extra, fieldTable.keys); err != nil {
		return err
	}
	c.end(dst)
	return nil
}

func (w *canonWriter) object(dst *bytes.Buffer, o *Object) error {
	c := w.begin()
	c.str("name", o.Name, false)
	c.str("label", o.Label, true)
	c.str("pluralLabel", o.PluralLabel, true)
	c.str("description", o.Description, true)
	c.str("icon", o.Icon, true)
	c.str("renamedFrom", o.RenamedFrom, true)
	var ferr error
	_ = c.add("fields", func(b *bytes.Buffer) error {
		fc := w.begin()
		seen := make(map[string]struct{}, len(o.Fields))
		for i := range o.Fields {
			f := &o.Fields[i]
			// A repeated key cannot come from loading; the generic encoder keeps the last, so defer to it.
			if _, dup := seen[f.Key]; dup {
				ferr = errNotFast
			}
			seen[f.Key] = struct{}{}
			_ = fc.add(f.Key, func(b *bytes.Buffer) error {
				if err := w.field(b, f); err != nil {
					ferr = err
				}
				return nil
			})
		}
		fc.end(b)
		return nil
	})
	if ferr != nil {
		return ferr
	}
	if len(o.Indexes) > 0 {
		c.objects("indexes", len(o.Indexes), func(ic *canonObject, i int) {
			ix := &o.Indexes[i]
			ic.str("name", ix.Name, true)
			_ = ic.add("fields", func(b *bytes.Buffer) error {
				if ix.Fields == nil {
					b.WriteString("null")
					return nil
				}
				return canonArray(b, len(ix.Fields), func(j int) error { canonString(b, ix.Fields[j]); return nil })
			})
			ic.str("type", ix.Type, true)
			ic.boolean("unique", ix.Unique, true)
			ic.str("partial", ix.Partial, true)
		})
	}
	c.str("datasource", o.Datasource, true)
	if o.Active != nil {
		c.boolean("active", *o.Active, false)
	}
	c.boolean("isSystem", o.IsSystem, true)
	c.boolean("abstract", o.Abstract, true)
	if s := o.SoftDelete; s != nil {
		c.sub("softDelete", func(sc *canonObject) {
			sc.boolean("enabled", s.Enabled, false)
			sc.str("field", s.Field, true)
			sc.boolean("cascadeDelete", s.CascadeDelete, true)
		})
	}
	if err := c.extra(o.Extra, objectTable.keys); err != nil {
		return err
	}
	c.end(dst)
	return nil
}

// canonicalObject returns the canonical JSON of o, identical to CanonicalJSON(o).
func canonicalObject(o *Object) ([]byte, error) {
	var w canonWriter
	var out bytes.Buffer
	return w.canonical(&out, o)
}

// canonical writes o's canonical JSON to out (reset first) and returns its bytes.
func (w *canonWriter) canonical(out *bytes.Buffer, o *Object) ([]byte, error) {
	out.Reset()
	w.depth = 0
	if err := w.object(out, o); err != nil {
		return CanonicalJSON(o)
	}
	return out.Bytes(), nil
}
