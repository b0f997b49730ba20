package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The engine stores Object definitions as JSON in its registry and must read them back identically, so Object
// and Field marshal their ordered fields and their Extra keys themselves.

type fieldAlias Field

// MarshalJSON writes the field's modelled keys followed by its Extra keys (sorted). The key itself is not written:
// it is the map key under "fields".
func (f Field) MarshalJSON() ([]byte, error) {
	a := fieldAlias(f)
	a.DefaultValue = jsonSafe(f.DefaultValue)
	base, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", f.Key, err)
	}
	return appendExtra(base, f.Extra, fieldTable.keys)
}

type objectAlias Object

// MarshalJSON writes the object with "fields" as a JSON object in declaration order, followed by Extra keys.
func (o Object) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(objectAlias(o))
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", o.Name, err)
	}
	var fields bytes.Buffer
	fields.WriteByte('{')
	for i, f := range o.Fields {
		if i > 0 {
			fields.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		fields.Write(k)
		fields.WriteByte(':')
		fb, err := f.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", o.Name, err)
		}
		fields.Write(fb)
	}
	fields.WriteByte('}')
	base = insertKey(base, "fields", fields.Bytes())
	return appendExtra(base, o.Extra, objectTable.keys)
}

// UnmarshalJSON reads an object written by MarshalJSON (or any object definition in JSON), keeping field order
// and unknown keys. Content that fails the format's type checks is an error.
func (o *Object) UnmarshalJSON(data []byte) error {
	root, perr := parseJSON(data)
	if perr != nil {
		return fmt.Errorf("object definition: %s", perr.msg)
	}
	var out issues
	var obj Object
	ok := decodeObject(&obj, root, "", 0, &out)
	var errs []string
	for _, is := range out.all() {
		if is.Severity == SeverityError {
			errs = append(errs, is.Path+": "+is.Message)
		}
	}
	if !ok || len(errs) > 0 {
		return errors.New("object definition: " + strings.Join(errs, "; "))
	}
	obj.Lines = nil
	obj.Source = ""
	*o = obj
	return nil
}

type manifestAlias Manifest

// MarshalJSON writes the manifest followed by its Extra keys.
func (m Manifest) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(manifestAlias(m))
	if err != nil {
		return nil, err
	}
	return appendExtra(base, m.Extra, manifestTable.keys)
}

// insertKey appends "key":raw to the JSON object obj, after the keys already there.
func insertKey(obj []byte, key string, raw []byte) []byte {
	k, _ := json.Marshal(key)
	end := bytes.LastIndexByte(obj, '}')
	out := make([]byte, 0, len(obj)+len(k)+len(raw)+2)
	out = append(out, obj[:end]...)
	if len(bytes.TrimSpace(obj[1:end])) > 0 {
		out = append(out, ',')
	}
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, raw...)
	return append(out, '}')
}

func appendExtra(obj []byte, extra map[string]any, modelled []string) ([]byte, error) {
	for _, k := range sortedKeys(extra) {
		if contains(modelled, k) {
			continue // cannot come from decoding; never let Extra shadow a modelled key
		}
		raw, err := json.Marshal(jsonSafe(extra[k]))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		obj = insertKey(obj, k, raw)
	}
	return obj, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonSafe copies v so that a whole float64 is written as 5.0 rather than 5; reading it back then yields a float64
// again instead of an int64, and a round trip through the registry returns the same Go values.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x // json.Marshal reports the error
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return json.Number(strconv.FormatFloat(x, 'f', 1, 64))
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	}
	return v
}
