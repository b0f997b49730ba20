package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const opsBase = "apiVersion: objectstack.ai/v1\ntargets:\n  - name: prod\n    bundles: [crm]\n    selector: {}\n"

func TestParseSyncWindowsGatesAndPercent(t *testing.T) {
	cfg, err := Parse([]byte(opsBase+`syncWindows:
  - kind: allow
    schedule: "0 22 * * 1-5"
    duration: 4h
    timeZone: Europe/Berlin
    targets: [prod]
  - kind: deny
    schedule: "@daily"
    duration: 30m
    tenants: [acme]
    selector: {labels: {tier: gold}}
rollout:
  waves:
    - name: canary
      tenants: [acme]
      gate:
        soak: 5m
        check: {url: "https://health.example.com/ready", method: POST, timeout: 3s, retries: 2}
    - name: rest
failurePolicy: {mode: stopAfter, maxFailures: "10%"}
`), FileName)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SyncWindows) != 2 {
		t.Fatalf("windows: %+v", cfg.SyncWindows)
	}
	w := cfg.SyncWindows[0]
	if w.Kind != WindowAllow || w.Duration != 4*time.Hour || w.Location.String() != "Europe/Berlin" || w.Cron == nil || w.Targets[0] != "prod" {
		t.Fatalf("allow window: %+v", w)
	}
	if d := cfg.SyncWindows[1]; d.Kind != WindowDeny || d.Location != time.UTC || d.Tenants[0] != "acme" || d.Selector.Labels["tier"] != "gold" {
		t.Fatalf("deny window: %+v", d)
	}
	g := cfg.Rollout.Waves[0].Gate
	if g == nil || g.Soak != 5*time.Minute || g.Check.URL != "https://health.example.com/ready" || g.Check.Method != "POST" ||
		g.Check.Timeout != 3*time.Second || g.Check.Retries != 2 {
		t.Fatalf("gate: %+v %+v", g, g.Check)
	}
	if cfg.FailurePolicy.MaxFailuresPercent != 10 || cfg.FailurePolicy.MaxFailures != 0 {
		t.Fatalf("maxFailures percent: %+v", cfg.FailurePolicy)
	}
	// Defaults: GET, 10 s.
	cfg, err = Parse([]byte(opsBase+"rollout:\n  waves:\n    - name: a\n      gate: {check: {url: \"http://127.0.0.1:9/x\"}}\n"), FileName)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Rollout.Waves[0].Gate.Check; c.Method != "GET" || c.Timeout != DefaultGateTimeout {
		t.Fatalf("gate check defaults: %+v", c)
	}
}

// TestSyncWindowOpenAt: a window is open from each start of its schedule, in its time zone, for its duration.
func TestSyncWindowOpenAt(t *testing.T) {
	cfg, err := Parse([]byte(opsBase+"syncWindows:\n  - {kind: allow, schedule: \"0 22 * * *\", duration: 4h, timeZone: America/New_York}\n"), FileName)
	if err != nil {
		t.Fatal(err)
	}
	w := &cfg.SyncWindows[0]
	ny, _ := time.LoadLocation("America/New_York")
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, ny) }
	for _, tc := range []struct {
		t    time.Time
		open bool
	}{
		{at(2, 21, 59), false}, {at(2, 22, 0), true}, {at(3, 1, 59), true}, {at(3, 2, 0), false}, {at(3, 12, 0), false},
	} {
		if open, _ := w.OpenAt(tc.t.UTC()); open != tc.open {
			t.Errorf("open at %s = %v, want %v", tc.t, open, tc.open)
		}
	}
	if open, end := w.OpenAt(at(2, 23, 0)); !open || !end.Equal(at(3, 2, 0)) {
		t.Fatalf("window end: %v %v", open, end)
	}
	if n := w.NextStart(at(3, 12, 0)); !n.Equal(at(3, 22, 0)) {
		t.Fatalf("next start: %v", n)
	}
}

