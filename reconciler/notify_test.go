package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/notifytest"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
)

const (
	testForgeToken   = "tok-0123456789abcdefghij"
	testHookSecret   = "hmac-secret-9876543210zyxw"
	testGitHubEnv    = "OBJECTSTACK_TEST_GITHUB_TOKEN"
	testSlackURLEnv  = "OBJECTSTACK_TEST_SLACK_URL"
	testStatusPrefix = "objectstack/eu" // the GitLab sink's own context, as a second reconciler would set
)

// syncBuffer is a log sink the reconciler's goroutines write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// notifyConfig is the notifications block pointing every sink at the fake; the GitLab token comes from a
// file, the GitHub token and the Slack URL from environment variables, the webhook secret from a file.
func notifyConfig(t *testing.T, srv *notifytest.Server) string {
	dir := t.TempDir()
	tokenFile, secretFile := filepath.Join(dir, "gitlab-token"), filepath.Join(dir, "hook-secret")
	if err := os.WriteFile(tokenFile, []byte(testForgeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(testHookSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`notifications:
  targetURL: https://status.example/rollouts/{rollout}?commit={commit}&wave={wave}
  commitStatus:
    - provider: github
      apiURL: %[1]s
      repository: acme/objectstack-config
      tokenEnv: %[2]s
    - provider: gitlab
      apiURL: %[1]s/api/v4
      repository: acme/objectstack-config
      tokenFile: %[3]s
      context: %[4]s
  webhooks:
    - url: %[1]s/hook
      secretFile: %[5]s
  slack:
    - urlEnv: %[6]s
      events: [rollout.halted, tenant.refused, tenant.failed]
`, srv.URL, testGitHubEnv, tokenFile, testStatusPrefix, secretFile, testSlackURLEnv)
}

func notifyEnv(srv *notifytest.Server) func(string) string {
	return func(k string) string {
		switch k {
		case testGitHubEnv:
			return testForgeToken
		case testSlackURLEnv:
			return srv.URL + srv.SlackPath
		}
		return ""
	}
}

func flushNotifications(t *testing.T, r *Reconciler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.FlushNotifications(ctx); err != nil {
		t.Fatal(err)
	}
}

func commitOf(t *testing.T, revision string) string {
	t.Helper()
	_, sha, ok := strings.Cut(revision, "@sha1:")
	if !ok {
		t.Fatalf("revision %q has no commit", revision)
	}
	return sha
}

func eventTypes(ds []notifytest.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Event.Type+waveSuffix(d.Event.Wave))
	}
	return out
}

func waveSuffix(w string) string {
	if w == "" {
		return ""
	}
	return "(" + w + ")"
}

