package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Notification event types a webhook or Slack sink may subscribe to (all of them when it names none).
const (
	EventRolloutStarted  = "rollout.started"  // a revision's rollout begins (or resumes after a restart)
	EventWaveStarted     = "wave.started"     // a wave's tenants start being applied
	EventWaveFinished    = "wave.finished"    // every tenant of a wave has an outcome
	EventRolloutFinished = "rollout.finished" // the rollout reached its final state
	EventRolloutHalted   = "rollout.halted"   // the failure policy (or shutdown) stopped the rollout; later waves did not run
	EventTenantRefused   = "tenant.refused"   // destructive changes without allowance: nothing applied to the tenant
	EventTenantFailed    = "tenant.failed"    // planning or applying failed for a tenant
	EventDriftDetected   = "drift.detected"   // a drift check found tenants changed by hand (newly drifted, or healed)
	EventRevisionInvalid = "revision.invalid" // the revision failed validation: nothing applied anywhere
)

// EventTypes lists every notification event type.
var EventTypes = []string{EventRolloutStarted, EventWaveStarted, EventWaveFinished, EventRolloutFinished, EventRolloutHalted,
	EventTenantRefused, EventTenantFailed, EventDriftDetected, EventRevisionInvalid}

// Commit-status providers.
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
)

// Default API roots of the commit-status providers (apiURL overrides them for GitHub Enterprise and
// self-managed GitLab).
const (
	DefaultGitHubAPI = "https://api.github.com"
	DefaultGitLabAPI = "https://gitlab.com/api/v4"
)

// DefaultStatusContext prefixes the commit-status contexts: one context per wave, "objectstack/<wave>".
const DefaultStatusContext = "objectstack"

// SecretRef says where the reconciler reads a secret at delivery time: a file on its own host (a mounted
// Kubernetes secret) or an environment variable. Never the repository: a secret committed to Git is
// readable by everyone who can clone it, forever.
type SecretRef struct {
	File string `json:"file,omitempty"`
	Env  string `json:"env,omitempty"`
	// Path is where the reference sits in objectstack.yaml (e.g. notifications.slack[0].url), for messages.
	Path string `json:"-"`
}

// CommitStatus posts one status per wave on the commit being rolled out.
type CommitStatus struct {
	Provider string `json:"provider"`
	// APIURL is the provider's API root (DefaultGitHubAPI, DefaultGitLabAPI by default).
	APIURL string `json:"apiURL,omitempty"`
	// Repository is "owner/name" on GitHub; a project id or "group/name" path on GitLab.
	Repository string `json:"repository"`
	// Context prefixes the status contexts ("<context>/<wave>"); reconcilers sharing a repository (one per
	// cluster or region) give each its own so they never overwrite each other's statuses.
	Context string    `json:"context,omitempty"`
	Token   SecretRef `json:"-"`
	Path    string    `json:"-"`
}

// Webhook posts every subscribed event as JSON, signed with HMAC-SHA256.
type Webhook struct {
	URL    string    `json:"url"`
	Secret SecretRef `json:"-"`
	Events []string  `json:"events,omitempty"`
	Path   string    `json:"-"`
}

// Slack posts subscribed events as one-line messages to a Slack-compatible incoming webhook, whose URL is
// itself the credential.
type Slack struct {
	URL    SecretRef `json:"-"`
	Events []string  `json:"events,omitempty"`
	Path   string    `json:"-"`
}

// Notifications is objectstack.yaml's notifications block.
type Notifications struct {
	// TargetURL is the link statuses and messages carry; {revision}, {commit}, {wave} and {rollout} are
	// replaced (query-escaped) by the event's values.
	TargetURL    string         `json:"targetURL,omitempty"`
	CommitStatus []CommitStatus `json:"commitStatus,omitempty"`
	Webhooks     []Webhook      `json:"webhooks,omitempty"`
	Slack        []Slack        `json:"slack,omitempty"`
}

// Empty reports whether no sink is configured.
func (n *Notifications) Empty() bool {
	return n == nil || len(n.CommitStatus)+len(n.Webhooks)+len(n.Slack) == 0
}

// Wants reports whether a sink subscribed to events receives event type t (no list: every event).
func Wants(events []string, t string) bool {
	if len(events) == 0 {
		return true
	}
	for _, e := range events {
		if e == t {
			return true
		}
	}
	return false
}

// TargetURLPlaceholders are the names targetURL may use in braces.
var TargetURLPlaceholders = []string{"revision", "commit", "wave", "rollout"}

