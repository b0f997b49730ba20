package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cliChildEnv makes this test binary behave as the objectstack command itself (TestMain calls main),
// so tests can run the real CLI as a separate process — signals, exit codes, stdout and stderr — without
// building it first.
const cliChildEnv = "OBJECTSTACK_TEST_RUN_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliChildEnv) == "1" {
		main()
		return
	}
	if path := os.Getenv(holdLeaseEnv); path != "" {
		holdLease(path) // never returns: the parent kills this process
	}
	os.Exit(m.Run())
}

// lockedBuffer is an output stream shared between a child process's copier and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cliProcess is the objectstack CLI running in a child process.
type cliProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
	code           int
}

// startCLI starts `objectstack args...` as a child process; it is killed when the test ends.
func startCLI(t *testing.T, env []string, args ...string) *cliProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), cliChildEnv+"=1"), env...)
	p := &cliProcess{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if err != nil && p.code == 0 {
			p.code = -1
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop asks the process to shut down (SIGTERM, as a service manager would) and waits for it.
func (p *cliProcess) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(t, 20*time.Second)
}

func (p *cliProcess) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("objectstack %v did not finish within %v\nstderr:\n%s", p.cmd.Args[1:], d, p.stderr.String())
		return -1
	}
}

// runCLIProcess runs one command line in a child process to completion.
func runCLIProcess(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := startCLI(t, env, args...)
	code = p.wait(t, 60*time.Second)
	return p.stdout.String(), p.stderr.String(), code
}

// assertPrivateTree fails for every file or folder under dir that another local user can reach and
// read: group or other permission bits on it, and on every folder from dir down to it. (go-git writes its
// objects 0444 and folders 0755 inside the mirror; a 0700 mirror folder is what keeps them private.)
func assertPrivateTree(t *testing.T, dir string) {
	t.Helper()
	open := map[string]bool{} // folder → others can traverse it and every folder above it
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		reachable := p == dir || open[filepath.Dir(p)]
		if d.IsDir() {
			open[p] = reachable && perm&0o011 != 0
		}
		if reachable && perm&0o077 != 0 {
			t.Errorf("%s has mode %04o and other users can reach it", p, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
