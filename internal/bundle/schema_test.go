package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// objectSchema reads the JSON Schema editors use for object files.
func objectSchema(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("schema", "object.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("object.schema.json is not JSON: %v", err)
	}
	return s
}

func schemaKeys(s map[string]any) []string {
	props, _ := s["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedCopy(a []string) []string {
	out := append([]string(nil), a...)
	sort.Strings(out)
	return out
}

// TestObjectSchemaMatchesDecoder: the editors' schema lists exactly the keys the loader knows (renamedFrom
// included) for objects, fields, options and indexes, and exactly the 44 field types.
func TestObjectSchemaMatchesDecoder(t *testing.T) {
	s := objectSchema(t)
	defs := s["$defs"].(map[string]any)
	for _, c := range []struct {
		what   string
		schema map[string]any
		known  []string
	}{
		{"object", s, objectTable.known},
		{"field", defs["field"].(map[string]any), fieldTable.known},
		{"option", defs["option"].(map[string]any), optionTable.known},
		{"index", defs["index"].(map[string]any), indexTable.known},
	} {
		if got, want := schemaKeys(c.schema), sortedCopy(c.known); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s keys in the schema %v, the loader knows %v", c.what, got, want)
		}
	}
	var types []string
	for _, v := range defs["field"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any) {
		types = append(types, v.(string))
	}
	want := make([]string, len(AllFieldTypes))
	for i, ft := range AllFieldTypes {
		want[i] = string(ft)
	}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("field types in the schema %v, want %v", types, want)
	}
}

// TestObjectSchemaAcceptsExamples: every example object file validates against the schema, and a renamedFrom
// that is no identifier, a field without a type and an unknown field type do not.
func TestObjectSchemaAcceptsExamples(t *testing.T) {
	s := objectSchema(t)
	v := &jsonSchemaCheck{root: s}
	root := filepath.Join("..", "..")
	files, _ := filepath.Glob(filepath.Join(root, "examples", "*", "*", "objects", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(root, "resources", "testdata", "bundles", "rename-v2", "objects", "*.yaml"))
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %d example object files", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := v.validate(yamlAsJSON(t, raw), s, f); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", f, errs)
		}
	}
	for name, doc := range map[string]string{
		"object renamedFrom not an identifier": "name: a\nrenamedFrom: Old Name\nfields: {}\n",
		"field renamedFrom not an identifier":  "name: a\nfields:\n  b: { type: text, renamedFrom: 1b }\n",
		"field without type":                   "name: a\nfields:\n  b: { label: B }\n",
		"unknown field type":                   "name: a\nfields:\n  b: { type: integer }\n",
	} {
		if errs := v.validate(yamlAsJSON(t, []byte(doc)), s, name); len(errs) == 0 {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

func yamlAsJSON(t *testing.T, doc []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonSchemaCheck validates the keywords object.schema.json uses ($ref to $defs, type, enum, pattern, minimum,
// maximum, required, properties, additionalProperties, propertyNames, items, minItems, maxLength).
type jsonSchemaCheck struct{ root map[string]any }

func (js *jsonSchemaCheck) validate(v any, s map[string]any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		return js.validate(v, js.root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any), path)
	}
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(f, a...)) }
	if typ, ok := s["type"].(string); ok && !isJSONType(v, typ) {
		fail("want %s, got %T", typ, v)
		return errs
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			fail("%v not in enum", v)
		}
	}
	if str, ok := v.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len(str)) > m {
			fail("%q longer than %v", str, m)
		}
	}
	if n, ok := v.(float64); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v < %v", n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			fail("%v > %v", n, m)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		for k, val := range obj {
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				errs = append(errs, js.validate(k, pn, path+"."+k)...)
			}
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, js.validate(val, ps, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unknown key %s", k)
				}
			case map[string]any:
				errs = append(errs, js.validate(val, ap, path+"."+k)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if mi, ok := s["minItems"].(float64); ok && float64(len(arr)) < mi {
			fail("fewer than %v items", mi)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, it := range arr {
				errs = append(errs, js.validate(it, is, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func isJSONType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	}
	return false
}