// opsBadCases are invalid sync windows, gates and failure policies: each names file, line, path and rule.
var opsBadCases = []struct {
	name, doc  string
	line       int
	path, msg  string
	structural bool // the JSON Schema rejects it too
}{
	{"window bad cron", opsBase + "syncWindows:\n  - kind: allow\n    schedule: \"61 * * * *\"\n    duration: 1h\n", 8, "syncWindows[0].schedule", "not a cron schedule", false},
	{"window bad zone", opsBase + "syncWindows:\n  - kind: deny\n    schedule: \"@daily\"\n    duration: 1h\n    timeZone: Mars/Olympus\n", 10, "syncWindows[0].timeZone", "not a time zone", false},
	{"window bad duration", opsBase + "syncWindows:\n  - kind: deny\n    schedule: \"@daily\"\n    duration: forever\n", 9, "syncWindows[0].duration", "not a duration", true},
	{"window zero duration", opsBase + "syncWindows:\n  - kind: deny\n    schedule: \"@daily\"\n    duration: 0s\n", 9, "syncWindows[0].duration", "longer than 0", false},
	{"window without kind", opsBase + "syncWindows:\n  - schedule: \"@daily\"\n    duration: 1h\n", 7, "syncWindows[0].kind", "required", true},
	{"window bad kind", opsBase + "syncWindows:\n  - kind: maybe\n    schedule: \"@daily\"\n    duration: 1h\n", 7, "syncWindows[0].kind", "not one of", true},
	{"window without schedule", opsBase + "syncWindows:\n  - kind: allow\n    duration: 1h\n", 7, "syncWindows[0].schedule", "required", true},
	{"window unknown key", opsBase + "syncWindows:\n  - kind: allow\n    schedule: \"@daily\"\n    duration: 1h\n    manualSync: true\n", 10, "syncWindows[0].manualSync", "unknown key", true},
	{"window unknown target", opsBase + "syncWindows:\n  - kind: allow\n    schedule: \"@daily\"\n    duration: 1h\n    targets: [staging]\n", 7, "syncWindows[0].targets[0]", "no target is named", false},
	{"window tz in schedule", opsBase + "syncWindows:\n  - kind: allow\n    schedule: \"CRON_TZ=UTC 0 1 * * *\"\n    duration: 1h\n", 8, "syncWindows[0].schedule", "timeZone", false},
	{"gate empty", opsBase + "rollout:\n  waves:\n    - name: canary\n      gate: {}\n", 9, "rollout.waves[0].gate", "soak and/or check", true},
	{"gate check without url", opsBase + "rollout:\n  waves:\n    - name: canary\n      gate: {check: {timeout: 1s}}\n", 9, "rollout.waves[0].gate.check.url", "needs a url", true},
	{"gate check bad url", opsBase + "rollout:\n  waves:\n    - name: canary\n      gate:\n        check: {url: \"ftp://x/y\"}\n", 10, "rollout.waves[0].gate.check.url", "not an http", true},
	{"gate check credentials", opsBase + "rollout:\n  waves:\n    - name: canary\n      gate:\n        check: {url: \"https://u:secret@x/y\"}\n", 10, "rollout.waves[0].gate.check.url", "credentials", false},
	{"gate bad soak", opsBase + "rollout:\n  waves:\n    - name: canary\n      gate: {soak: 5 minutes}\n", 9, "rollout.waves[0].gate.soak", "not a duration", true},
	{"maxFailures bad percent", opsBase + "failurePolicy: {mode: stopAfter, maxFailures: \"150%\"}\n", 6, "failurePolicy.maxFailures", "1% to 100%", true},
	{"maxFailures word", opsBase + "failurePolicy: {mode: stopAfter, maxFailures: some}\n", 6, "failurePolicy.maxFailures", "percentage", true},
}

func TestParseRejectsOps(t *testing.T) {
	for _, tc := range opsBadCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), FileName)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, is := range ce.Issues {
				if is.Path == tc.path && is.Line == tc.line && strings.Contains(is.Message, tc.msg) && is.File == FileName {
					return
				}
			}
			t.Fatalf("no issue at line %d path %q containing %q; got %v", tc.line, tc.path, tc.msg, err)
		})
	}
}

// TestJSONSchemaCoversOps: the published schema knows every new setting (the example uses them all) and
// rejects the structural mistakes the loader rejects.
func TestJSONSchemaCoversOps(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "schema", "objectstack.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	v := &jsonSchema{root: schema}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "gitops", FileName))
	if err != nil {
		t.Fatal(err)
	}
	// The example shows sync windows and a gate commented out (it is also a live repository in the CLI
	// tests, where a closed window or an unreachable check would stop them); uncommented, both must be valid.
	enabled := uncommentBlocks(string(example), "gate", "syncWindows")
	cfg, err := Parse([]byte(enabled), FileName)
	if err != nil {
		t.Fatalf("the example with its commented settings enabled: %v\n%s", err, enabled)
	}
	if len(cfg.SyncWindows) != 3 || cfg.Rollout.Waves[0].Gate == nil || cfg.Rollout.Waves[0].Gate.Check == nil || cfg.Rollout.Waves[0].Gate.Soak == 0 {
		t.Fatalf("the example should show sync windows and a wave gate with a check: %+v", cfg)
	}
	if errs := v.validate(yamlToJSON(t, []byte(enabled)), schema, ""); len(errs) > 0 {
		t.Fatalf("the example with its commented settings enabled does not validate against the schema: %v", errs)
	}
	for _, tc := range opsBadCases {
		if tc.structural {
			if errs := v.validate(yamlToJSON(t, []byte(tc.doc)), schema, ""); len(errs) == 0 {
				t.Errorf("%s: the schema accepts what the loader rejects", tc.name)
			}
		}
	}
	good := opsBase + "syncWindows:\n  - {kind: deny, schedule: \"@daily\", duration: 1h, timeZone: UTC, tenants: [acme], targets: [prod], selector: {plan: pro}}\n" +
		"failurePolicy: {mode: stopAfter, maxFailures: \"25%\"}\nrollout:\n  waves:\n    - name: a\n      gate: {soak: 1m, check: {url: \"http://127.0.0.1:1/h\", method: GET, timeout: 2s, retries: 1}}\n"
	if _, err := Parse([]byte(good), FileName); err != nil {
		t.Fatal(err)
	}
	if errs := v.validate(yamlToJSON(t, []byte(good)), schema, ""); len(errs) > 0 {
		t.Fatalf("the schema rejects a valid file: %v", errs)
	}
}

// uncommentBlocks removes the comment mark of each "# key:" line for the given keys and of the lines
// under it that are indented deeper ("#   ..."), keeping the indentation.
func uncommentBlocks(doc string, keys ...string) string {
	lines := strings.Split(doc, "\n")
	indent := ""
	in := false
	for i, l := range lines {
		if in && strings.HasPrefix(l, indent+"#  ") {
			lines[i] = indent + l[len(indent)+2:]
			continue
		}
		in = false
		for _, k := range keys {
			trimmed := strings.TrimLeft(l, " ")
			if trimmed == "# "+k+":" {
				indent = l[:len(l)-len(trimmed)]
				lines[i] = indent + k + ":"
				in = true
			}
		}
	}
	return strings.Join(lines, "\n")
}
