package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Sync window kinds.
const (
	WindowAllow = "allow" // changes are applied only while some allow window is open
	WindowDeny  = "deny"  // no change is applied while a deny window is open (deny wins over allow)
)

// SyncWindow is a recurring period, opened by a cron schedule in a time zone and lasting Duration, that
// allows or denies applying changes to the tenants it covers. A window without targets, tenants and
// selector covers every tenant.
type SyncWindow struct {
	Kind     string         `json:"kind"`
	Schedule string         `json:"schedule"`
	Duration time.Duration  `json:"duration"`
	TimeZone string         `json:"timeZone,omitempty"`
	Targets  []string       `json:"targets,omitempty"`
	Tenants  []string       `json:"tenants,omitempty"`
	Selector *Selector      `json:"selector,omitempty"`
	Line     int            `json:"-"`
	Cron     cron.Schedule  `json:"-"` // parsed Schedule
	Location *time.Location `json:"-"` // loaded TimeZone (UTC when empty)
}

// Gate is what must hold after a wave before the next wave starts: Soak has passed since the wave
// applied, then Check answers 2xx.
type Gate struct {
	Soak  time.Duration `json:"soak,omitempty"`
	Check *GateCheck    `json:"check,omitempty"`
}

// GateCheck is an HTTP request that must answer 2xx (an application's health or error-rate endpoint,
// as Flagger's webhooks are).
type GateCheck struct {
	URL     string        `json:"url"`
	Method  string        `json:"method,omitempty"`  // GET (default) or POST (with a JSON body naming revision and wave)
	Timeout time.Duration `json:"timeout,omitempty"` // default DefaultGateTimeout
	Retries int           `json:"retries,omitempty"` // further attempts after a failed one, 2 s apart
}

// DefaultGateTimeout bounds one gate check request when the wave does not say.
const DefaultGateTimeout = 10 * time.Second

// cronParser reads standard five-field schedules and descriptors (@daily, @hourly, @every 1h).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	s := p.str(n, path)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.fail(n, path, "duration", "%q is not a duration (like 30s, 15m, 4h)", s)
		return 0
	}
	if d < 0 {
		p.fail(n, path, "range", "must not be negative")
	}
	return d
}

// maxFailures reads an integer, or a percentage of the wave ("10%").
func (p *parser) maxFailures(n *yaml.Node, path string, fp *FailurePolicy) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.HasSuffix(n.Value, "%") {
		v, err := strconv.Atoi(strings.TrimSuffix(n.Value, "%"))
		if err != nil || v < 1 || v > 100 {
			p.fail(n, path, "range", "%q: a percentage must be a whole number from 1%% to 100%%", n.Value)
			return
		}
		fp.MaxFailuresPercent = v
		return
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.fail(n, path, "type", "must be an integer or a percentage of the wave like \"10%%\", got %s", kindName(n))
		return
	}
	fp.MaxFailures = p.integer(n, path)
}

func (p *parser) gate(n *yaml.Node, path string) *Gate {
	g := &Gate{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"soak": func(v *yaml.Node, path string) { g.Soak = p.duration(v, path) },
		"check": func(v *yaml.Node, path string) {
			c := &GateCheck{Method: "GET"}
			var urlNode *yaml.Node
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"url":     func(v *yaml.Node, path string) { urlNode = v; c.URL = p.str(v, path) },
				"method":  func(v *yaml.Node, path string) { c.Method = p.enum(v, path, "GET", "POST") },
				"timeout": func(v *yaml.Node, path string) { c.Timeout = p.duration(v, path) },
				"retries": func(v *yaml.Node, path string) {
					c.Retries = p.integer(v, path)
					if c.Retries < 0 || c.Retries > 10 {
						p.fail(v, path, "range", "must be from 0 to 10")
					}
				},
			})
			switch {
			case urlNode == nil:
				p.fail(v, path+".url", "required", "a gate check needs a url")
			case c.URL != "":
				u, err := url.Parse(c.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					p.fail(urlNode, path+".url", "url", "%q is not an http:// or https:// URL", c.URL)
				} else if u.User != nil {
					// objectstack.yaml is in Git: a credential there would be in every clone and in status.
					p.fail(urlNode, path+".url", "secret", "must not carry credentials (user:password@); the check URL is stored in status")
				}
			}
			if c.Timeout == 0 {
				c.Timeout = DefaultGateTimeout
			}
			g.Check = c
		},
	})
	if g.Soak == 0 && g.Check == nil {
		p.fail(n, path, "required", "a gate needs soak and/or check")
	}
	return g
}