var (
	envNameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	githubRepoRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	gitlabRepoRe  = regexp.MustCompile(`^([0-9]+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$`)
	statusCtxRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	placeholderRe = regexp.MustCompile(`\{([^{}]*)\}`)
	// tokenShapes are credentials recognisable by their form, refused wherever they appear in the block.
	tokenShapes = regexp.MustCompile(`(ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|xox[abpr]-)[A-Za-z0-9_-]{8,}|hooks\.slack\.com/services/`)
)

// ValidStatusContext reports whether s may be (part of) a commit-status context prefix.
func ValidStatusContext(s string) bool { return statusCtxRe.MatchString(s) }

// notifications parses the notifications block.
func (p *parser) notifications(n *yaml.Node, path string) *Notifications {
	out := &Notifications{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"targetURL": func(v *yaml.Node, path string) { out.TargetURL = p.targetURL(v, path) },
		"commitStatus": func(v *yaml.Node, path string) {
			p.each(v, path, "commit-status sinks", func(c *yaml.Node, ip string) { out.CommitStatus = append(out.CommitStatus, p.commitStatus(c, ip)) })
		},
		"webhooks": func(v *yaml.Node, path string) {
			p.each(v, path, "webhooks", func(c *yaml.Node, ip string) { out.Webhooks = append(out.Webhooks, p.webhook(c, ip)) })
		},
		"slack": func(v *yaml.Node, path string) {
			p.each(v, path, "Slack sinks", func(c *yaml.Node, ip string) { out.Slack = append(out.Slack, p.slack(c, ip)) })
		},
	})
	return out
}

func (p *parser) each(n *yaml.Node, path, what string, f func(*yaml.Node, string)) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "type", "must be a list of %s, got %s", what, kindName(n))
		return
	}
	for i, c := range n.Content {
		f(c, fmt.Sprintf("%s[%d]", path, i))
	}
}

// secretLiteral reports a secret written into the repository.
func (p *parser) secretLiteral(n *yaml.Node, path, name string) {
	p.fail(n, path, "secret_literal", "a secret must not be written in the repository: use %sFile (a path on the reconciler's host) or %sEnv (an environment variable name) instead of %s",
		name, name, name)
}

// secretRef reads <name>File / <name>Env from a sink's keys; exactly one is required.
func (p *parser) secretRef(fields map[string]func(*yaml.Node, string), ref *SecretRef, name string) {
	fields[name+"File"] = func(v *yaml.Node, path string) {
		ref.File = p.str(v, path)
		if ref.File != "" && !filepath.IsAbs(ref.File) {
			// A relative path would be resolved against the working directory, which may be the checkout
			// of the repository: the secret would come from Git after all.
			p.fail(v, path, "secret_file", "%q must be an absolute path on the reconciler's host", ref.File)
		}
	}
	fields[name+"Env"] = func(v *yaml.Node, path string) {
		ref.Env = p.str(v, path)
		if tokenShapes.MatchString(ref.Env) {
			p.fail(v, path, "secret_literal", "this is a credential, not an environment variable name: it must not be written in the repository")
		} else if ref.Env != "" && !envNameRe.MatchString(ref.Env) {
			p.fail(v, path, "secret_env", "%q is not an environment variable name (^[A-Za-z_][A-Za-z0-9_]*$)", ref.Env)
		}
	}
	fields[name] = func(v *yaml.Node, path string) { p.secretLiteral(v, path, name) }
}

// checkSecretRef requires exactly one of <name>File and <name>Env on the sink at n.
func (p *parser) checkSecretRef(n *yaml.Node, path, name string, ref *SecretRef, literal bool) {
	ref.Path = join(path, name)
	switch {
	case literal:
	case ref.File == "" && ref.Env == "":
		p.fail(n, path, "required", "needs %sFile or %sEnv", name, name)
	case ref.File != "" && ref.Env != "":
		p.fail(n, path, "conflict", "set %sFile or %sEnv, not both", name, name)
	}
}

func (p *parser) httpURL(v *yaml.Node, path string) string {
	s := p.str(v, path)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.fail(v, path, "url", "%q is not an http(s) URL", s)
	case u.User != nil:
		p.fail(v, path, "secret_literal", "a URL with credentials is a secret written in the repository; remove the user:password part")
	case tokenShapes.MatchString(s):
		p.fail(v, path, "secret_literal", "this URL carries a credential (a Slack webhook URL or an access token) and must not be written in the repository")
	default:
		return s
	}
	return ""
}

func (p *parser) targetURL(v *yaml.Node, path string) string {
	s := p.str(v, path)
	if s == "" {
		return ""
	}
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		known := false
		for _, k := range TargetURLPlaceholders {
			known = known || m[1] == k
		}
		if !known {
			p.fail(v, path, "placeholder", "unknown placeholder {%s} (known: {%s})", m[1], strings.Join(TargetURLPlaceholders, "}, {"))
			return ""
		}
	}
	probe := *v
	probe.Value = placeholderRe.ReplaceAllString(s, "x")
	if p.httpURL(&probe, path) == "" {
		return ""
	}
	return s
}

