package docsgen

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

var update = flag.Bool("update", false, "regenerate docs/ instead of comparing")

// TestDocsUpToDate regenerates the documentation into a scratch folder and fails when the committed
// docs/ differ (make docs-check). With -update (make docs) it rewrites docs/.
func TestDocsUpToDate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join(root, "docs")
	if *update {
		if err := Generate(ctx, root, committed, os.Stderr); err != nil {
			t.Fatal(err)
		}
		return
	}
	fresh := filepath.Join(t.TempDir(), "docs")
	if err := Generate(ctx, root, fresh, os.Stderr); err != nil {
		t.Fatal(err)
	}
	want, err := readTree(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readTree(committed)
	if err != nil {
		t.Fatalf("read committed docs: %v (run `make docs`)", err)
	}
	var stale []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			stale = append(stale, "missing "+name)
		} else if !bytes.Equal(g, w) {
			stale = append(stale, "outdated "+name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			stale = append(stale, "extra "+name)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("docs/ is stale; run `make docs` and commit the result:\n%s", fmt.Sprint(stale))
	}
}

func readTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	return out, err
}
