package main

import (
	"bytes"
	"context"
	"testing"
)

// runCLI runs one command line in-process through run(), exactly as main does, and returns stdout,
// stderr (including the "Error: …" line run prints) and the exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}
