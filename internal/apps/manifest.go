package apps

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is the protocol's AppManifest (app.yaml), plus two things the protocol leaves open: dependencies may carry
// a version constraint, and config declares the keys configOverrides may set.
type Manifest struct {
	Name             string       `json:"name" yaml:"name"`
	Label            string       `json:"label" yaml:"label"`
	Version          string       `json:"version" yaml:"version"`
	Description      string       `json:"description,omitempty" yaml:"description,omitempty"`
	MinKernelVersion string       `json:"minKernelVersion,omitempty" yaml:"minKernelVersion,omitempty"`
	Objects          []string     `json:"objects" yaml:"objects,omitempty"`
	Views            []string     `json:"views" yaml:"views,omitempty"`
	Flows            []string     `json:"flows" yaml:"flows,omitempty"`
	Dependencies     []Dependency `json:"dependencies" yaml:"dependencies,omitempty"`
	// HasSeedData is derived from the seed/ folder (protocol §6 item 17); a value written in app.yaml is ignored.
	HasSeedData bool                  `json:"hasSeedData" yaml:"-"`
	Config      map[string]ConfigDecl `json:"config,omitempty" yaml:"config,omitempty"`
}

// Dependency is an app that must be installed first, optionally within a version range.
// In app.yaml it is either a string ("helpdesk", "helpdesk@>=1.0.0 <2.0.0") or {name, version}.
// In JSON it is the protocol's plain string form, "name" or "name@constraint".
type Dependency struct {
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version,omitempty" yaml:"version,omitempty"` // a Constraint; empty = any version
}

// String is the protocol's string form.
func (d Dependency) String() string {
	if strings.TrimSpace(d.Version) == "" {
		return d.Name
	}
	return d.Name + "@" + d.Version
}

// Describe is the dependency for messages: "helpdesk >=1.0.0" or "helpdesk (any version)".
func (d Dependency) Describe() string {
	if strings.TrimSpace(d.Version) == "" {
		return d.Name + " (any version)"
	}
	return d.Name + " " + d.Version
}

// MarshalJSON writes the protocol's string form.
func (d Dependency) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts the string form and the object form.
func (d *Dependency) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*d = parseDependencyString(s)
		return nil
	}
	type plain Dependency
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*d = Dependency(p)
	return nil
}

// UnmarshalYAML accepts the string form and the object form.
func (d *Dependency) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*d = parseDependencyString(n.Value)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a dependency is a string (name or name@constraint) or {name, version}", n.Line)
	}
	type plain Dependency
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*d = Dependency(p)
	return nil
}

func parseDependencyString(s string) Dependency {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return Dependency{Name: strings.TrimSpace(s[:i]), Version: strings.TrimSpace(s[i+1:])}
	}
	return Dependency{Name: s}
}

// ConfigType is the type of a declared configuration key.
type ConfigType string

// Config key types.
const (
	ConfigString  ConfigType = "string"
	ConfigNumber  ConfigType = "number"
	ConfigBoolean ConfigType = "boolean"
)

// ConfigDecl declares one key that configOverrides may set.
type ConfigDecl struct {
	Type        ConfigType `json:"type" yaml:"type"`
	Default     any        `json:"default,omitempty" yaml:"default,omitempty"`
	Required    bool       `json:"required,omitempty" yaml:"required,omitempty"`
	Enum        []any      `json:"enum,omitempty" yaml:"enum,omitempty"`
	Description string     `json:"description,omitempty" yaml:"description,omitempty"`
}

// checkValue reports why v is not acceptable for the declaration ("" when it is).
func (c ConfigDecl) checkValue(v any) string {
	switch c.Type {
	case ConfigString:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("must be a string, got %s", typeName(v))
		}
	case ConfigNumber:
		if _, ok := toFloat(v); !ok {
			return fmt.Sprintf("must be a number, got %s", typeName(v))
		}
	case ConfigBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("must be a boolean, got %s", typeName(v))
		}
	default:
		return fmt.Sprintf("has unknown declared type %q", c.Type)
	}
	if len(c.Enum) > 0 {
		for _, e := range c.Enum {
			if sameValue(e, v) {
				return ""
			}
		}
		return fmt.Sprintf("must be one of %s, got %s", formatEnum(c.Enum), formatValue(v))
	}
	return ""
}

// ParseConfigValue converts a command-line string (k=v) into the declared type of key.
func (m *Manifest) ParseConfigValue(key, raw string) (any, error) {
	decl, ok := m.Config[key]
	if !ok {
		return nil, fmt.Errorf("config key %q is not declared by app %s (declared: %s)", key, m.Name, declaredKeys(m.Config))
	}
	switch decl.Type {
	case ConfigNumber:
		var f float64
		if _, err := fmt.Sscan(raw, &f); err != nil {
			return nil, fmt.Errorf("config key %q: %q is not a number", key, raw)
		}
		return f, nil
	case ConfigBoolean:
		switch strings.ToLower(raw) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("config key %q: %q is not a boolean", key, raw)
	default:
		return raw, nil
	}
}

// ResolveConfig validates overrides against the declared keys and returns defaults merged with overrides.
// Every problem is reported, each naming its key.
func (m *Manifest) ResolveConfig(overrides map[string]any) (map[string]any, error) {
	out := map[string]any{}
	var problems []string
	for k, v := range overrides {
		decl, ok := m.Config[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("config key %q is not declared by app %s (declared: %s)", k, m.Name, declaredKeys(m.Config)))
			continue
		}
		if msg := decl.checkValue(v); msg != "" {
			problems = append(problems, fmt.Sprintf("config key %q %s", k, msg))
			continue
		}
		out[k] = normalizeNumber(v)
	}
	for k, decl := range m.Config {
		if _, set := out[k]; set {
			continue
		}
		if _, bad := overrides[k]; bad {
			continue
		}
		if decl.Default != nil {
			out[k] = normalizeNumber(decl.Default)
		} else if decl.Required {
			problems = append(problems, fmt.Sprintf("config key %q is required by app %s and has no default", k, m.Name))
		}
	}
	if len(problems) > 0 {
		sortStrings(problems)
		return nil, fmt.Errorf("invalid configOverrides: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

func declaredKeys(c map[string]ConfigDecl) string {
	if len(c) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return strings.Join(keys, ", ")
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// normalizeNumber makes every number a float64 so values from YAML, JSON and flags compare and store alike.
func normalizeNumber(v any) any {
	if _, isBool := v.(bool); isBool {
		return v
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

func sameValue(a, b any) bool {
	fa, oka := toFloat(a)
	fb, okb := toFloat(b)
	if oka && okb {
		return fa == fb
	}
	return a == b
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + formatValue(v)
	case bool:
		return "boolean " + formatValue(v)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := toFloat(v); ok {
		return "number " + formatValue(v)
	}
	return fmt.Sprintf("%T", v)
}

func formatValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatEnum(e []any) string {
	parts := make([]string, len(e))
	for i, v := range e {
		parts[i] = formatValue(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
