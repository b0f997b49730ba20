package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseExample(t *testing.T) {
	cfg, err := LoadFile(filepath.Join("..", "..", "examples", "gitops", FileName), FileName)
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	if cfg.APIVersion != APIVersion || len(cfg.Targets) != 2 || len(cfg.Rollout.Waves) != 2 {
		t.Fatalf("example parsed wrong: %+v", cfg)
	}
	if cfg.Targets[1].Apps[0].Name != "helpdesk" || cfg.Targets[1].Apps[0].ConfigOverrides["default_priority"] != "urgent" {
		t.Fatalf("app ref: %+v", cfg.Targets[1].Apps)
	}
	if cfg.Rollout.Waves[0].MaxParallel != 1 || cfg.Rollout.Waves[0].Selector.Labels["canary"] != "true" {
		t.Fatalf("wave: %+v", cfg.Rollout.Waves[0])
	}
	if cfg.FailurePolicy.Mode != FailureHalt || cfg.DriftPolicy != DriftReport {
		t.Fatalf("policies: %+v %s", cfg.FailurePolicy, cfg.DriftPolicy)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    selector: {}\n"), FileName)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FailurePolicy.Mode != FailureHalt || cfg.DriftPolicy != DriftReport {
		t.Fatalf("defaults: %+v", cfg)
	}
	if !cfg.Targets[0].Selector.Matches(map[string]string{"x": "y"}, "pro", "eu-west") {
		t.Fatal("empty selector must match every tenant")
	}
}

// badCases are invalid files, each with the line and path the issue must name.
var badCases = []struct {
	name, doc string
	line      int
	path, msg string
}{
	{"unknown top-level key", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\ndriftPolicyy: heal\n", 5, "driftPolicyy", "unknown key"},
	{"unknown selector key", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    selector:\n      lables: {a: b}\n", 5, "targets[0].selector.lables", "unknown key"},
	{"bad failure mode", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\nfailurePolicy:\n  mode: panic\n", 6, "failurePolicy.mode", "not one of"},
	{"bad destructive kind", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\n    allowDestructive: [drop_everything]\n", 5, "targets[0].allowDestructive[0]", "not one of"},
	{"maxParallel not an integer", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\nrollout:\n  waves:\n    - name: canary\n      maxParallel: lots\n", 8, "rollout.waves[0].maxParallel", "integer"},
	{"target without tenants", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n", 3, "targets[0]", "tenants and/or selector"},
	{"target without bundles", "apiVersion: objectstack.ai/v1\ntargets:\n  - tenants: [acme]\n", 3, "targets[0]", "bundles and/or apps"},
	{"bad tenant id", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [Acme_Corp]\n", 4, "targets[0].tenants[0]", "not a tenant id"},
	{"wrong apiVersion", "apiVersion: v2\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\n", 1, "apiVersion", "unsupported"},
	{"missing targets", "apiVersion: objectstack.ai/v1\n", 1, "targets", "required"},
	{"stopAfter without max", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\nfailurePolicy: {mode: stopAfter}\n", 5, "failurePolicy.maxFailures", "maxFailures"},
	{"duplicate key", "apiVersion: objectstack.ai/v1\napiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\n", 2, "apiVersion", "twice"},
	{"prune not a boolean", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\nprune: \"yes\"\n", 5, "prune", "true or false"},
	{"labels not strings", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    selector: {labels: {tier: [a]}}\n", 4, "targets[0].selector.labels.tier", "string"},
}

func TestParseRejects(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "objectstack.yaml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, is := range ce.Issues {
				if is.Path == tc.path && is.Line == tc.line && strings.Contains(is.Message, tc.msg) && is.File == "objectstack.yaml" {
					return
				}
			}
			t.Fatalf("no issue at line %d path %q containing %q; got %v", tc.line, tc.path, tc.msg, err)
		})
	}
}

func TestParseSyntaxErrorNamesLine(t *testing.T) {
	_, err := Parse([]byte("apiVersion: objectstack.ai/v1\ntargets: [\n"), "objectstack.yaml")
	if err == nil || !strings.Contains(err.Error(), "objectstack.yaml") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("syntax error should name file and line: %v", err)
	}
}

// TestJSONSchemaAgreesWithLoader validates the example (and every bad case that is a schema matter) against
// the published JSON Schema with a small validator for the keywords the schema uses, and checks the loader
// agrees: the schema editors use must not accept what the reconciler rejects, nor the other way round.
func TestJSONSchemaAgreesWithLoader(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "schema", "objectstack.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	v := &jsonSchema{root: schema}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "gitops", FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(example), "# yaml-language-server: $schema=") {
		t.Error("the example should point editors at the schema with a yaml-language-server comment")
	}
	if errs := v.validate(yamlToJSON(t, example), schema, ""); len(errs) > 0 {
		t.Fatalf("example does not validate against the schema: %v", errs)
	}
	// Cases that are purely structural must be rejected by the schema too.
	structural := map[string]bool{"unknown top-level key": true, "unknown selector key": true, "bad failure mode": true,
		"bad destructive kind": true, "maxParallel not an integer": true, "target without tenants": true,
		"target without bundles": true, "bad tenant id": true, "wrong apiVersion": true, "missing targets": true, "labels not strings": true,
		"prune not a boolean": true}
	for _, tc := range badCases {
		if !structural[tc.name] {
			continue
		}
		if errs := v.validate(yamlToJSON(t, []byte(tc.doc)), schema, ""); len(errs) == 0 {
			t.Errorf("%s: the schema accepts what the loader rejects", tc.name)
		}
	}
}

func yamlToJSON(t *testing.T, doc []byte) any {
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

// jsonSchema validates the subset of JSON Schema 2020-12 the published schema uses.
type jsonSchema struct{ root map[string]any }

func (js *jsonSchema) validate(v any, s map[string]any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		def := js.root["$defs"].(map[string]any)[name].(map[string]any)
		return js.validate(v, def, path)
	}
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(f, a...)) }
	if typ, ok := s["type"].(string); ok && !jsonType(v, typ) {
		fail("want %s", typ)
		return errs
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == v {
				found = true
			}
		}
		if !found {
			fail("%v not in enum", v)
		}
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, ok := v.(float64); ok && n < m {
			fail("%v < %v", n, m)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		for k, val := range obj {
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
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, js.validate(v, sub.(map[string]any), path)...)
	}
	if anyOf := asList(s["anyOf"]); len(anyOf) > 0 {
		ok := false
		for _, sub := range anyOf {
			if len(js.validate(v, sub.(map[string]any), path)) == 0 {
				ok = true
			}
		}
		if !ok {
			fail("matches none of anyOf")
		}
	}
	if one := asList(s["oneOf"]); len(one) > 0 {
		n := 0
		for _, sub := range one {
			if len(js.validate(v, sub.(map[string]any), path)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf", n)
		}
	}
	return errs
}

func asList(v any) []any { l, _ := v.([]any); return l }

func jsonType(v any, typ string) bool {
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
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case "number":
		_, ok := v.(float64)
		return ok
	}
	return false
}

// TestPruneKey: prune is off unless objectstack.yaml turns it on.
func TestPruneKey(t *testing.T) {
	base := "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\n"
	for doc, want := range map[string]bool{base: false, base + "prune: true\n": true, base + "prune: false\n": false} {
		cfg, err := Parse([]byte(doc), FileName)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Prune != want {
			t.Errorf("%q: prune = %v, want %v", doc, cfg.Prune, want)
		}
	}
}
