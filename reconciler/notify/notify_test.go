package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/notifytest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
)

const (
	token  = "tok-abcdefghijklmnop0123"
	secret = "hmac-secret-0123456789"
)

// counter records the Observe and Dropped callbacks.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) observe(sink, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[sink+"/"+outcome]++
}

func (c *counter) dropped(sink string) { c.observe(sink, "dropped") }

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newNotifier(t *testing.T, c *counter, logs *logBuf, opts notify.Options) *notify.Notifier {
	t.Helper()
	opts.Observe, opts.Dropped = c.observe, c.dropped
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Backoff == 0 {
		opts.Backoff = 5 * time.Millisecond
	}
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string {
			if k == "GH_TOKEN" {
				return token
			}
			return ""
		}
	}
	n := notify.New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

func flush(t *testing.T, n *notify.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func github(srv *notifytest.Server) *config.Notifications {
	return &config.Notifications{CommitStatus: []config.CommitStatus{{Provider: config.ProviderGitHub, APIURL: srv.URL,
		Repository: "acme/cfg", Context: "objectstack", Token: config.SecretRef{Env: "GH_TOKEN", Path: "notifications.commitStatus[0].token"}}}}
}

func waveFinished(wave string, c notify.Counts) notify.Event {
	return notify.Event{Type: config.EventWaveFinished, Revision: "main@sha1:abc", Commit: "abc", Wave: wave, Counts: &c, Message: "wave " + wave + ": done"}
}

// TestRetriesAfterServerErrors: two 500s, then the status is accepted — three requests, one status.
func TestRetriesAfterServerErrors(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	srv.Fault = func(kind string, n int) (int, bool) {
		if n <= 2 {
			return http.StatusInternalServerError, false
		}
		return 0, false
	}
	c, logs := &counter{}, &logBuf{}
	n := newNotifier(t, c, logs, notify.Options{})
	n.Emit(github(srv), waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if got := srv.Requests("github"); got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}
	if st := srv.Statuses("github", "abc"); len(st) != 1 || st[0].State != "success" || st[0].Context != "objectstack/canary" {
		t.Fatalf("statuses: %+v", st)
	}
	if c.get("github/retried") != 2 || c.get("github/delivered") != 1 || c.get("github/failed") != 0 {
		t.Fatalf("counts: %v", c.n)
	}
	if !strings.Contains(logs.String(), "HTTP 500") {
		t.Fatalf("the retried failure is not logged: %s", logs)
	}
}

// TestRetriesAfterTimeout: the first attempt hangs past the attempt timeout; the retry is accepted.
func TestRetriesAfterTimeout(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	srv.Fault = func(kind string, n int) (int, bool) { return 0, n == 1 }
	c, logs := &counter{}, &logBuf{}
	n := newNotifier(t, c, logs, notify.Options{Timeout: 100 * time.Millisecond})
	n.Emit(github(srv), waveFinished("rest", notify.Counts{Tenants: 2, Failed: 1, Applied: 1}))
	flush(t, n)
	if st := srv.Statuses("github", "abc"); len(st) != 1 || st[0].State != "failure" {
		t.Fatalf("statuses: %+v", st)
	}
	if c.get("github/retried") != 1 || c.get("github/delivered") != 1 {
		t.Fatalf("counts: %v", c.n)
	}
	if !strings.Contains(logs.String(), "no answer within 100ms") {
		t.Fatalf("the timeout is not named in the log: %s", logs)
	}
}

// TestGivesUpAfterAttempts: a receiver that always fails gets exactly Attempts requests.
func TestGivesUpAfterAttempts(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	srv.Fault = func(string, int) (int, bool) { return http.StatusBadGateway, false }
	c := &counter{}
	n := newNotifier(t, c, &logBuf{}, notify.Options{Attempts: 3})
	n.Emit(github(srv), waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if srv.Requests("github") != 3 || c.get("github/failed") != 1 || c.get("github/retried") != 2 {
		t.Fatalf("requests %d, counts %v", srv.Requests("github"), c.n)
	}
}

// TestClientErrorsAreNotRetried: a 401 (bad token) is final; the token does not appear in the log even
// though the fake's answer would not contain it, nor when a receiver echoes it.
func TestClientErrorsAreNotRetried(t *testing.T) {
	srv := notifytest.New(t, "another-token-entirely", secret)
	c, logs := &counter{}, &logBuf{}
	n := newNotifier(t, c, logs, notify.Options{})
	n.Emit(github(srv), waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if srv.Requests("github") != 1 || c.get("github/failed") != 1 || c.get("github/retried") != 0 {
		t.Fatalf("requests %d, counts %v", srv.Requests("github"), c.n)
	}
	if !strings.Contains(logs.String(), "HTTP 401") {
		t.Fatalf("log: %s", logs)
	}

	// A receiver that echoes the Authorization header back in its error.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad credentials: "+r.Header.Get("Authorization"), http.StatusForbidden)
	}))
	defer echo.Close()
	cfg := github(srv)
	cfg.CommitStatus[0].APIURL = echo.URL
	n.Emit(cfg, waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), "REDACTED") {
		t.Fatalf("the echoed token is not redacted: %s", logs)
	}
}

