package provider

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFolderChecksumFollowsContent(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bundle.yaml"), "name: a\nversion: 1.0.0\n")
	writeFile(t, filepath.Join(dir, "objects", "x.yaml"), "name: x\n")
	a, err := FolderChecksum(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FolderChecksum(dir)
	if a != b {
		t.Fatal("checksum not stable")
	}
	// Same size, different bytes: a stat-based key would miss this.
	writeFile(t, filepath.Join(dir, "objects", "x.yaml"), "name: y\n")
	c, _ := FolderChecksum(dir)
	if c == a {
		t.Fatal("checksum ignores content")
	}
	if _, err := FolderChecksum(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing folder accepted")
	}
	if _, err := FolderChecksum(filepath.Join(dir, "bundle.yaml")); err == nil {
		t.Fatal("file accepted as folder")
	}
}

// The parsed bundle is shared between resources while the folder is unchanged and re-read after an edit.
func TestBundleCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := NewClient(ctx, Settings{Backend: BackendLocal, DataDir: filepath.Join(dir, "data"), Group: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bdir := filepath.Join(dir, "bundle")
	writeFile(t, filepath.Join(bdir, "bundle.yaml"), "name: crm\nversion: 1.0.0\n")
	writeFile(t, filepath.Join(bdir, "objects", "account.yaml"), "name: account\nfields:\n  name: { type: text }\n")
	b1, res, err := c.Bundle(bdir)
	if err != nil || !res.Valid {
		t.Fatalf("load: %v %+v", err, res)
	}
	b2, _, _ := c.Bundle(bdir)
	if b1 != b2 {
		t.Fatal("unchanged folder parsed twice")
	}
	writeFile(t, filepath.Join(bdir, "bundle.yaml"), "name: crm\nversion: 1.0.1\n")
	b3, _, _ := c.Bundle(bdir)
	if b3 == b1 || b3.Manifest.Version != "1.0.1" {
		t.Fatalf("edited folder served from cache: %s", b3.Manifest.Version)
	}
}

func TestPlanCache(t *testing.T) {
	c := NewPlanCache(50 * time.Millisecond)
	owner := schema.BundleOwner("crm")
	c.Put("acme", owner, "k1", &schema.Plan{UpToDate: false})
	if _, ok := c.Get("acme", owner, "k1"); ok {
		t.Fatal("a plan with work to do was cached")
	}
	c.Put("acme", owner, "k1", &schema.Plan{UpToDate: true})
	if _, ok := c.Get("acme", owner, "k1"); !ok {
		t.Fatal("up-to-date plan not cached")
	}
	if _, ok := c.Get("acme", owner, "k2"); ok {
		t.Fatal("other folder content served")
	}
	c.Forget("acme", owner)
	if _, ok := c.Get("acme", owner, "k1"); ok {
		t.Fatal("Forget kept the entry")
	}
	c.Put("acme", owner, "k1", &schema.Plan{UpToDate: true})
	time.Sleep(60 * time.Millisecond)
	if _, ok := c.Get("acme", owner, "k1"); ok {
		t.Fatal("expired entry served")
	}
}
