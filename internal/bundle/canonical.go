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
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := canonAny(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			canonString(b, k)
			b.WriteByte(':')
			if err := canonAny(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
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
		_ = c.add("options", func(b *bytes.Buffer) error {
			b.WriteByte('[')
			for i, o := range f.Options {
				if i > 0 {
					b.WriteByte(',')
				}
				oc := w.begin()
				oc.str("label", o.Label, false)
				oc.str("value", o.Value, false)
				oc.str("color", o.Color, true)
				oc.boolean("default", o.Default, true)
				oc.end(b)
			}
			b.WriteByte(']')
			return nil
		})
	}
	c.boolean("index", f.Index, true)
	c.boolean("externalId", f.ExternalID, true)
	c.str("expression", f.Expression, true)
	if s := f.SummaryOperations; s != nil {
		_ = c.add("summaryOperations", func(b *bytes.Buffer) error {
			sc := w.begin()
			sc.str("object", s.Object, false)
			sc.str("field", s.Field, false)
			sc.str("function", s.Function, false)
			sc.end(b)
			return nil
		})
	}
	c.str("autonumberFormat", f.AutonumberFormat, true)
	if v := f.VectorConfig; v != nil {
		_ = c.add("vectorConfig", func(b *bytes.Buffer) error {
			vc := w.begin()
			_ = vc.add("dimensions", func(b *bytes.Buffer) error { b.WriteString(strconv.Itoa(v.Dimensions)); return nil })
			vc.str("distanceMetric", v.DistanceMetric, true)
			vc.boolean("normalized", v.Normalized, true)
			if v.Indexed != nil {
				vc.boolean("indexed", *v.Indexed, false)
			}
			vc.str("indexType", v.IndexType, true)
			vc.end(b)
			return nil
		})
	}
	if cc := f.CurrencyConfig; cc != nil {
		_ = c.add("currencyConfig", func(b *bytes.Buffer) error {
			xc := w.begin()
			xc.intp("precision", cc.Precision)
			xc.str("currencyMode", cc.CurrencyMode, true)
			xc.str("defaultCurrency", cc.DefaultCurrency, true)
			xc.end(b)
			return nil
		})
	}
	c.str("description", f.Description, true)
	c.boolean("hidden", f.Hidden, true)
	c.boolean("readonly", f.Readonly, true)
	c.boolean("searchable", f.Searchable, true)
	if err := c.extra(f.Extra, fieldKeys); err != nil {
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
		_ = c.add("indexes", func(b *bytes.Buffer) error {
			b.WriteByte('[')
			for i, ix := range o.Indexes {
				if i > 0 {
					b.WriteByte(',')
				}
				ic := w.begin()
				ic.str("name", ix.Name, true)
				_ = ic.add("fields", func(b *bytes.Buffer) error {
					if ix.Fields == nil {
						b.WriteString("null")
						return nil
					}
					b.WriteByte('[')
					for j, f := range ix.Fields {
						if j > 0 {
							b.WriteByte(',')
						}
						canonString(b, f)
					}
					b.WriteByte(']')
					return nil
				})
				ic.str("type", ix.Type, true)
				ic.boolean("unique", ix.Unique, true)
				ic.str("partial", ix.Partial, true)
				ic.end(b)
			}
			b.WriteByte(']')
			return nil
		})
	}
	c.str("datasource", o.Datasource, true)
	if o.Active != nil {
		c.boolean("active", *o.Active, false)
	}
	c.boolean("isSystem", o.IsSystem, true)
	c.boolean("abstract", o.Abstract, true)
	if s := o.SoftDelete; s != nil {
		_ = c.add("softDelete", func(b *bytes.Buffer) error {
			sc := w.begin()
			sc.boolean("enabled", s.Enabled, false)
			sc.str("field", s.Field, true)
			sc.boolean("cascadeDelete", s.CascadeDelete, true)
			sc.end(b)
			return nil
		})
	}
	if err := c.extra(o.Extra, objectKeys); err != nil {
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