// TestMissingSecretFailsWithoutRequest: an unset variable or a missing file is named (path, variable) and
// nothing is sent.
func TestMissingSecretFailsWithoutRequest(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	c, logs := &counter{}, &logBuf{}
	n := newNotifier(t, c, logs, notify.Options{Getenv: func(string) string { return "" }})
	cfg := github(srv)
	cfg.Webhooks = []config.Webhook{{URL: srv.URL + "/hook", Path: "notifications.webhooks[0]",
		Secret: config.SecretRef{File: filepath.Join(t.TempDir(), "missing"), Path: "notifications.webhooks[0].secret"}}}
	n.Emit(cfg, waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if srv.Requests("github")+srv.Requests("webhook") != 0 {
		t.Fatal("a request was sent without its secret")
	}
	if c.get("github/failed") != 1 || c.get("webhook/failed") != 1 {
		t.Fatalf("counts: %v", c.n)
	}
	mustContain(t, logs.String(), "notifications.commitStatus[0].tokenEnv: environment variable GH_TOKEN is not set")
	mustContain(t, logs.String(), "notifications.webhooks[0].secretFile: read ")
}

// TestWebhookSignatureAndSlack: the webhook carries the event signed with the secret read from a file at
// send time (a rotated file is picked up); a Slack URL read from the environment never reaches the log,
// even when delivery to it fails.
func TestWebhookSignatureAndSlack(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("old-secret-value-xyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	slackURL := srv.URL + srv.SlackPath
	c, logs := &counter{}, &logBuf{}
	env := map[string]string{"SLACK": slackURL}
	var envMu sync.Mutex
	n := newNotifier(t, c, logs, notify.Options{Getenv: func(k string) string { envMu.Lock(); defer envMu.Unlock(); return env[k] }})
	cfg := &config.Notifications{TargetURL: "https://status.example/{wave}",
		Webhooks: []config.Webhook{{URL: srv.URL + "/hook", Secret: config.SecretRef{File: secretFile, Path: "w.secret"}}},
		Slack:    []config.Slack{{URL: config.SecretRef{Env: "SLACK", Path: "s.url"}, Events: []string{config.EventTenantFailed}}}}
	failed := notify.Event{Type: config.EventTenantFailed, Revision: "main@sha1:abc", Commit: "abc", Wave: "canary", Message: "tenant t-a failed in wave canary: <locked> & busy"}
	n.Emit(cfg, failed)
	flush(t, n)
	if len(srv.Webhooks()) != 0 || len(srv.Rejected()) != 1 || srv.Rejected()[0] != "webhook: bad signature" {
		t.Fatalf("a webhook signed with the wrong secret must be refused: %v", srv.Rejected())
	}
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil { // rotated to the receiver's secret
		t.Fatal(err)
	}
	n.Emit(cfg, failed)
	flush(t, n)
	hooks := srv.Webhooks()
	if len(hooks) != 1 || hooks[0].Event.Type != config.EventTenantFailed || hooks[0].Event.URL != "https://status.example/canary" ||
		hooks[0].Event.ID == "" || hooks[0].EventHdr != config.EventTenantFailed {
		t.Fatalf("webhook deliveries: %+v", hooks)
	}
	slack := srv.Slack()
	if len(slack) != 2 || !strings.Contains(slack[0], "&lt;locked&gt; &amp; busy") || !strings.Contains(slack[0], "<https://status.example/canary|details>") {
		t.Fatalf("slack: %q", slack)
	}
	// Slack subscribed only to tenant.failed.
	n.Emit(cfg, waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	flush(t, n)
	if len(srv.Slack()) != 2 {
		t.Fatal("slack got an event it did not subscribe to")
	}
	// A Slack URL pointing at a closed port: the error is logged without the URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/services/T1/B1/secretpart123456"
	dead.Close()
	envMu.Lock()
	env["SLACK"] = deadURL
	envMu.Unlock()
	n.Emit(cfg, failed)
	flush(t, n)
	if c.get("slack/failed") != 1 {
		t.Fatalf("counts: %v", c.n)
	}
	if strings.Contains(logs.String(), "secretpart123456") || strings.Contains(logs.String(), srv.SlackPath) {
		t.Fatalf("the Slack URL is in the log: %s", logs)
	}
}

// TestQueueIsBoundedAndEmitNeverBlocks: with the only worker stuck on a hanging receiver, a thousand
// emits return, the queue keeps QueueSize deliveries and counts every one it dropped; Close gives up at
// its deadline and counts what it abandoned.
func TestQueueIsBoundedAndEmitNeverBlocks(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	srv.Fault = func(string, int) (int, bool) { return 0, true }
	c := &counter{}
	n := newNotifier(t, c, &logBuf{}, notify.Options{QueueSize: 8, Timeout: time.Hour})
	cfg := github(srv)
	for range 1000 {
		n.Emit(cfg, waveFinished("canary", notify.Counts{Tenants: 1, Applied: 1}))
	}
	// One delivery is in flight (or about to be), at most QueueSize wait: the rest were dropped.
	if d := c.get("github/dropped"); d < 1000-1-8 {
		t.Fatalf("dropped %d of 1000 with a queue of 8", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); err == nil {
		t.Fatal("Close must report undelivered notifications")
	}
	if got := c.get("github/dropped") + c.get("github/failed"); got != 1000 {
		t.Fatalf("dropped+failed = %d, want every one of the 1000 accounted for (%v)", got, c.n)
	}
	n.Emit(cfg, waveFinished("canary", notify.Counts{}))
	if c.get("github/dropped")+c.get("github/failed") != 1001 {
		t.Fatal("an emit after Close must be dropped and counted")
	}
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

// TestWaveAllHeldElsewherePostsNoStatus: a replica whose wave tenants were all held by another replica
// posts no commit status for that wave (the other replica's outcome must stand), though webhooks still
// hear of it.
func TestWaveAllHeldElsewherePostsNoStatus(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	c := &counter{}
	n := newNotifier(t, c, &logBuf{}, notify.Options{Getenv: func(k string) string { return map[string]string{"GH_TOKEN": token, "S": secret}[k] }})
	cfg := github(srv)
	cfg.Webhooks = []config.Webhook{{URL: srv.URL + "/hook", Secret: config.SecretRef{Env: "S"}}}
	n.Emit(cfg, waveFinished("rest", notify.Counts{Tenants: 3, Leased: 3}))
	n.Emit(cfg, waveFinished("canary", notify.Counts{Tenants: 2, Applied: 1, Leased: 1}))
	flush(t, n)
	if st := srv.Statuses("github", "abc"); len(st) != 1 || st[0].Context != "objectstack/canary" {
		t.Fatalf("statuses: %+v", st)
	}
	if len(srv.Webhooks()) != 2 {
		t.Fatalf("webhooks: %+v", srv.Webhooks())
	}
}

// TestGitLabSameStateIsNotAFailure: GitLab answers 400 "Cannot transition status" to a status already in
// the state sent (a resumed rollout queues its waves again); that is counted unchanged, not failed, and
// not retried.
func TestGitLabSameStateIsNotAFailure(t *testing.T) {
	srv := notifytest.New(t, token, secret)
	c := &counter{}
	n := newNotifier(t, c, &logBuf{}, notify.Options{})
	cfg := &config.Notifications{CommitStatus: []config.CommitStatus{{Provider: config.ProviderGitLab, APIURL: srv.URL + "/api/v4",
		Repository: "group/sub/project", Context: "objectstack", Token: config.SecretRef{Env: "GH_TOKEN"}}}}
	started := notify.Event{Type: config.EventRolloutStarted, Revision: "main@sha1:abc", Commit: "abc", Waves: []notify.WaveInfo{{Name: "canary", Tenants: 1}}}
	n.Emit(cfg, started)
	n.Emit(cfg, started)
	flush(t, n)
	if got := srv.Sequence("gitlab", "abc"); len(got["objectstack/canary"]) != 1 {
		t.Fatalf("statuses: %v", got)
	}
	if st := srv.Statuses("gitlab", "abc"); st[0].Repo != "group/sub/project" {
		t.Fatalf("project path %q", st[0].Repo)
	}
	if c.get("gitlab/delivered") != 1 || c.get("gitlab/unchanged") != 1 || c.get("gitlab/failed") != 0 || srv.Requests("gitlab") != 2 {
		t.Fatalf("counts %v, requests %d", c.n, srv.Requests("gitlab"))
	}
}
