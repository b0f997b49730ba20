package main

import (
	"strings"
	"testing"
)

// TestReconcileStatusContextFlag: a --status-context that cannot be part of a commit-status context is a
// usage error (exit 2) naming the flag, before anything is opened.
func TestReconcileStatusContextFlag(t *testing.T) {
	_, stderr, code := runCLI(t, "reconcile", "--repo", t.TempDir(), "--data-dir", t.TempDir(), "--once", "--status-context", "eu west")
	if code != 2 || !strings.Contains(stderr, "--status-context") {
		t.Fatalf("--status-context 'eu west': exit %d, %s", code, stderr)
	}
}
