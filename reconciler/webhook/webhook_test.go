package webhook

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var secret = []byte("hook-secret")

func post(t *testing.T, url string, body []byte, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sig(body []byte) string { return "sha256=" + hex.EncodeToString(Sign(secret, body)) }

func TestReceivers(t *testing.T) {
	var wakes atomic.Int64
	results := map[string]int{}
	var mu sync.Mutex
	mux := http.NewServeMux()
	for _, k := range []Kind{GitHub, GitLab, Generic} {
		rc, err := NewReceiver(k, secret, func() { wakes.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		rc.Observe = func(k Kind, res string) { mu.Lock(); results[string(k)+"/"+res]++; mu.Unlock() }
		mux.Handle("/hook/"+string(k), rc)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := []byte(`{"ref":"refs/heads/main","commits":[{"id":"whatever"}]}`)
	big := bytes.Repeat([]byte("x"), MaxBody+1)

	cases := []struct {
		name string
		kind Kind
		body []byte
		hdr  map[string]string
		want int
	}{
		{"github valid", GitHub, body, map[string]string{"X-Hub-Signature-256": sig(body), "X-GitHub-Event": "push"}, http.StatusAccepted},
		{"github wrong signature", GitHub, body, map[string]string{"X-Hub-Signature-256": sig([]byte("other"))}, http.StatusUnauthorized},
		{"github signature of other body", GitHub, append([]byte(nil), body[1:]...), map[string]string{"X-Hub-Signature-256": sig(body)}, http.StatusUnauthorized},
		{"github missing signature", GitHub, body, nil, http.StatusUnauthorized},
		{"github sha1 form refused", GitHub, body, map[string]string{"X-Hub-Signature-256": "sha1=" + strings.Repeat("0", 40)}, http.StatusUnauthorized},
		{"github not hex", GitHub, body, map[string]string{"X-Hub-Signature-256": "sha256=zz"}, http.StatusUnauthorized},
		{"gitlab valid", GitLab, body, map[string]string{"X-Gitlab-Token": string(secret)}, http.StatusAccepted},
		{"gitlab wrong token", GitLab, body, map[string]string{"X-Gitlab-Token": "hook-secreT"}, http.StatusUnauthorized},
		{"gitlab prefix of token", GitLab, body, map[string]string{"X-Gitlab-Token": "hook"}, http.StatusUnauthorized},
		{"gitlab missing token", GitLab, body, nil, http.StatusUnauthorized},
		{"generic valid", Generic, body, map[string]string{"X-Signature": sig(body)}, http.StatusAccepted},
		{"generic invalid", Generic, body, map[string]string{"X-Signature": sig(nil)}, http.StatusUnauthorized},
		{"generic missing", Generic, body, nil, http.StatusUnauthorized},
		{"oversized even when signed", GitHub, big, map[string]string{"X-Hub-Signature-256": sig(big)}, http.StatusRequestEntityTooLarge},
		{"oversized gitlab", GitLab, big, map[string]string{"X-Gitlab-Token": string(secret)}, http.StatusRequestEntityTooLarge},
	}
	accepted := int64(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, srv.URL+"/hook/"+string(tc.kind), tc.body, tc.hdr); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
		if tc.want == http.StatusAccepted {
			accepted++
		}
	}
	if wakes.Load() != accepted {
		t.Fatalf("%d wakes for %d accepted hooks: only verified requests may wake the reconciler", wakes.Load(), accepted)
	}
	if results["github/unauthorized"] != 5 || results["github/too_large"] != 1 || results["gitlab/accepted"] != 1 {
		t.Fatalf("observed results: %v", results)
	}
	// A GET is not a hook.
	resp, err := http.Get(srv.URL + "/hook/github")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestChunkedOversizedBodyRejected(t *testing.T) {
	rc, _ := NewReceiver(Generic, secret, func() { t.Error("an oversized body must not wake") })
	srv := httptest.NewServer(rc)
	defer srv.Close()
	// No Content-Length: the cap must hold while streaming.
	pr := strings.NewReader(strings.Repeat("y", 3*MaxBody))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, struct{ *strings.Reader }{pr})
	req.ContentLength = -1
	req.Header.Set("X-Signature", "sha256="+strings.Repeat("0", 64))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestNoSecretNoReceiver(t *testing.T) {
	if _, err := NewReceiver(GitHub, nil, nil); err == nil {
		t.Fatal("a receiver without secret would accept anyone")
	}
}

// TestBurstCoalesces sends 1,000 signed hooks over loopback while a consumer loop reconciles on the trigger,
// as the reconciler does; the burst must produce a handful of reconciles, not one per request.
func TestBurstCoalesces(t *testing.T) {
	trig := NewTrigger(100 * time.Millisecond)
	rc, _ := NewReceiver(GitHub, secret, trig.Wake)
	srv := httptest.NewServer(rc)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reconciles atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-trig.C():
				trig.Drain(ctx)
				reconciles.Add(1)
				time.Sleep(20 * time.Millisecond) // a reconcile takes a while
			}
		}
	}()
	body := []byte(`{"ref":"refs/heads/main"}`)
	hdr := map[string]string{"X-Hub-Signature-256": sig(body)}
	var wg sync.WaitGroup
	var okCount atomic.Int64
	jobs := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					okCount.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	// Let the last settle period pass so a pending wake becomes its reconcile.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && reconciles.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if okCount.Load() != 1000 {
		t.Fatalf("%d of 1000 hooks accepted", okCount.Load())
	}
	n := reconciles.Load()
	t.Logf("1000 hooks → %d reconciles", n)
	if n < 1 || n > 5 {
		t.Fatalf("1000 hooks caused %d reconciles; want 1..5", n)
	}
}
