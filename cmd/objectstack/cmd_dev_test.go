package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// TestDevCommand starts `objectstack dev` on a free loopback port, creates a database through
// its Platform API, and stops it by cancelling the context (as Ctrl-C does).
func TestDevCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	args := []string{"dev", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--api-token", "dev-cli-token", "--advertise", "Devbox.Example:18080"}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()

	addrRe := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("dev exited early: exit %d\n%s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev did not start: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "development server") {
		t.Errorf("startup banner does not say it is a development server: %q", out.String())
	}
	req, _ := http.NewRequest("POST", base+"/v1/organizations/acme/databases", strings.NewReader(`{"name":"cli-db","group":"default"}`))
	req.Header.Set("Authorization", "Bearer dev-cli-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create through dev: %d", resp.StatusCode)
	}
	// --advertise is the Hostname handed out, whatever address the call came in on.
	if !strings.Contains(string(body), `"Hostname":"devbox.example:18080"`) || !strings.Contains(out.String(), "devbox.example:18080") {
		t.Errorf("--advertise: create answered %s; banner %q", body, out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev after cancel: exit %d\n%s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not shut down")
	}
}

func TestDevCommandUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no data dir":   {"dev"},
		"bad listen":    {"dev", "--data-dir", t.TempDir(), "--listen", "nonsense"},
		"bad advertise": {"dev", "--data-dir", t.TempDir(), "--advertise", "http://127.0.0.1:8080"},
		"extra args":    {"dev", "--data-dir", t.TempDir(), "extra"},
		"unknown flag":  {"dev", "--nope"},
	} {
		if _, _, code := runCLI(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	out, _, code := runCLI(t, "dev", "--help")
	if code != 0 || !strings.Contains(out, "DEVELOPMENT server") {
		t.Errorf("help (exit %d) must call it a development server: %s", code, out)
	}
}