func wantSeq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// TestNotificationsFollowTheRollout pushes a successful, a refused and a halted rollout (and an invalid
// revision, and drift) through the real reconciler with every sink pointed at loopback fakes of GitHub's
// and GitLab's commit-status APIs, a webhook receiver verifying the HMAC, and a Slack webhook: the exact
// statuses per wave context, the events in order, and no secret in the logs.
func TestNotificationsFollowTheRollout(t *testing.T) {
	ctx := context.Background()
	srv := notifytest.New(t, testForgeToken, testHookSecret)
	e := newEnv(t, prodTenants)
	logs := &syncBuffer{}
	r := e.reconciler(Options{Concurrency: 4, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notify: notify.Options{Getenv: notifyEnv(srv), Backoff: 10 * time.Millisecond}})
	block := notifyConfig(t, srv)
	gh, gl := "objectstack/", testStatusPrefix+"/"

	// 1. A successful rollout: each wave pending → running → success.
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig(block)}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 6 {
		t.Fatalf("first push: %+v %v", sum, err)
	}
	flushNotifications(t, r)
	sha := commitOf(t, sum.Revision)
	wantSeq(t, "github statuses", srv.Sequence("github", sha), map[string][]string{
		gh + "canary": {"pending", "pending", "success"},
		gh + "rest":   {"pending", "pending", "success"},
	})
	wantSeq(t, "gitlab statuses", srv.Sequence("gitlab", sha), map[string][]string{
		gl + "canary": {"pending", "running", "success"},
		gl + "rest":   {"pending", "running", "success"},
	})
	ghs := srv.Statuses("github", sha)
	// The global order: both waves queued, then each wave runs and settles before the next starts.
	var order []string
	for _, st := range ghs {
		order = append(order, st.Context+"="+st.State)
	}
	wantSeq(t, "github order", order, []string{gh + "canary=pending", gh + "rest=pending", gh + "canary=pending", gh + "canary=success",
		gh + "rest=pending", gh + "rest=success"})
	if ghs[0].Repo != "acme/objectstack-config" || ghs[0].Description != "queued: 1 tenant(s) to converge" ||
		ghs[4].Description != "applying to 5 tenant(s)" || ghs[5].Description != "wave rest: 5 applied" {
		t.Fatalf("github statuses: %+v", ghs)
	}
	if want := fmt.Sprintf("https://status.example/rollouts/%d?commit=%s&wave=rest", sum.RolloutID, sha); ghs[5].TargetURL != want {
		t.Fatalf("target_url %q, want %q", ghs[5].TargetURL, want)
	}
	if gls := srv.Statuses("gitlab", sha); gls[0].Repo != "acme/objectstack-config" {
		t.Fatalf("gitlab project %q (sent escaped, read back unescaped)", gls[0].Repo)
	}
	hooks := srv.Webhooks()
	wantSeq(t, "webhook events", eventTypes(hooks), []string{"rollout.started", "wave.started(canary)", "wave.finished(canary)",
		"wave.started(rest)", "wave.finished(rest)", "rollout.finished"})
	if c := hooks[4].Event.Counts; c == nil || c.Tenants != 5 || c.Applied != 5 || hooks[4].EventHdr != "wave.finished" || hooks[4].DeliveryID == "" {
		t.Fatalf("wave.finished event: %+v", hooks[4])
	}
	if ev := hooks[0].Event; ev.Revision != sum.Revision || ev.Commit != sha || len(ev.Waves) != 2 || ev.Waves[1] != (notify.WaveInfo{Name: "rest", Tenants: 5}) {
		t.Fatalf("rollout.started event: %+v", ev)
	}
	if ev := hooks[5].Event; ev.State != "completed" || ev.Counts.Applied != 6 {
		t.Fatalf("rollout.finished event: %+v", ev)
	}
	if len(srv.Slack()) != 0 {
		t.Fatalf("slack subscribed only to halts and failures, got %v", srv.Slack())
	}

	// 2. A refused rollout: the canary refuses a dropped column; its wave fails, the rest never runs.
	srv.Reset()
	e.remote.Write(coreBundle("1.2.0", "-body"))
	e.remote.Commit("drop body")
	sum, err = r.Once(ctx)
	if err != nil || sum.Refused != 1 || sum.Halted != 5 {
		t.Fatalf("refused push: %+v %v", sum, err)
	}
	flushNotifications(t, r)
	sha = commitOf(t, sum.Revision)
	wantSeq(t, "github statuses (refused)", srv.Sequence("github", sha), map[string][]string{
		gh + "canary": {"pending", "pending", "failure"},
		gh + "rest":   {"pending", "error"},
	})
	wantSeq(t, "gitlab statuses (refused)", srv.Sequence("gitlab", sha), map[string][]string{
		gl + "canary": {"pending", "running", "failed"},
		gl + "rest":   {"pending", "canceled"},
	})
	ghs = srv.Statuses("github", sha)
	mustContain(t, ghs[3].Description, "1 refused")
	mustContain(t, ghs[3].Description, "t-canary refused")
	mustContain(t, ghs[4].Description, "halted: ")
	hooks = srv.Webhooks()
	wantSeq(t, "webhook events (refused)", eventTypes(hooks), []string{"rollout.started", "wave.started(canary)", "tenant.refused(canary)",
		"wave.finished(canary)", "rollout.halted", "rollout.finished"})
	refused := hooks[2].Event
	if len(refused.Tenants) != 1 || refused.Tenants[0].ID != "t-canary" || refused.Tenants[0].Outcome != OutcomeRefused {
		t.Fatalf("tenant.refused: %+v", refused)
	}
	mustContain(t, refused.Tenants[0].Reason, "drop_column note.body")
	if h := hooks[4].Event; len(h.Waves) != 1 || h.Waves[0] != (notify.WaveInfo{Name: "rest", Tenants: 5}) || h.Counts.Halted != 5 {
		t.Fatalf("rollout.halted: %+v", h)
	}
	if f := hooks[5].Event; f.State != "halted" || f.Counts.Refused != 1 || f.Counts.Halted != 5 {
		t.Fatalf("rollout.finished (refused): %+v", f)
	}
	slack := srv.Slack()
	if len(slack) != 2 || !strings.Contains(slack[0], "tenant.refused") || !strings.Contains(slack[1], "rollout.halted") ||
		!strings.Contains(slack[1], "|details>") {
		t.Fatalf("slack messages: %q", slack)
	}

	// 3. A halted rollout: another migrator holds the canary's lock, so it fails and halts the rest.
	srv.Reset()
	e.remote.Write(merge(coreBundle("1.3.0", "due: { type: date, label: Due }")))
	e.remote.Commit("add due")
	if err := schema.AcquireLock(ctx, e.db("t-canary"), "terraform-run-42", time.Hour); err != nil {
		t.Fatal(err)
	}
	sum, err = r.Once(ctx)
	if err != nil || outcomes(sum)["t-canary"] != OutcomeFailed || sum.Halted != 5 {
		t.Fatalf("halted push: %+v %v", sum, err)
	}
	flushNotifications(t, r)
	sha = commitOf(t, sum.Revision)
	wantSeq(t, "github statuses (halted)", srv.Sequence("github", sha), map[string][]string{
		gh + "canary": {"pending", "pending", "failure"},
		gh + "rest":   {"pending", "error"},
	})
	wantSeq(t, "gitlab statuses (halted)", srv.Sequence("gitlab", sha), map[string][]string{
		gl + "canary": {"pending", "running", "failed"},
		gl + "rest":   {"pending", "canceled"},
	})
	hooks = srv.Webhooks()
	wantSeq(t, "webhook events (halted)", eventTypes(hooks), []string{"rollout.started", "wave.started(canary)", "tenant.failed(canary)",
		"wave.finished(canary)", "rollout.halted", "rollout.finished"})
	mustContain(t, hooks[2].Event.Tenants[0].Reason, "terraform-run-42")
	mustContain(t, hooks[4].Event.Message, "failurePolicy halt")
	if err := schema.ReleaseLock(ctx, e.db("t-canary"), "terraform-run-42"); err != nil {
		t.Fatal(err)
	}
	if sum, err = r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("after the lock is released: %+v %v", sum, err)
	}
	flushNotifications(t, r)
	wantSeq(t, "github statuses (retried)", srv.Sequence("github", sha), map[string][]string{
		gh + "canary": {"pending", "pending", "failure", "pending", "pending", "success"},
		gh + "rest":   {"pending", "error", "pending", "pending", "success"},
	})

	// 4. An invalid revision: "<context>/revision" fails, naming the file; nothing else is posted.
	srv.Reset()
	e.remote.Write(coreBundle("1.4.0", "priority: { type: numbr, label: Priority }"))
	e.remote.Commit("broken")
	if sum, err = r.Once(ctx); err != nil || sum.Valid {
		t.Fatalf("broken push: %+v %v", sum, err)
	}
	flushNotifications(t, r)
	sha = commitOf(t, sum.Revision)
	wantSeq(t, "github statuses (invalid)", srv.Sequence("github", sha), map[string][]string{gh + "revision": {"failure"}})
	mustContain(t, srv.Statuses("github", sha)[0].Description, "bundles/core/objects/note.yaml")
	wantSeq(t, "webhook events (invalid)", eventTypes(srv.Webhooks()), []string{"revision.invalid"})

	// 5. Drift: a tenant changed by hand is reported once, not on every check.
	e.remote.Write(coreBundle("1.3.0", "due: { type: date, label: Due }"))
	e.remote.Commit("revert")
	if sum, err = r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("revert: %+v %v", sum, err)
	}
	if _, err := e.db("t-b").ExecContext(ctx, `ALTER TABLE note DROP COLUMN due`); err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	for range 2 {
		if rep, err := r.CheckDrift(ctx); err != nil || rep.Drifted != 1 {
			t.Fatalf("drift: %+v %v", rep, err)
		}
	}
	flushNotifications(t, r)
	hooks = srv.Webhooks()
	wantSeq(t, "webhook events (drift)", eventTypes(hooks), []string{"drift.detected"})
	if d := hooks[0].Event; len(d.Tenants) != 1 || d.Tenants[0].ID != "t-b" || d.Tenants[0].Outcome != "drifted" {
		t.Fatalf("drift.detected: %+v", d)
	}
	if len(srv.Statuses("github", "")) != 0 {
		t.Fatal("a drift check posts no commit status")
	}

	if rej := srv.Rejected(); len(rej) != 0 {
		t.Fatalf("the fakes rejected requests: %v", rej)
	}
	if n := metricValue(r.Metrics().Notifications.WithLabelValues(notify.SinkGitHub, notify.OutcomeDelivered)); n < 20 {
		t.Fatalf("github deliveries counted: %v", n)
	}
	if n := metricValue(r.Metrics().Notifications.WithLabelValues(notify.SinkWebhook, notify.OutcomeFailed)); n != 0 {
		t.Fatalf("failed webhook deliveries: %v", n)
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`objectstack_notification_deliveries_total{outcome="delivered",sink="github"}`,
		`objectstack_notification_deliveries_total{outcome="delivered",sink="slack"} 4`} {
		mustContain(t, rec.Body.String(), want)
	}
	for _, secret := range []string{testForgeToken, testHookSecret, srv.SlackPath} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret is in the logs")
		}
	}
	if !strings.Contains(logs.String(), "notification delivered") {
		t.Fatal("deliveries are not logged at debug")
	}
}