func (p *parser) syncWindows(n *yaml.Node, path string) []SyncWindow {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of sync windows, got %s", kindName(n))
		return nil
	}
	out := make([]SyncWindow, 0, len(n.Content))
	for i, wn := range n.Content {
		wp := fmt.Sprintf("%s[%d]", path, i)
		w := SyncWindow{Line: wn.Line}
		var schedNode, durNode *yaml.Node
		if !p.mapping(wn, wp, map[string]func(*yaml.Node, string){
			"kind":     func(v *yaml.Node, path string) { w.Kind = p.enum(v, path, WindowAllow, WindowDeny) },
			"schedule": func(v *yaml.Node, path string) { schedNode = v; w.Schedule = p.str(v, path) },
			"duration": func(v *yaml.Node, path string) { durNode = v; w.Duration = p.duration(v, path) },
			"timeZone": func(v *yaml.Node, path string) {
				w.TimeZone = p.str(v, path)
				if w.TimeZone == "" {
					return
				}
				loc, err := time.LoadLocation(w.TimeZone)
				if err != nil {
					p.fail(v, path, "time_zone", "%q is not a time zone (use an IANA name like Europe/Berlin or UTC)", w.TimeZone)
					return
				}
				w.Location = loc
			},
			"targets":  func(v *yaml.Node, path string) { w.Targets = p.strings(v, path) },
			"tenants":  func(v *yaml.Node, path string) { w.Tenants = p.tenants(v, path) },
			"selector": func(v *yaml.Node, path string) { w.Selector = p.selector(v, path) },
		}) {
			continue
		}
		if w.Kind == "" && !hasKey(wn, "kind") {
			p.fail(wn, wp+".kind", "required", "is required (allow or deny)")
		}
		switch {
		case schedNode == nil:
			p.fail(wn, wp+".schedule", "required", "is required (a cron schedule like \"0 22 * * 1-5\")")
		case w.Schedule != "":
			if strings.Contains(w.Schedule, "TZ=") {
				p.fail(schedNode, wp+".schedule", "cron", "put the time zone in timeZone, not in the schedule")
				break
			}
			s, err := cronParser.Parse(w.Schedule)
			if err != nil {
				p.fail(schedNode, wp+".schedule", "cron", "%q is not a cron schedule (minute hour day-of-month month day-of-week): %v", w.Schedule, err)
				break
			}
			w.Cron = s
		}
		switch {
		case durNode == nil:
			p.fail(wn, wp+".duration", "required", "is required (how long the window stays open, like 4h)")
		case w.Duration == 0 && durNode.Value != "" && validDuration(durNode.Value):
			p.fail(durNode, wp+".duration", "range", "must be longer than 0")
		}
		if w.Location == nil {
			w.Location = time.UTC
		}
		out = append(out, w)
	}
	return out
}

// checkWindowTargets reports sync windows naming targets the file does not define.
func (p *parser) checkWindowTargets(cfg *Config) {
	names := map[string]bool{}
	for _, t := range cfg.Targets {
		if t.Name != "" {
			names[t.Name] = true
		}
	}
	for i, w := range cfg.SyncWindows {
		for j, name := range w.Targets {
			if !names[name] {
				p.issues = append(p.issues, issueAt(p.file, w.Line, fmt.Sprintf("syncWindows[%d].targets[%d]", i, j), "unknown_target",
					fmt.Sprintf("no target is named %q", name)))
			}
		}
	}
}

// Covers reports whether the window applies to a tenant with these attributes, which the targets named
// in inTargets select.
func (w *SyncWindow) Covers(id string, labels map[string]string, plan, region string, inTargets func(name string) bool) bool {
	if len(w.Targets) == 0 && len(w.Tenants) == 0 && w.Selector == nil {
		return true
	}
	for _, t := range w.Tenants {
		if t == id {
			return true
		}
	}
	if w.Selector.Matches(labels, plan, region) {
		return true
	}
	for _, t := range w.Targets {
		if inTargets(t) {
			return true
		}
	}
	return false
}

// OpenAt reports whether the window is open at t: some start s of its schedule has s ≤ t < s+Duration.
func (w *SyncWindow) OpenAt(t time.Time) (bool, time.Time) {
	t = t.In(w.Location)
	// The first start after t-Duration: if it is not after t, the window that started then is still open.
	s := w.Cron.Next(t.Add(-w.Duration))
	if !s.IsZero() && !s.After(t) {
		return true, s.Add(w.Duration)
	}
	return false, time.Time{}
}

// NextStart is the first start of the window after t (zero when the schedule never fires again).
func (w *SyncWindow) NextStart(t time.Time) time.Time {
	return w.Cron.Next(t.In(w.Location))
}

func issueAt(file string, line int, path, code, msg string) bundle.Issue {
	return bundle.Issue{Severity: bundle.SeverityError, File: file, Line: line, Path: path, Code: code, Message: msg}
}

func validDuration(s string) bool {
	_, err := time.ParseDuration(s)
	return err == nil
}
