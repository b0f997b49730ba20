// Package config owns objectstack.yaml, the root file of a GitOps repository: which bundles and apps go to
// which tenants, the rollout waves, the failure policy, destructive allowances, the drift policy and prune.
// Parsing is strict: an unknown key, a wrong type or a bad value is an issue naming the file, line and path.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// FileName is the repository's root configuration file.
const FileName = "objectstack.yaml"

// APIVersion is the only apiVersion this reconciler understands.
const APIVersion = "objectstack.ai/v1"

// Failure policy modes.
const (
	FailureHalt      = "halt"      // a failure in a wave stops the rollout before the next wave (default)
	FailureContinue  = "continue"  // failures are reported; every wave still runs
	FailureStopAfter = "stopAfter" // stop starting tenants once maxFailures tenants failed
)

// Drift policies.
const (
	DriftReport = "report" // a tenant changed by hand is reported (default)
	DriftHeal   = "heal"   // ... and re-applied
)

// DestructiveKinds are the engine's destructive change kinds an allowance may name.
var DestructiveKinds = []string{"drop_table", "drop_column", "lossy_type_change", "drop_constraint"}

// Selector picks tenants by labels (all must match), plan and region. An empty selector matches every tenant.
type Selector struct {
	Labels map[string]string `json:"labels,omitempty"`
	Plan   string            `json:"plan,omitempty"`
	Region string            `json:"region,omitempty"`
}

// AppRef names an app folder under apps/ and how to install it.
type AppRef struct {
	Name            string         `json:"name"`
	ConfigOverrides map[string]any `json:"config,omitempty"`
	SkipSeedData    bool           `json:"skipSeedData,omitempty"`
}

// Target deploys bundles and apps to the tenants named by Tenants or matched by Selector (the union of both).
type Target struct {
	Name             string    `json:"name,omitempty"`
	Bundles          []string  `json:"bundles,omitempty"`
	Apps             []AppRef  `json:"apps,omitempty"`
	Tenants          []string  `json:"tenants,omitempty"`
	Selector         *Selector `json:"selector,omitempty"`
	AllowDestructive []string  `json:"allowDestructive,omitempty"`
	Line             int       `json:"-"`
}

// Wave is one step of a rollout. A wave without tenants and selector takes every tenant no earlier wave took.
type Wave struct {
	Name        string    `json:"name"`
	Tenants     []string  `json:"tenants,omitempty"`
	Selector    *Selector `json:"selector,omitempty"`
	MaxParallel int       `json:"maxParallel,omitempty"` // 0 = the reconciler's --concurrency
	// Gate, when set, must pass after this wave before the next wave starts (see gate.go).
	Gate *Gate `json:"gate,omitempty"`
}

// Rollout orders the targeted tenants into waves.
type Rollout struct {
	Waves []Wave `json:"waves,omitempty"`
}

// FailurePolicy decides what a failed tenant does to the rest of the rollout.
type FailurePolicy struct {
	Mode        string `json:"mode"`
	MaxFailures int    `json:"maxFailures,omitempty"`
	// MaxFailuresPercent, when set (maxFailures: "10%"), replaces MaxFailures: a wave stops starting
	// tenants once this share of its tenants failed (rounded up, at least one).
	MaxFailuresPercent int `json:"maxFailuresPercent,omitempty"`
}

// Config is a parsed objectstack.yaml.
type Config struct {
	APIVersion       string        `json:"apiVersion"`
	Targets          []Target      `json:"targets"`
	Rollout          Rollout       `json:"rollout"`
	FailurePolicy    FailurePolicy `json:"failurePolicy"`
	AllowDestructive []string      `json:"allowDestructive,omitempty"`
	DriftPolicy      string        `json:"driftPolicy"`
	// Prune removes bundles and apps the reconciler applied to a tenant once the repository no longer
	// targets them there. It is global, not per target: an owner that left the repository usually left
	// with its target, so there is no target left to carry the setting.
	Prune bool `json:"prune,omitempty"`
	// Notifications are the commit-status, webhook and Slack sinks of rollout events (nil: none).
	Notifications *Notifications `json:"notifications,omitempty"`
	// SyncWindows restrict when changes are applied (see windows.go); none: always.
	SyncWindows []SyncWindow `json:"syncWindows,omitempty"`
	// Regions maps a tenant region to the database group its tenants' databases belong in
	// (regions.go); tenants created by the control plane are placed there.
	Regions map[string]Region `json:"regions,omitempty"`
}

