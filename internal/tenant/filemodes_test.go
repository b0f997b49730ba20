package tenant_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/filemodetest"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestDataDirIsPrivate: the control plane (sealed tokens, tenant registry) was created 0644 by
// SQLite, readable by any local user. Every file the service and the local backend write is now
// owner-only and every folder 0700, and a control plane an older version left open is tightened.
func TestDataDirIsPrivate(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend)
			if err := os.Chmod(e.dataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.dataDir, tenant.ControlFile), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			s := e.service(t)
			mustProvision(t, ctx, s, withBundle(req("modes"), testBundle(2, true)))
			mustProvision(t, ctx, s, req("gone"))
			if err := s.Destroy(ctx, "gone", tenant.DestroyOptions{Immediate: true, Backup: true}); err != nil {
				t.Fatal(err)
			}
			if n := filemodetest.AssertPrivateTree(t, e.dataDir); n < 3 { // control.db (+ WAL, SHM), secret.key, a backup
				t.Fatalf("only %d files under the data dir: the test saw nothing", n)
			}
			if l, ok := e.plat.(*platform.Local); ok {
				if n := filemodetest.AssertPrivateTree(t, l.Dir()); n < 1 {
					t.Fatal("no tenant database under the local backend's folder")
				}
			}
		})
	}
}
