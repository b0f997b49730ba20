package schema

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// benchObjects builds n objects of 12 fields each (text, numbers, booleans, selects, lookups to earlier
// objects, a unique and an indexed field, one composite index). changed alters a few of them the way
// an ordinary release does: two new fields, a widened type, a new index, a field made required.
func benchObjects(n int, changed bool) []bundle.Object {
	objs := make([]bundle.Object, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("obj_%03d", i)
		o := obj(name,
			fld("name", bundle.TypeText, required, def("")),
			fld("code", bundle.TypeText, unique),
			fld("email", bundle.TypeEmail, indexed),
			fld("status", bundle.TypeSelect, def("new")),
			fld("amount", bundle.TypeCurrency),
			fld("score", bundle.TypeNumber, def(0)),
			fld("active", bundle.TypeBoolean, def(true)),
			fld("due", bundle.TypeDate),
			fld("notes", bundle.TypeMarkdown),
			fld("tags", bundle.TypeTags),
			fld("total", bundle.TypeFormula, func(f *bundle.Field) { f.Expression = "amount * 2" }),
		)
		if i > 0 {
			o.Fields = append(o.Fields, fld("parent", bundle.TypeLookup, ref(fmt.Sprintf("obj_%03d", i-1))))
		}
		o.Indexes = []bundle.Index{{Fields: []string{"status", "due"}}}
		if changed {
			switch i {
			case 10, 50:
				o.Fields = append(o.Fields, fld("extra", bundle.TypeText))
			case 20:
				o.Fields[5] = fld("score", bundle.TypeText, def("0")) // number → text: a rebuild
			case 30:
				o.Indexes = append(o.Indexes, bundle.Index{Fields: []string{"amount"}})
			case 40:
				o.Fields[7] = fld("due", bundle.TypeDate, required, def("2020-01-01")) // NOT NULL: a rebuild
			}
		}
		objs = append(objs, o)
	}
	return objs
}

// BenchmarkPlan200Objects is introspect + diff + plan of a 200-object bundle against a database holding
// its previous version (target: ≤ 50 ms and ≤ 20 MB allocated per op).
func BenchmarkPlan200Objects(b *testing.B) {
	ctx := context.Background()
	db, _ := openDB(b, "plan.db")
	owner := BundleOwner("bench")
	mustApply(b, db, owner, nil, benchObjects(200, false)...)
	v2 := benchObjects(200, true)
	p := mustPlan(b, db, owner, v2...)
	if len(p.Migration.Statements) == 0 {
		b.Fatal("benchmark plan is empty")
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := PlanOwner(ctx, db, owner, v2, PlanOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// The machine is shared: CPU time per op says what the plan costs regardless of other load.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU (user+system) time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const rebuildRows = 1_000_000

// rebuildFixture is a database file holding a 1M-row table, built once per process and reused across
// the framework's repeated calls of a benchmark; toggle alternates the direction of the type change.
type rebuildFixture struct {
	db     *sql.DB
	dir    string
	toggle bool
}

var rebuildFixtures = map[string]*rebuildFixture{}

// TestMain removes the benchmark fixtures (hundreds of MB) once every benchmark has run.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range rebuildFixtures {
		f.db.Close()
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

func rebuildTable(numberType bundle.FieldType) []bundle.Object {
	return []bundle.Object{obj("big", fld("a", bundle.TypeText, indexed), fld("n", numberType), fld("b", bundle.TypeBoolean))}
}

func getRebuildFixture(b *testing.B, name string) *rebuildFixture {
	if f := rebuildFixtures[name]; f != nil {
		return f
	}
	dir, err := os.MkdirTemp("", "objectstack-schema-bench-")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, name+".db")
	db, err := database.Open(path, "")
	if err != nil {
		b.Fatal(err)
	}
	mustApply(b, db, BundleOwner("bench"), nil, rebuildTable(bundle.TypeNumber)...)
	fillBig(b, path, rebuildRows)
	f := &rebuildFixture{db: db, dir: dir}
	rebuildFixtures[name] = f
	return f
}

// engineRebuildOnce migrates the fixture's table through the engine (plan + apply), flipping n's type.
func engineRebuildOnce(b *testing.B, f *rebuildFixture) {
	ctx := context.Background()
	typ := bundle.TypeText
	if f.toggle {
		typ = bundle.TypeNumber
	}
	f.toggle = !f.toggle
	p, err := PlanOwner(ctx, f.db, BundleOwner("bench"), rebuildTable(typ), PlanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Apply(ctx, f.db, p, ApplyOptions{Allow: AllDestructiveKinds}); err != nil {
		b.Fatal(err)
	}
}

// bareRebuildOnce is SQLite's bare create-copy-drop-rename of the same table in one transaction through
// the same driver, recreating the same index.
func bareRebuildOnce(b *testing.B, f *rebuildFixture) {
	ctx := context.Background()
	typ := "TEXT"
	if f.toggle {
		typ = "REAL"
	}
	f.toggle = !f.toggle
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE "_new_big" ("id" TEXT PRIMARY KEY, "created_at" TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "updated_at" TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "a" TEXT, "n" ` + typ + `, "b" INTEGER)`,
		`INSERT INTO "_new_big" ("id", "created_at", "updated_at", "a", "n", "b") SELECT "id", "created_at", "updated_at", "a", CAST("n" AS ` + typ + `), "b" FROM "big"`,
		`DROP TABLE "big"`,
		`ALTER TABLE "_new_big" RENAME TO "big"`,
		`CREATE INDEX "idx_big_a" ON "big" ("a")`,
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRebuild1MRows: the engine migrates a 1,000,000-row table through a type change (number ↔
// text, alternating), i.e. plan + the full rebuild procedure + registry writes in one transaction.
// Compare with BenchmarkBareRebuild1MRows (target: engine ≤ 1.3× bare), or read the ratio that
// BenchmarkRebuildRatio1MRows measures with the two interleaved.
func BenchmarkRebuild1MRows(b *testing.B) {
	f := getRebuildFixture(b, "engine")
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		engineRebuildOnce(b, f)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkBareRebuild1MRows is the baseline for BenchmarkRebuild1MRows.
func BenchmarkBareRebuild1MRows(b *testing.B) {
	f := getRebuildFixture(b, "bare")
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		bareRebuildOnce(b, f)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkRebuildRatio1MRows interleaves one engine rebuild and one bare rebuild per op, so load from
// other processes on a shared machine hits both alike, and reports engine/bare for wall and CPU time.
func BenchmarkRebuildRatio1MRows(b *testing.B) {
	fe, fb := getRebuildFixture(b, "engine"), getRebuildFixture(b, "bare")
	b.ResetTimer()
	var engWall, bareWall, engCPU, bareCPU time.Duration
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), cpuTime()
		engineRebuildOnce(b, fe)
		t1, c1 := time.Now(), cpuTime()
		bareRebuildOnce(b, fb)
		t2, c2 := time.Now(), cpuTime()
		engWall, engCPU = engWall+t1.Sub(t0), engCPU+c1-c0
		bareWall, bareCPU = bareWall+t2.Sub(t1), bareCPU+c2-c1
	}
	b.ReportMetric(float64(engWall)/float64(bareWall), "engine/bare-wall")
	b.ReportMetric(float64(engCPU)/float64(bareCPU), "engine/bare-cpu")
}
