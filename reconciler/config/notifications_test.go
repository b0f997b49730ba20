package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const notifyBase = "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [crm]\n    tenants: [acme]\nnotifications:\n"

func TestParseNotifications(t *testing.T) {
	doc := notifyBase + `  targetURL: https://status.example/{rollout}?c={commit}
  commitStatus:
    - provider: github
      repository: acme/config
      tokenEnv: GH_TOKEN
    - provider: gitlab
      apiURL: https://gitlab.example.com/api/v4/
      repository: "1234"
      tokenFile: /run/secrets/gitlab
      context: objectstack/eu
  webhooks:
    - url: https://hooks.example.com/objectstack?team=db
      secretFile: /run/secrets/hook
      events: [rollout.halted, tenant.failed]
  slack:
    - urlEnv: SLACK_URL
`
	cfg, err := Parse([]byte(doc), FileName)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notifications
	if n == nil || n.Empty() || n.TargetURL != "https://status.example/{rollout}?c={commit}" {
		t.Fatalf("notifications: %+v", n)
	}
	gh, gl := n.CommitStatus[0], n.CommitStatus[1]
	if gh.APIURL != DefaultGitHubAPI || gh.Context != DefaultStatusContext || gh.Token.Env != "GH_TOKEN" || gh.Token.Path != "notifications.commitStatus[0].token" {
		t.Fatalf("github defaults: %+v", gh)
	}
	if gl.APIURL != "https://gitlab.example.com/api/v4" || gl.Repository != "1234" || gl.Context != "objectstack/eu" || gl.Token.File != "/run/secrets/gitlab" {
		t.Fatalf("gitlab: %+v", gl)
	}
	if w := n.Webhooks[0]; w.URL != "https://hooks.example.com/objectstack?team=db" || w.Secret.File != "/run/secrets/hook" ||
		!Wants(w.Events, EventTenantFailed) || Wants(w.Events, EventWaveStarted) {
		t.Fatalf("webhook: %+v", w)
	}
	if s := n.Slack[0]; s.URL.Env != "SLACK_URL" || !Wants(s.Events, EventDriftDetected) {
		t.Fatalf("slack: %+v", s)
	}
	// No block: no sinks.
	cfg, err = Parse([]byte(strings.TrimSuffix(notifyBase, "notifications:\n")), FileName)
	if err != nil || !cfg.Notifications.Empty() {
		t.Fatalf("without notifications: %+v %v", cfg.Notifications, err)
	}
}

