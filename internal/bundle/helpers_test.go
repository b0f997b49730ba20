package bundle

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// examplesDir is the repository's examples/bundles folder.
func examplesDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "bundles")
}

// writeBundle writes files (relative path → content) under a fresh folder named "b" and returns it.
func writeBundle(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "b")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const baseManifest = "name: t\nversion: 1.0.0\n"

// loadOK loads dir and fails the test on an I/O error.
func loadOK(t testing.TB, dir string) (*Bundle, ValidationResult) {
	t.Helper()
	b, res, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return b, res
}

// findIssue returns the first issue with code and path, or nil.
func findIssue(res ValidationResult, code, path string) *Issue {
	for i, is := range res.Issues {
		if is.Code == code && is.Path == path {
			return &res.Issues[i]
		}
	}
	return nil
}

func dumpIssues(res ValidationResult) string {
	var b strings.Builder
	for _, is := range res.Issues {
		b.WriteString("\n  " + is.String() + " path=" + is.Path)
	}
	return b.String()
}

func errorsOnly(res ValidationResult) []Issue { return res.Errors() }