// TestNotificationsNeverBlockTheRollout points every sink at a receiver that never answers: the rollouts
// complete all the same (the receiver is still hanging when they return), the bounded queue drops what
// does not fit and counts it, and Close returns once its drain deadline passes.
func TestNotificationsNeverBlockTheRollout(t *testing.T) {
	ctx := context.Background()
	srv := notifytest.New(t, testForgeToken, testHookSecret)
	srv.Fault = func(string, int) (int, bool) { return 0, true }
	e := newEnv(t, prodTenants[:3])
	r := e.reconciler(Options{Notify: notify.Options{Getenv: notifyEnv(srv), QueueSize: 2, Attempts: 2, Timeout: time.Hour}})
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig(notifyConfig(t, srv))}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 3 {
		t.Fatalf("rollout with a hanging receiver: %+v %v", sum, err)
	}
	e.remote.Write(coreBundle("1.1.0", "priority: { type: number, label: Priority }"))
	e.remote.Commit("core 1.1.0")
	if sum, err = r.Once(ctx); err != nil || !sum.OK() || sum.Applied != 3 {
		t.Fatalf("second rollout with a hanging receiver: %+v %v", sum, err)
	}
	waitFor(t, "the receiver to hold a request", time.Minute, func() bool { return srv.Requests("github") > 0 })
	if n := len(srv.Statuses("github", "")); n != 0 {
		t.Fatalf("the hanging receiver accepted %d statuses", n)
	}
	dropped := metricValue(r.Metrics().NotificationsDropped.WithLabelValues(notify.SinkGitHub))
	if dropped <= 0 {
		t.Fatalf("a full queue must drop and count: dropped %v", dropped)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := r.Close(cctx); err == nil {
		t.Fatal("Close with a hanging receiver should report undelivered notifications")
	}
	if metricValue(r.Metrics().NotificationsDropped.WithLabelValues(notify.SinkGitHub)) <= dropped {
		t.Fatal("deliveries abandoned at shutdown are counted as dropped")
	}
}