func (p *parser) events(v *yaml.Node, path string) []string {
	if v.Kind != yaml.SequenceNode {
		p.fail(v, path, "type", "must be a list of event types (%s), got %s", strings.Join(EventTypes, ", "), kindName(v))
		return nil
	}
	var out []string
	for i, c := range v.Content {
		if e := p.enum(c, fmt.Sprintf("%s[%d]", path, i), EventTypes...); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) commitStatus(n *yaml.Node, path string) CommitStatus {
	cs := CommitStatus{Path: path}
	literal := false
	fields := map[string]func(*yaml.Node, string){
		"provider":   func(v *yaml.Node, path string) { cs.Provider = p.enum(v, path, ProviderGitHub, ProviderGitLab) },
		"apiURL":     func(v *yaml.Node, path string) { cs.APIURL = strings.TrimRight(p.httpURL(v, path), "/") },
		"repository": func(v *yaml.Node, path string) { cs.Repository = p.str(v, path) },
		"context": func(v *yaml.Node, path string) {
			cs.Context = p.str(v, path)
			if cs.Context != "" && !statusCtxRe.MatchString(cs.Context) {
				p.fail(v, path, "context", "%q is not a status context prefix (letters, digits, . _ - separated by /)", cs.Context)
			}
		},
	}
	p.secretRef(fields, &cs.Token, "token")
	tokenLiteral := fields["token"]
	fields["token"] = func(v *yaml.Node, path string) { literal = true; tokenLiteral(v, path) }
	if !p.mapping(n, path, fields) {
		return cs
	}
	if cs.Provider == "" && !hasKey(n, "provider") {
		p.fail(n, path+".provider", "required", "is required (%s or %s)", ProviderGitHub, ProviderGitLab)
	}
	switch {
	case cs.Repository == "" && !hasKey(n, "repository"):
		p.fail(n, path+".repository", "required", "is required (GitHub: owner/name; GitLab: project id or group/name)")
	case cs.Provider == ProviderGitHub && cs.Repository != "" && !githubRepoRe.MatchString(cs.Repository):
		p.fail(n, path+".repository", "repository", "%q is not a GitHub repository (owner/name)", cs.Repository)
	case cs.Provider == ProviderGitLab && cs.Repository != "" && !gitlabRepoRe.MatchString(cs.Repository):
		p.fail(n, path+".repository", "repository", "%q is not a GitLab project (an id or group/name)", cs.Repository)
	}
	if cs.APIURL == "" && !hasKey(n, "apiURL") {
		cs.APIURL = DefaultGitHubAPI
		if cs.Provider == ProviderGitLab {
			cs.APIURL = DefaultGitLabAPI
		}
	}
	if cs.Context == "" {
		cs.Context = DefaultStatusContext
	}
	p.checkSecretRef(n, path, "token", &cs.Token, literal)
	return cs
}

func (p *parser) webhook(n *yaml.Node, path string) Webhook {
	w := Webhook{Path: path}
	literal := false
	fields := map[string]func(*yaml.Node, string){
		"url":    func(v *yaml.Node, path string) { w.URL = p.httpURL(v, path) },
		"events": func(v *yaml.Node, path string) { w.Events = p.events(v, path) },
	}
	p.secretRef(fields, &w.Secret, "secret")
	secretLiteral := fields["secret"]
	fields["secret"] = func(v *yaml.Node, path string) { literal = true; secretLiteral(v, path) }
	if !p.mapping(n, path, fields) {
		return w
	}
	if !hasKey(n, "url") {
		p.fail(n, path+".url", "required", "is required")
	}
	// The HMAC secret is required: an unsigned event would let anyone who finds the receiver forge one.
	p.checkSecretRef(n, path, "secret", &w.Secret, literal)
	return w
}

func (p *parser) slack(n *yaml.Node, path string) Slack {
	s := Slack{Path: path}
	literal := false
	fields := map[string]func(*yaml.Node, string){
		"events": func(v *yaml.Node, path string) { s.Events = p.events(v, path) },
	}
	p.secretRef(fields, &s.URL, "url")
	fields["url"] = func(v *yaml.Node, path string) {
		literal = true
		p.fail(v, path, "secret_literal", "a Slack incoming-webhook URL is a secret and must not be written in the repository: use urlFile (a path on the reconciler's host) or urlEnv (an environment variable name)")
	}
	if !p.mapping(n, path, fields) {
		return s
	}
	p.checkSecretRef(n, path, "url", &s.URL, literal)
	return s
}

func hasKey(n *yaml.Node, key string) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
