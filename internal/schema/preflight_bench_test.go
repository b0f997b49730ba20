package schema

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

func preflightV1() []bundle.Object {
	return []bundle.Object{obj("stock", fld("code", bundle.TypeText), fld("qty", bundle.TypeText), fld("note", bundle.TypeText))}
}

// BenchmarkPreflight1MRows is plan + pre-flight of a release that makes stock.code unique and turns stock.qty
// from text into a number, against a 1,000,000-row table whose data passes both checks (the worst case: every
// row is read, by a GROUP BY over the unindexed code and a scan testing each qty's cast). Target ≤ 1.5 s per op.
// The "untouched" case is a release that only adds a column: no check, no statement, no read (reads/op 0).
func BenchmarkPreflight1MRows(b *testing.B) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "objectstack-preflight-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := database.Open(filepath.Join(dir, "stock.db"), "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	owner := BundleOwner("bench")
	mustApply(b, db, owner, nil, preflightV1()...)
	execT(b, db, fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
INSERT INTO stock (id, code, qty, note) SELECT 'r' || i, 'C-' || ((i * 7919) %% %d), CAST(i %% 1000 AS TEXT) || '.5', 'n' FROM s`, rebuildRows, rebuildRows))
	execT(b, db, `PRAGMA wal_checkpoint(TRUNCATE)`)

	run := func(b *testing.B, objs []bundle.Object, wantChecks int) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			p, err := PlanOwner(ctx, db, owner, objs, PlanOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := Preflight(ctx, db, p); err != nil {
				b.Fatal(err)
			}
			if p.Preflight.Checks != wantChecks || len(p.Preflight.Failures) != 0 {
				b.Fatalf("pre-flight report %+v", p.Preflight)
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(wantChecks), "checks/op")
	}
	b.Run("unique+type_change", func(b *testing.B) {
		run(b, []bundle.Object{obj("stock", fld("code", bundle.TypeText, unique), fld("qty", bundle.TypeNumber), fld("note", bundle.TypeText))}, 2)
	})
	b.Run("unique", func(b *testing.B) {
		run(b, []bundle.Object{obj("stock", fld("code", bundle.TypeText, unique), fld("qty", bundle.TypeText), fld("note", bundle.TypeText))}, 1)
	})
	b.Run("type_change", func(b *testing.B) {
		run(b, []bundle.Object{obj("stock", fld("code", bundle.TypeText), fld("qty", bundle.TypeNumber), fld("note", bundle.TypeText))}, 1)
	})
	b.Run("untouched", func(b *testing.B) {
		run(b, []bundle.Object{obj("stock", fld("code", bundle.TypeText), fld("qty", bundle.TypeText), fld("note", bundle.TypeText), fld("extra", bundle.TypeText))}, 0)
	})
}