// Error is returned when the file has issues; Issues name file, line and path of each.
type Error struct{ Issues []bundle.Issue }

func (e *Error) Error() string {
	msgs := make([]string, 0, len(e.Issues))
	for _, is := range e.Issues {
		msgs = append(msgs, FormatIssue(is))
	}
	return strings.Join(msgs, "; ")
}

// FormatIssue renders an issue as "file:line: path: message".
func FormatIssue(is bundle.Issue) string {
	var b strings.Builder
	if is.File != "" {
		b.WriteString(is.File)
		if is.Line > 0 {
			fmt.Fprintf(&b, ":%d", is.Line)
		}
		b.WriteString(": ")
	}
	if is.Path != "" {
		b.WriteString(is.Path)
		b.WriteString(": ")
	}
	b.WriteString(is.Message)
	return b.String()
}

// LoadFile reads and parses path. Issues are returned as *Error.
func LoadFile(path, displayName string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Issues: []bundle.Issue{{Severity: bundle.SeverityError, File: displayName, Code: "missing_file",
				Message: "the repository has no " + FileName + " at its root"}}}
		}
		return nil, fmt.Errorf("read %s: %w", displayName, err)
	}
	return Parse(data, displayName)
}

var nameRe = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
var tenantRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)

// Parse parses objectstack.yaml content; file names the file in issues.
func Parse(data []byte, file string) (*Config, error) {
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line := 0
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// yaml.v3 syntax errors read "yaml: line N: ..."; keep the message, it names the line.
			fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line)
		}
		msg := err.Error()
		if err.Error() == "EOF" {
			msg = "the file is empty"
		}
		return nil, &Error{Issues: []bundle.Issue{{Severity: bundle.SeverityError, File: file, Line: line, Code: "yaml_syntax", Message: msg}}}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{Issues: []bundle.Issue{{Severity: bundle.SeverityError, File: file, Code: "yaml_syntax", Message: "the file is empty"}}}
	}
	cfg := p.root(doc.Content[0])
	if len(p.issues) == 0 {
		p.checkWindowTargets(cfg)
	}
	if len(p.issues) > 0 {
		return nil, &Error{Issues: p.issues}
	}
	return cfg, nil
}

type parser struct {
	file   string
	issues []bundle.Issue
}

func (p *parser) fail(n *yaml.Node, path, code, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.issues = append(p.issues, bundle.Issue{Severity: bundle.SeverityError, File: p.file, Line: line, Path: path, Code: code,
		Message: fmt.Sprintf(format, a...)})
}

// mapping walks a mapping node, calling fields[key] for each known key and reporting unknown ones.
func (p *parser) mapping(n *yaml.Node, path string, fields map[string]func(v *yaml.Node, path string)) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "type", "must be a mapping, got %s", kindName(n))
		return false
	}
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := join(path, k.Value)
		if seen[k.Value] {
			p.fail(k, sub, "duplicate_key", "key %q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			p.fail(k, sub, "unknown_key", "unknown key %q (known keys: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		f(v, sub)
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "an unsupported node"
}

func (p *parser) str(n *yaml.Node, path string) string {
	// Numbers are accepted as strings (a plan named 2024 is still a name); null, booleans and collections are not.
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
		p.fail(n, path, "type", "must be a string, got %s", kindName(n))
		return ""
	}
	return n.Value
}

func (p *parser) integer(n *yaml.Node, path string) int {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		p.fail(n, path, "type", "must be an integer, got %s", kindName(n))
		return 0
	}
	return v
}

func (p *parser) boolean(n *yaml.Node, path string) bool {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		p.fail(n, path, "type", "must be true or false, got %s", kindName(n))
		return false
	}
	return v
}

