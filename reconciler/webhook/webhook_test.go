package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
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

// TestSignatureMustMatchExactly: every byte of the MAC counts, and only its lowercase or uppercase hex
// form after "sha256=" is read. A build that compared a prefix of the MAC, or decoded other encodings,
// passed the cases above (whose bad signatures all differ early); these catch it.
func TestSignatureMustMatchExactly(t *testing.T) {
	mux := http.NewServeMux()
	for _, k := range []Kind{GitHub, Generic} {
		rc, err := NewReceiver(k, secret, func() {})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("/hook/"+string(k), rc)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := Sign(secret, body)
	good := hex.EncodeToString(mac)
	flip := func(b []byte, i int) string {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		return hex.EncodeToString(c)
	}
	longer := append(append([]byte(nil), body...), ' ')
	cases := []struct {
		name, sig string
		body      []byte
		want      int
	}{
		{"exact", "sha256=" + good, body, http.StatusAccepted},
		{"upper-case hex of the same MAC", "sha256=" + strings.ToUpper(good), body, http.StatusAccepted},
		{"last byte differs", "sha256=" + flip(mac, len(mac)-1), body, http.StatusUnauthorized},
		{"last hex digit differs", "sha256=" + good[:63] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[63])+1)%16]), body, http.StatusUnauthorized},
		{"middle byte differs", "sha256=" + flip(mac, 16), body, http.StatusUnauthorized},
		{"one byte short", "sha256=" + good[:62], body, http.StatusUnauthorized},
		{"one byte long", "sha256=" + good + "00", body, http.StatusUnauthorized},
		{"first half only", "sha256=" + good[:32], body, http.StatusUnauthorized},
		{"empty MAC", "sha256=", body, http.StatusUnauthorized},
		{"base64 of the MAC", "sha256=" + base64.StdEncoding.EncodeToString(mac), body, http.StatusUnauthorized},
		{"raw base64 of the MAC", "sha256=" + base64.RawURLEncoding.EncodeToString(mac), body, http.StatusUnauthorized},
		{"0x-prefixed hex", "sha256=0x" + good, body, http.StatusUnauthorized},
		{"trailing newline", "sha256=" + good + "\n", body, http.StatusUnauthorized},
		{"upper-case algorithm", "SHA256=" + good, body, http.StatusUnauthorized},
		{"no algorithm", good, body, http.StatusUnauthorized},
		{"body longer by one byte", "sha256=" + good, longer, http.StatusUnauthorized},
		{"body's last byte differs", "sha256=" + good, append(append([]byte(nil), body[:len(body)-1]...), ']'), http.StatusUnauthorized},
	}
	for _, k := range []struct {
		kind   Kind
		header string
	}{{GitHub, "X-Hub-Signature-256"}, {Generic, "X-Signature"}} {
		for _, tc := range cases {
			t.Run(string(k.kind)+"/"+tc.name, func(t *testing.T) {
				// Header values cannot carry a newline on the wire; that case is checked directly.
				if strings.ContainsAny(tc.sig, "\r\n") {
					if verifyHMAC(secret, tc.body, tc.sig) {
						t.Fatal("accepted")
					}
					return
				}
				if got := post(t, srv.URL+"/hook/"+string(k.kind), tc.body, map[string]string{k.header: tc.sig}); got != tc.want {
					t.Fatalf("status %d, want %d", got, tc.want)
				}
			})
		}
	}
}

// TestGateCapsHooksInProgress: hooks that stall mid-body hold at most the gate's slots, each for at most
// the body timeout; further hooks are refused at once without their body being read.
func TestGateCapsHooksInProgress(t *testing.T) {
	bodyTimeout = 300 * time.Millisecond
	defer func() { bodyTimeout = BodyTimeout }()
	rc, _ := NewReceiver(GitHub, secret, func() {})
	gate := NewGate(2)
	busy := atomic.Int64{}
	gate.Observe = func(_ Kind, res string) {
		if res == ResultBusy {
			busy.Add(1)
		}
	}
	srv := httptest.NewServer(gate.Wrap(GitHub, rc))
	defer srv.Close()
	stall := func() net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-Hub-Signature-256: sha256=%s\r\n\r\nhalf", strings.Repeat("0", 64))
		return c
	}
	a, b := stall(), stall()
	defer a.Close()
	defer b.Close()
	time.Sleep(50 * time.Millisecond) // both are inside the handler, reading
	start := time.Now()
	if got := post(t, srv.URL, []byte("{}"), map[string]string{"X-Hub-Signature-256": sig([]byte("{}"))}); got != http.StatusServiceUnavailable || busy.Load() != 1 {
		t.Fatalf("third hook while two stall: %d (busy %d), want 503", got, busy.Load())
	}
	if time.Since(start) > 200*time.Millisecond {
		t.Fatalf("the refusal waited %v", time.Since(start))
	}
	// The stalled bodies time out and free their slots.
	deadline := time.Now().Add(5 * time.Second)
	for post(t, srv.URL, []byte("{}"), map[string]string{"X-Hub-Signature-256": sig([]byte("{}"))}) != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("slots were not freed after the body timeout")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