// TestNotificationSecretsNotInRepository: the reconciler refuses a revision whose objectstack.yaml holds a
// token, naming the file and the path; nothing is applied and no notification is attempted.
func TestNotificationSecretsNotInRepository(t *testing.T) {
	ctx := context.Background()
	srv := notifytest.New(t, testForgeToken, testHookSecret)
	e := newEnv(t, prodTenants[:2])
	r := e.reconciler(Options{Notify: notify.Options{Getenv: notifyEnv(srv)}})
	cfg := fmt.Sprintf("notifications:\n  commitStatus:\n    - provider: github\n      apiURL: %s\n      repository: acme/config\n      token: %s\n", srv.URL, testForgeToken)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig(cfg)}, coreBundle("1.0.0")))
	e.remote.Commit("token committed by mistake")
	sum, err := r.Once(ctx)
	if err != nil || sum.Valid || sum.Applied != 0 {
		t.Fatalf("a secret literal must invalidate the revision: %+v %v", sum, err)
	}
	found := false
	for _, is := range sum.Issues {
		if is.File == config.FileName && is.Path == "notifications.commitStatus[0].token" && strings.Contains(is.Message, "tokenFile") {
			found = true
		}
		if strings.Contains(is.Message, testForgeToken) {
			t.Fatalf("the issue repeats the secret: %s", is.Message)
		}
	}
	if !found {
		t.Fatalf("no issue names objectstack.yaml and notifications.commitStatus[0].token: %+v", sum.Issues)
	}
	flushNotifications(t, r)
	if srv.Requests("github") != 0 {
		t.Fatal("a revision with a committed token must not be used to post anything")
	}
}