func (p *parser) strings(n *yaml.Node, path string) []string {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of strings, got %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, p.str(c, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (p *parser) root(n *yaml.Node) *Config {
	cfg := &Config{}
	var apiNode *yaml.Node
	var targetsNode *yaml.Node
	ok := p.mapping(n, "", map[string]func(*yaml.Node, string){
		"apiVersion": func(v *yaml.Node, path string) { apiNode = v; cfg.APIVersion = p.str(v, path) },
		"targets":    func(v *yaml.Node, path string) { targetsNode = v; cfg.Targets = p.targets(v, path) },
		"rollout":    func(v *yaml.Node, path string) { cfg.Rollout = p.rollout(v, path) },
		"failurePolicy": func(v *yaml.Node, path string) {
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"mode": func(v *yaml.Node, path string) {
					cfg.FailurePolicy.Mode = p.enum(v, path, FailureHalt, FailureContinue, FailureStopAfter)
				},
				"maxFailures": func(v *yaml.Node, path string) { p.maxFailures(v, path, &cfg.FailurePolicy) },
			})
			if cfg.FailurePolicy.Mode == FailureStopAfter && cfg.FailurePolicy.MaxFailures < 1 && cfg.FailurePolicy.MaxFailuresPercent == 0 {
				p.fail(v, path+".maxFailures", "required", "mode stopAfter needs maxFailures ≥ 1")
			}
			if cfg.FailurePolicy.MaxFailures < 0 {
				p.fail(v, path+".maxFailures", "range", "must be ≥ 0")
			}
		},
		"allowDestructive": func(v *yaml.Node, path string) { cfg.AllowDestructive = p.destructive(v, path) },
		"driftPolicy":      func(v *yaml.Node, path string) { cfg.DriftPolicy = p.enum(v, path, DriftReport, DriftHeal) },
		"prune":            func(v *yaml.Node, path string) { cfg.Prune = p.boolean(v, path) },
		"notifications":    func(v *yaml.Node, path string) { cfg.Notifications = p.notifications(v, path) },
		"syncWindows":      func(v *yaml.Node, path string) { cfg.SyncWindows = p.syncWindows(v, path) },
		"regions":          func(v *yaml.Node, path string) { cfg.Regions = p.regions(v, path) },
	})
	if !ok {
		return cfg
	}
	switch {
	case apiNode == nil:
		p.fail(n, "apiVersion", "required", "is required (use %q)", APIVersion)
	case cfg.APIVersion != APIVersion && cfg.APIVersion != "":
		p.fail(apiNode, "apiVersion", "unsupported", "unsupported apiVersion %q (this reconciler understands %q)", cfg.APIVersion, APIVersion)
	}
	if targetsNode == nil {
		p.fail(n, "targets", "required", "is required: list at least one target")
	}
	if cfg.FailurePolicy.Mode == "" {
		cfg.FailurePolicy.Mode = FailureHalt
	}
	if cfg.DriftPolicy == "" {
		cfg.DriftPolicy = DriftReport
	}
	return cfg
}

func (p *parser) enum(n *yaml.Node, path string, allowed ...string) string {
	s := p.str(n, path)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if n.Kind == yaml.ScalarNode {
		p.fail(n, path, "enum", "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	return ""
}

func (p *parser) destructive(n *yaml.Node, path string) []string {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of destructive kinds (%s), got %s", strings.Join(DestructiveKinds, ", "), kindName(n))
		return nil
	}
	var out []string
	for i, c := range n.Content {
		if k := p.enum(c, fmt.Sprintf("%s[%d]", path, i), DestructiveKinds...); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func (p *parser) selector(n *yaml.Node, path string) *Selector {
	s := &Selector{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"labels": func(v *yaml.Node, path string) {
			if v.Kind != yaml.MappingNode {
				p.fail(v, path, "type", "must be a mapping of label to value, got %s", kindName(v))
				return
			}
			s.Labels = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				s.Labels[v.Content[i].Value] = p.str(v.Content[i+1], join(path, v.Content[i].Value))
			}
		},
		"plan":   func(v *yaml.Node, path string) { s.Plan = p.str(v, path) },
		"region": func(v *yaml.Node, path string) { s.Region = p.str(v, path) },
	})
	return s
}

func (p *parser) tenants(n *yaml.Node, path string) []string {
	ids := p.strings(n, path)
	for i, id := range ids {
		if id != "" && !tenantRe.MatchString(id) {
			p.fail(n.Content[i], fmt.Sprintf("%s[%d]", path, i), "tenant_id", "%q is not a tenant id (^[a-z][a-z0-9-]{1,40}$)", id)
		}
	}
	return ids
}

func (p *parser) targets(n *yaml.Node, path string) []Target {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of targets, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.fail(n, path, "required", "list at least one target")
	}
	out := make([]Target, 0, len(n.Content))
	for i, tn := range n.Content {
		tp := fmt.Sprintf("%s[%d]", path, i)
		t := Target{Line: tn.Line}
		if !p.mapping(tn, tp, map[string]func(*yaml.Node, string){
			"name":    func(v *yaml.Node, path string) { t.Name = p.str(v, path) },
			"bundles": func(v *yaml.Node, path string) { t.Bundles = p.names(v, path) },
			"apps":    func(v *yaml.Node, path string) { t.Apps = p.apps(v, path) },
			"tenants": func(v *yaml.Node, path string) { t.Tenants = p.tenants(v, path) },
			"selector": func(v *yaml.Node, path string) {
				t.Selector = p.selector(v, path)
			},
			"allowDestructive": func(v *yaml.Node, path string) { t.AllowDestructive = p.destructive(v, path) },
		}) {
			continue
		}
		if len(t.Bundles) == 0 && len(t.Apps) == 0 {
			p.fail(tn, tp, "required", "a target needs bundles and/or apps")
		}
		if len(t.Tenants) == 0 && t.Selector == nil {
			p.fail(tn, tp, "required", "a target needs tenants and/or selector (use selector: {} for every tenant)")
		}
		out = append(out, t)
	}
	return out
}

