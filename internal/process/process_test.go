package process_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/process"
)

func TestGoneHere(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	// A process that has exited (and been reaped) is gone.
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if !process.GoneHere(host, dead) {
		t.Errorf("exited process %d on this host is not reported gone", dead)
	}
	if !process.GoneHereID(fmt.Sprintf("%s:%d", host, dead)) {
		t.Errorf("GoneHereID of the exited process %d on this host is false", dead)
	}
	for _, id := range []string{fmt.Sprintf("%s:%d", host, os.Getppid()), fmt.Sprint(dead), host, fmt.Sprintf("%s:x%d", host, dead)} {
		if process.GoneHereID(id) {
			t.Errorf("GoneHereID(%q) is true", id)
		}
	}
	for _, c := range []struct {
		name string
		host string
		pid  int
	}{
		{"this process", host, os.Getpid()},
		{"a running process (the parent)", host, os.Getppid()},
		{"another host", host + "-elsewhere", dead},
		{"no host", "", dead},
		{"no pid", host, 0},
	} {
		if process.GoneHere(c.host, c.pid) {
			t.Errorf("%s (%s, %d) is reported gone", c.name, c.host, c.pid)
		}
	}
}