// TestReconcilersSharingARepositoryKeepTheirOwnStatuses: two reconcilers (their own control planes and
// tenants, as in two regions) roll out the same commit of the same repository, one successfully and one
// with its canary failing; with their own status contexts each keeps its own per-wave sequence on the
// commit and neither overwrites the other.
func TestReconcilersSharingARepositoryKeepTheirOwnStatuses(t *testing.T) {
	ctx := context.Background()
	srv := notifytest.New(t, testForgeToken, testHookSecret)
	eu := newEnv(t, prodTenants[:3])
	us := newEnv(t, prodTenants[:3])
	us.remote = eu.remote
	eu.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig(notifyConfig(t, srv))}, coreBundle("1.0.0")))
	eu.remote.Commit("core 1.0.0")
	if err := schema.AcquireLock(ctx, us.db("t-canary"), "terraform-run-7", time.Hour); err != nil {
		t.Fatal(err)
	}
	var shas []string
	for _, x := range []struct {
		e    *env
		name string
		ok   bool
	}{{eu, "eu", true}, {us, "us", false}} {
		r := x.e.reconciler(Options{Notify: notify.Options{Getenv: notifyEnv(srv), StatusContext: x.name}})
		sum, err := r.Once(ctx)
		if err != nil || sum.OK() != x.ok {
			t.Fatalf("%s: %+v %v", x.name, sum, err)
		}
		flushNotifications(t, r)
		shas = append(shas, commitOf(t, sum.Revision))
	}
	if shas[0] != shas[1] {
		t.Fatalf("both reconcilers should roll out one commit: %v", shas)
	}
	wantSeq(t, "github statuses of two reconcilers", srv.Sequence("github", shas[0]), map[string][]string{
		"objectstack/eu/canary": {"pending", "pending", "success"},
		"objectstack/eu/rest":   {"pending", "pending", "success"},
		"objectstack/us/canary": {"pending", "pending", "failure"},
		"objectstack/us/rest":   {"pending", "error"},
	})
	wantSeq(t, "gitlab statuses of two reconcilers", srv.Sequence("gitlab", shas[0]), map[string][]string{
		testStatusPrefix + "/eu/canary": {"pending", "running", "success"},
		testStatusPrefix + "/eu/rest":   {"pending", "running", "success"},
		testStatusPrefix + "/us/canary": {"pending", "running", "failed"},
		testStatusPrefix + "/us/rest":   {"pending", "canceled"},
	})
}