func (p *parser) names(n *yaml.Node, path string) []string {
	names := p.strings(n, path)
	for i, s := range names {
		if s != "" && !nameRe.MatchString(s) {
			p.fail(n.Content[i], fmt.Sprintf("%s[%d]", path, i), "name", "%q is not a folder name (^[a-z_][a-z0-9_-]*$)", s)
		}
	}
	return names
}

func (p *parser) apps(n *yaml.Node, path string) []AppRef {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of app names or {name, config, skipSeedData}, got %s", kindName(n))
		return nil
	}
	var out []AppRef
	for i, c := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		var a AppRef
		if c.Kind == yaml.ScalarNode {
			a.Name = p.str(c, ip)
		} else {
			p.mapping(c, ip, map[string]func(*yaml.Node, string){
				"name": func(v *yaml.Node, path string) { a.Name = p.str(v, path) },
				"config": func(v *yaml.Node, path string) {
					if v.Kind != yaml.MappingNode {
						p.fail(v, path, "type", "must be a mapping, got %s", kindName(v))
						return
					}
					if err := v.Decode(&a.ConfigOverrides); err != nil {
						p.fail(v, path, "type", "%v", err)
					}
				},
				"skipSeedData": func(v *yaml.Node, path string) { a.SkipSeedData = p.boolean(v, path) },
			})
		}
		if a.Name == "" {
			p.fail(c, ip, "required", "an app needs a name")
		} else if !nameRe.MatchString(a.Name) {
			p.fail(c, ip, "name", "%q is not a folder name (^[a-z_][a-z0-9_-]*$)", a.Name)
		}
		out = append(out, a)
	}
	return out
}

func (p *parser) rollout(n *yaml.Node, path string) Rollout {
	var r Rollout
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"waves": func(v *yaml.Node, path string) {
			if v.Kind != yaml.SequenceNode {
				p.fail(v, path, "type", "must be a list of waves, got %s", kindName(v))
				return
			}
			names := map[string]bool{}
			for i, wn := range v.Content {
				wp := fmt.Sprintf("%s[%d]", path, i)
				w := Wave{}
				p.mapping(wn, wp, map[string]func(*yaml.Node, string){
					"name":     func(v *yaml.Node, path string) { w.Name = p.str(v, path) },
					"tenants":  func(v *yaml.Node, path string) { w.Tenants = p.tenants(v, path) },
					"selector": func(v *yaml.Node, path string) { w.Selector = p.selector(v, path) },
					"maxParallel": func(v *yaml.Node, path string) {
						w.MaxParallel = p.integer(v, path)
						if w.MaxParallel < 0 {
							p.fail(v, path, "range", "must be ≥ 0 (0 = the reconciler's --concurrency)")
						}
					},
					"gate": func(v *yaml.Node, path string) { w.Gate = p.gate(v, path) },
				})
				if w.Name == "" {
					w.Name = fmt.Sprintf("wave-%d", i+1)
				}
				if names[w.Name] {
					p.fail(wn, wp+".name", "duplicate", "wave name %q is used twice", w.Name)
				}
				names[w.Name] = true
				r.Waves = append(r.Waves, w)
			}
		},
	})
	return r
}

// Matches reports whether a tenant with these attributes is selected by s.
func (s *Selector) Matches(labels map[string]string, plan, region string) bool {
	if s == nil {
		return false
	}
	for k, v := range s.Labels {
		if labels[k] != v {
			return false
		}
	}
	return (s.Plan == "" || s.Plan == plan) && (s.Region == "" || s.Region == region)
}
