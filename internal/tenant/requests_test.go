package tenant_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
)

// TestProvisionRequestBudget: provisioning a tenant on Turso (here `objectstack dev` behind a counting proxy)
// costs two Platform API calls (create the database, mint its token) and ONE Hrana request — the ownership
// marker, the bundle's schema and registry and its seed rows in one batch — and the result is complete. A
// tenant seeded from a template costs the same (create with the seed, token, the claiming batch); the
// service's first use of a template adds one read of it (look it up, a read-only token, one Hrana read).
func TestProvisionRequestBudget(t *testing.T) {
	ctx := testCtx(t)
	run, err := devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), APIToken: testAPIToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	px, err := wanproxy.Start(run.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	e := &env{name: "dev", dataDir: t.TempDir(), clock: &fakeClock{}, plat: newTurso(t, px.URL(), nil, 0)}
	s := e.service(t)
	if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", testBundle(3, true)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id              string
		bundle          bool
		seed            string
		platform, hrana int64
	}{
		{"plain", false, "", 2, 1},
		{"with-bundle", true, "", 2, 1},
		{"seeded-first", true, "tmpl-crm-v1", 4, 2},
		{"seeded-next", true, "tmpl-crm-v1", 2, 1},
	}
	for _, tc := range cases {
		px.Reset()
		r := req(tc.id)
		if tc.bundle {
			r.Bundle = testBundle(3, true)
		}
		r.SeedDatabase = tc.seed
		res := mustProvision(t, ctx, s, r)
		snap := px.Snapshot()
		if snap.Platform != tc.platform || snap.Hrana != tc.hrana {
			t.Errorf("%s: %d Platform API calls and %d Hrana requests, want %d and %d (%+v)", tc.id, snap.Platform, snap.Hrana, tc.platform, tc.hrana, snap)
		}
		if res.Status != tenant.StatusActive {
			t.Fatalf("%s: %+v", tc.id, res)
		}
	}
	// The contents are checked after every count was taken: libsql-client-go closes a read's stream with
	// a request of its own, sent from a goroutine, which would land in the next tenant's count.
	for _, tc := range cases {
		db, err := s.DB(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"_objectstack_tenant": 1}
		if tc.bundle {
			want["obj_00"], want["obj_02"] = 2, 0
		}
		for table, rows := range want {
			if n := countRows(t, db, table); n != rows {
				t.Errorf("%s: %s has %d rows, want %d", tc.id, table, n, rows)
			}
		}
	}
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