// notifyBadCases are invalid notifications blocks, each with the line and path the issue must name;
// structural ones must be refused by the JSON Schema too.
var notifyBadCases = []struct {
	name, block string
	line        int
	path, msg   string
	structural  bool
}{
	{"token literal", "  commitStatus:\n    - provider: github\n      repository: a/b\n      token: ghp_abcdefghijklmnopqrstuvwxyz012345\n",
		9, "notifications.commitStatus[0].token", "use tokenFile", true},
	{"webhook secret literal", "  webhooks:\n    - url: https://h.example/x\n      secret: hunter2hunter2\n",
		8, "notifications.webhooks[0].secret", "use secretFile", true},
	{"slack url literal", "  slack:\n    - url: https://hooks.slack.com/services/T0/B0/abc\n",
		7, "notifications.slack[0].url", "Slack incoming-webhook URL is a secret", true},
	{"slack url in a webhook", "  webhooks:\n    - url: https://hooks.slack.com/services/T0/B0/abc\n      secretEnv: S\n",
		7, "notifications.webhooks[0].url", "carries a credential", false},
	{"url with credentials", "  webhooks:\n    - url: https://user:pw@h.example/x\n      secretEnv: S\n",
		7, "notifications.webhooks[0].url", "user:password", false},
	{"token in the env key", "  commitStatus:\n    - provider: github\n      repository: a/b\n      tokenEnv: ghp_abcdefghijklmnopqrstuvwxyz012345\n",
		9, "notifications.commitStatus[0].tokenEnv", "must not be written in the repository", false},
	{"no token", "  commitStatus:\n    - provider: github\n      repository: a/b\n",
		7, "notifications.commitStatus[0]", "needs tokenFile or tokenEnv", true},
	{"token file and env", "  commitStatus:\n    - provider: gitlab\n      repository: a/b\n      tokenFile: /a\n      tokenEnv: B\n",
		7, "notifications.commitStatus[0]", "not both", true},
	{"relative secret file", "  webhooks:\n    - url: https://h.example/x\n      secretFile: secrets/hook\n",
		8, "notifications.webhooks[0].secretFile", "absolute path", true},
	{"bad env name", "  slack:\n    - urlEnv: SLACK-URL\n",
		7, "notifications.slack[0].urlEnv", "not an environment variable name", true},
	{"webhook without secret", "  webhooks:\n    - url: https://h.example/x\n",
		7, "notifications.webhooks[0]", "needs secretFile or secretEnv", true},
	{"webhook without url", "  webhooks:\n    - secretEnv: S\n",
		7, "notifications.webhooks[0].url", "is required", true},
	{"unknown event", "  slack:\n    - urlEnv: S\n      events: [rollout.exploded]\n",
		8, "notifications.slack[0].events[0]", "not one of", true},
	{"bad provider", "  commitStatus:\n    - provider: bitbucket\n      repository: a/b\n      tokenEnv: T\n",
		7, "notifications.commitStatus[0].provider", "not one of", true},
	{"missing repository", "  commitStatus:\n    - provider: github\n      tokenEnv: T\n",
		7, "notifications.commitStatus[0].repository", "is required", true},
	{"bad github repository", "  commitStatus:\n    - provider: github\n      repository: justaname\n      tokenEnv: T\n",
		7, "notifications.commitStatus[0].repository", "owner/name", false},
	{"bad api url", "  commitStatus:\n    - provider: github\n      apiURL: ftp://x\n      repository: a/b\n      tokenEnv: T\n",
		8, "notifications.commitStatus[0].apiURL", "http(s) URL", true},
	{"bad context", "  commitStatus:\n    - provider: github\n      repository: a/b\n      tokenEnv: T\n      context: has space\n",
		10, "notifications.commitStatus[0].context", "status context prefix", true},
	{"unknown placeholder", "  targetURL: https://s.example/{tenant}\n",
		6, "notifications.targetURL", "unknown placeholder {tenant}", false},
	{"unknown sink key", "  email: [ops@example.com]\n",
		6, "notifications.email", "unknown key", true},
}

func TestNotificationIssuesNameFileLineAndPath(t *testing.T) {
	for _, tc := range notifyBadCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(notifyBase+tc.block), FileName)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want issues, got %v", err)
			}
			for _, is := range ce.Issues {
				if is.File == FileName && is.Line == tc.line && is.Path == tc.path && strings.Contains(is.Message, tc.msg) {
					if strings.Contains(is.Message, "ghp_abc") || strings.Contains(is.Message, "hunter2") || strings.Contains(is.Message, "/B0/abc") {
						t.Fatalf("the issue repeats the secret: %s", is.Message)
					}
					return
				}
			}
			t.Fatalf("no issue at line %d path %q containing %q; got %v", tc.line, tc.path, tc.msg, err)
		})
	}
}

// TestNotificationsSchemaAgreesWithLoader: the schema refuses the structural bad cases and accepts the
// example's notifications block (TestJSONSchemaAgreesWithLoader validates the whole example).
func TestNotificationsSchemaAgreesWithLoader(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "schema", "objectstack.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	v := &jsonSchema{root: schema}
	for _, tc := range notifyBadCases {
		if !tc.structural {
			continue
		}
		if errs := v.validate(yamlToJSON(t, []byte(notifyBase+tc.block)), schema, ""); len(errs) == 0 {
			t.Errorf("%s: the schema accepts what the loader rejects", tc.name)
		}
	}
	cfg, err := LoadFile(filepath.Join("..", "..", "examples", "gitops", FileName), FileName)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notifications
	if n == nil || len(n.CommitStatus) != 2 || len(n.Webhooks) != 1 || len(n.Slack) != 1 || n.TargetURL == "" {
		t.Fatalf("the example should show every notification setting: %+v", n)
	}
}
