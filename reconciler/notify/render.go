package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Sink labels (the metrics' sink label).
const (
	SinkGitHub  = "github"
	SinkGitLab  = "gitlab"
	SinkWebhook = "webhook"
	SinkSlack   = "slack"
)

// Headers of webhook deliveries. The signature has the form of the reconciler's own generic receiver
// (reconciler/webhook): "sha256=" + hex(HMAC-SHA256(secret, body)).
const (
	HeaderSignature = "X-Signature"
	HeaderEvent     = "X-Objectstack-Event"
	HeaderDelivery  = "X-Objectstack-Delivery"
)

// Sign is the webhook signature of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Commit-status states, before the provider's spelling.
const (
	statePending = "pending"
	stateRunning = "running"
	stateSuccess = "success"
	stateFailure = "failure"
	stateError   = "error" // the wave never ran: GitHub error, GitLab canceled
)

// Description limits: GitHub rejects a description over 140 characters; GitLab keeps 255.
const (
	githubDescription = 140
	gitlabDescription = 255
)

// commitStatus is one status to post for an event.
type commitStatus struct {
	context, state, description string
}

// statuses maps an event onto per-wave commit statuses: rollout.started puts every wave with work in
// pending, wave.started moves its wave to running, wave.finished settles it (success, or failure when a
// tenant failed, was refused or halted), rollout.halted settles the waves that will not run as error, and
// revision.invalid sets "<context>/revision" to failure. Every other event posts nothing.
func statuses(ev Event, prefix string) []commitStatus {
	var out []commitStatus
	switch ev.Type {
	case config.EventRolloutStarted:
		for _, w := range ev.Waves {
			out = append(out, commitStatus{prefix + "/" + w.Name, statePending, fmt.Sprintf("queued: %d tenant(s) to converge", w.Tenants)})
		}
	case config.EventWaveStarted:
		n := 0
		if ev.Counts != nil {
			n = ev.Counts.Tenants
		}
		out = append(out, commitStatus{prefix + "/" + ev.Wave, stateRunning, fmt.Sprintf("applying to %d tenant(s)", n)})
	case config.EventWaveFinished:
		if c := ev.Counts; c != nil && c.Tenants > 0 && c.Leased == c.Tenants {
			// Another replica of this reconciler held every tenant of the wave and settles its status;
			// this one's "0 applied" success must not overwrite that replica's outcome.
			return nil
		}
		st := stateSuccess
		if !ev.Counts.OK() {
			st = stateFailure
		}
		out = append(out, commitStatus{prefix + "/" + ev.Wave, st, ev.Message})
	case config.EventRolloutHalted:
		for _, w := range ev.Waves {
			out = append(out, commitStatus{prefix + "/" + w.Name, stateError, "halted: " + ev.Message})
		}
	case config.EventRevisionInvalid:
		out = append(out, commitStatus{prefix + "/revision", stateFailure, ev.Message})
	}
	return out
}

func githubState(s string) string {
	switch s {
	case stateRunning:
		return "pending" // GitHub has no running state
	}
	return s
}

func gitlabState(s string) string {
	switch s {
	case stateFailure:
		return "failed"
	case stateError:
		return "canceled"
	}
	return s
}

// delivery is one HTTP request to make, with its secret still a reference: it is read only when sent.
type delivery struct {
	sink  string // label
	key   string // the sink's queue
	desc  string // what it is, for logs: never a secret
	event Event
	url   string // empty: the URL is the secret (Slack)
	body  []byte
	// secret is read at send time; auth puts it on the request.
	secret config.SecretRef
	auth   func(h http.Header, secret string, body []byte)
	// unchanged, if set, recognises an answer saying the status already is in that state.
	unchanged func(code int, body string) bool
}

// render turns an event into the deliveries of every configured sink that takes it.
func render(n *config.Notifications, ev Event, own string) []delivery {
	var out []delivery
	for _, cs := range n.CommitStatus {
		if ev.Commit == "" {
			continue
		}
		prefix := cs.Context
		if own != "" {
			prefix += "/" + own
		}
		for _, s := range statuses(ev, prefix) {
			out = append(out, commitStatusDelivery(cs, ev, s))
		}
	}
	for _, w := range n.Webhooks {
		if !config.Wants(w.Events, ev.Type) {
			continue
		}
		body, _ := json.Marshal(ev)
		out = append(out, delivery{sink: SinkWebhook, key: SinkWebhook + " " + w.URL, desc: fmt.Sprintf("webhook %s (%s)", w.Path, redactURL(w.URL)),
			event: ev, url: w.URL, body: body, secret: w.Secret,
			auth: func(h http.Header, secret string, body []byte) {
				h.Set("Content-Type", "application/json")
				h.Set(HeaderEvent, ev.Type)
				h.Set(HeaderDelivery, ev.ID)
				h.Set(HeaderSignature, Sign([]byte(secret), body))
			}})
	}
	for _, s := range n.Slack {
		if !config.Wants(s.Events, ev.Type) {
			continue
		}
		body, _ := json.Marshal(map[string]string{"text": slackText(ev)})
		out = append(out, delivery{sink: SinkSlack, key: SinkSlack + " " + s.URL.File + "\x00" + s.URL.Env, desc: "slack " + s.Path,
			event: ev, body: body, secret: s.URL,
			auth: func(h http.Header, _ string, _ []byte) { h.Set("Content-Type", "application/json") }})
	}
	return out
}

func commitStatusDelivery(cs config.CommitStatus, ev Event, s commitStatus) delivery {
	d := delivery{key: cs.Provider + " " + cs.APIURL + " " + cs.Repository, event: ev, secret: cs.Token}
	switch cs.Provider {
	case config.ProviderGitLab:
		d.sink = SinkGitLab
		d.url = fmt.Sprintf("%s/projects/%s/statuses/%s", cs.APIURL, url.PathEscape(cs.Repository), ev.Commit)
		d.body, _ = json.Marshal(map[string]string{"state": gitlabState(s.state), "name": s.context, "target_url": ev.URL,
			"description": truncate(s.description, gitlabDescription)})
		d.auth = func(h http.Header, token string, _ []byte) {
			h.Set("Content-Type", "application/json")
			h.Set("PRIVATE-TOKEN", token)
		}
		d.desc = fmt.Sprintf("gitlab %s %s %s", cs.Repository, s.context, gitlabState(s.state))
		// GitLab refuses a transition to the state a status already has, or back to pending from running
		// (a resumed rollout re-queues its waves; a second replica starts the same wave): nothing to fix.
		d.unchanged = func(code int, body string) bool {
			return code == http.StatusBadRequest && strings.Contains(body, "Cannot transition status")
		}
	default:
		d.sink = SinkGitHub
		d.url = fmt.Sprintf("%s/repos/%s/statuses/%s", cs.APIURL, cs.Repository, ev.Commit)
		d.body, _ = json.Marshal(map[string]string{"state": githubState(s.state), "context": s.context, "target_url": ev.URL,
			"description": truncate(s.description, githubDescription)})
		d.auth = func(h http.Header, token string, _ []byte) {
			h.Set("Content-Type", "application/json")
			h.Set("Accept", "application/vnd.github+json")
			h.Set("X-GitHub-Api-Version", "2022-11-28")
			h.Set("Authorization", "Bearer "+token)
		}
		d.desc = fmt.Sprintf("github %s %s %s", cs.Repository, s.context, githubState(s.state))
	}
	return d
}

// slackText is the one-line message of an event, with the link in Slack's <url|text> form.
func slackText(ev Event) string {
	icon := map[string]string{config.EventRolloutStarted: ":arrow_forward:", config.EventWaveStarted: ":arrow_forward:",
		config.EventWaveFinished: ":white_check_mark:", config.EventRolloutFinished: ":white_check_mark:", config.EventRolloutHalted: ":octagonal_sign:",
		config.EventTenantRefused: ":no_entry:", config.EventTenantFailed: ":x:", config.EventDriftDetected: ":warning:",
		config.EventRevisionInvalid: ":x:"}[ev.Type]
	if (ev.Type == config.EventWaveFinished || ev.Type == config.EventRolloutFinished) && !ev.Counts.OK() {
		icon = ":x:"
	}
	text := fmt.Sprintf("%s objectstack %s: %s", icon, ev.Type, slackEscape(ev.Message))
	if ev.URL != "" {
		text += " <" + ev.URL + "|details>"
	}
	return text
}

// slackEscape escapes the three characters Slack's message format reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// ExpandTargetURL fills targetURL's placeholders with the event's (query-escaped) values.
func ExpandTargetURL(tmpl string, ev Event) string {
	if tmpl == "" {
		return ""
	}
	rollout := ""
	if ev.RolloutID > 0 {
		rollout = strconv.FormatInt(ev.RolloutID, 10)
	}
	return strings.NewReplacer("{revision}", url.QueryEscape(ev.Revision), "{commit}", url.QueryEscape(ev.Commit),
		"{wave}", url.QueryEscape(ev.Wave), "{rollout}", rollout).Replace(tmpl)
}

// redactURL keeps scheme, host and path of a webhook URL for logs; a query string may carry a token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
