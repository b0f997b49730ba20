package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
)

// rssKiB reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func rssKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestWebhookStalledBodiesKeepMemoryBounded is the attack on a real reconciler process: 300
// unauthenticated connections to /hook/github, each declaring 1 MiB, sending 1 MiB − 1 byte and then
// stalling. The process must stay under 100 MB resident (it went from 37 MB to 499 MB when bodies were
// buffered before the HMAC), and /healthz must keep answering meanwhile.
func TestWebhookStalledBodiesKeepMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("reads /proc")
	}
	const (
		conns   = 300
		bodyLen = 1 << 20
		bound   = 100 << 20
	)
	repoDir := filepath.Join(t.TempDir(), "gitops")
	copyDir(t, filepath.Join("..", "..", "examples", "gitops"), repoDir)
	repo, err := git.PlainInitWithOptions(repoDir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, repo, "example")
	secretFile := filepath.Join(t.TempDir(), "hook-secret")
	if err := os.WriteFile(secretFile, []byte("s3cr3t-hook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	p := startCLI(t, []string{"OBJECTSTACK_SECRET_KEY="}, "reconcile", "--repo", repoDir, "--data-dir", t.TempDir(),
		"--listen", addr, "--interval", "1m", "--webhook-secret-file", secretFile, "--log-level", "error")
	health := func() (time.Duration, error) {
		start := time.Now()
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := health(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reconciler never served /healthz\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := p.cmd.Process.Pid
	idle := rssKiB(t, pid, "VmRSS")

	body := make([]byte, bodyLen-1)
	head := fmt.Sprintf("POST /hook/github HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=%s\r\n\r\n",
		addr, bodyLen, strings.Repeat("ab", 32))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		open  []net.Conn
		wrote int
	)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, head); err != nil {
				return
			}
			if _, err := c.Write(body); err == nil {
				mu.Lock()
				wrote++
				mu.Unlock()
			}
			// ... and stall: the last byte never comes.
		}()
	}
	wg.Wait()
	// Hold the stalled connections open a while, checking that the server still answers.
	var slowest time.Duration
	for i := 0; i < 10; i++ {
		d, err := health()
		if err != nil {
			t.Fatalf("/healthz during the attack: %v", err)
		}
		slowest = max(slowest, d)
		time.Sleep(100 * time.Millisecond)
	}
	hwm := rssKiB(t, pid, "VmHWM")
	t.Logf("reconciler RSS: %d MiB idle, high-water %d MiB during %d stalled 1 MiB hooks (%d sent in full); /healthz slowest %v",
		idle>>10, hwm>>10, conns, wrote, slowest)
	if hwm<<10 >= bound {
		t.Fatalf("the reconciler reached %d MiB resident; the bound is %d MiB", hwm>>10, bound>>20)
	}
	if slowest > 2*time.Second {
		t.Errorf("/healthz took %v during the attack", slowest)
	}
	mu.Lock()
	for _, c := range open {
		c.Close()
	}
	open = nil
	mu.Unlock()
	p.stop(t)
}
