package reconciler

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/webhook"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServerAndWebhookDrivenRun runs the reconciler loop behind its HTTP server on loopback: /readyz turns
// ready after the first fetch, a signed push hook makes the loop pick up a new commit long before the
// polling interval, and /status and /metrics show the result.
func TestServerAndWebhookDrivenRun(t *testing.T) {
	e := newEnv(t, prodTenants[:3])
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	r := e.reconciler(Options{Interval: time.Hour, Settle: 200 * time.Millisecond})
	secret := []byte("s3cret")
	gh, err := webhook.NewReceiver(webhook.GitHub, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler(gh))
	defer srv.Close()

	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before the first fetch: %d", code)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "readiness", 10*time.Second, func() bool { c, _ := get(t, srv.URL+"/readyz"); return c == http.StatusOK })
	waitFor(t, "first rollout", 10*time.Second, func() bool { s := r.Last(); return s != nil && s.Applied == 3 })

	// A new commit plus a signed hook: reconciled without waiting for the hour-long poll.
	e.remote.Write(coreBundle("1.1.0", "priority: { type: number, label: Priority }"))
	c2 := e.remote.Commit("priority")
	body := []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook/github", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(webhook.Sign(secret, body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("hook: %d", resp.StatusCode)
	}
	// An unsigned hook is refused and counted.
	resp, err = http.Post(srv.URL+"/hook/github", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned hook: %d", resp.StatusCode)
	}
	waitFor(t, "the pushed commit", 10*time.Second, func() bool {
		s := r.Last()
		return s != nil && strings.HasSuffix(s.Revision, c2) && s.Applied == 3
	})

	// 1,000 signed hooks in a burst (16 at a time over loopback) wake the loop a handful of times, not 1,000.
	ticksBefore := fetches(r)
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	var accepted atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook/github", bytes.NewReader(body))
				req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(webhook.Sign(secret, body)))
				if resp, err := client.Do(req); err == nil {
					if resp.StatusCode == http.StatusAccepted {
						accepted.Add(1)
					}
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	waitFor(t, "the burst's reconcile", 10*time.Second, func() bool { return fetches(r) > ticksBefore })
	time.Sleep(500 * time.Millisecond) // a late settle period would show up as one more tick
	ticks := fetches(r) - ticksBefore
	t.Logf("1000 hooks → %v reconcile ticks", ticks)
	if accepted.Load() != 1000 || ticks < 1 || ticks > 5 {
		t.Fatalf("%d hooks accepted caused %v reconcile ticks; want 1..5", accepted.Load(), ticks)
	}

	code, js := get(t, srv.URL+"/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	var doc StatusDocument
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("/status is not JSON: %v", err)
	}
	if len(doc.Tenants) != 3 || doc.Tenants[0].Condition != status.Ready || !strings.HasSuffix(doc.Tenants[0].LastAppliedRevision, c2) {
		t.Fatalf("/status tenants: %+v", doc.Tenants)
	}
	if len(doc.Sources) != 1 || !doc.Sources[0].Valid || doc.Last == nil {
		t.Fatalf("/status source: %+v last %+v", doc.Sources, doc.Last)
	}
	_, metrics := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`objectstack_reconcile_applies_total{kind="bundle"} 6`,
		`objectstack_webhook_requests_total{kind="github",result="accepted"} 1001`,
		`objectstack_webhook_requests_total{kind="github",result="unauthorized"} 1`,
		`objectstack_reconcile_tenants{condition="Ready",reason="Applied"} 3`,
		`objectstack_reconcile_duration_seconds_count{result="success"}`,
	} {
		mustContain(t, metrics, want)
	}
}

// fetches is how many times the loop checked the source (one per reconcile tick).
func fetches(r *Reconciler) float64 {
	return metricValue(r.m.Fetches.WithLabelValues("changed")) + metricValue(r.m.Fetches.WithLabelValues("unchanged"))
}
