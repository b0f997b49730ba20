package reconciler

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant/router"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

const benchTenants = 1000

// benchFixture is 1,000 local tenants with the bench bundle applied, built once per process (outside any
// timer) and shared by the benchmarks.
type benchFixture struct {
	dir     string
	svc     *tenant.Service
	ctl     *sql.DB
	store   *status.Store
	r       *Reconciler
	columns int // columns added so far
	current source.Revision
}

var (
	fixtureOnce sync.Once
	fixture     *benchFixture
	fixtureErr  error
)

func getFixture(b *testing.B) *benchFixture {
	b.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixture
}

func buildFixture() (*benchFixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "objectstack-reconcile-bench-")
	if err != nil {
		return nil, err
	}
	plat, err := platform.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	svc, err := tenant.Open(ctx, tenant.Config{DataDir: dir, Platform: plat, SecretKey: testKey, Router: benchRouter()})
	if err != nil {
		return nil, err
	}
	ctl := svc.ControlDB() // as cmd/objectstack opens it: registry and status in one read
	store, err := status.Open(ctx, ctl)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for i := 0; i < benchTenants; i++ {
		if _, err := svc.Provision(ctx, tenant.Request{ID: fmt.Sprintf("bench-%04d", i), OrgID: "org-bench",
			Labels: map[string]string{"env": "prod"}}); err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "bench fixture: %d tenants provisioned in %s\n", benchTenants, time.Since(start).Round(time.Millisecond))
	r, err := New(Options{Tenants: svc, Store: store, Concurrency: benchConcurrency(), DriftInterval: -1, Holder: "bench", Logger: benchLogger()})
	if err != nil {
		return nil, err
	}
	fx := &benchFixture{dir: dir, svc: svc, ctl: ctl, store: store, r: r}
	rev, err := fx.revision()
	if err != nil {
		return nil, err
	}
	start = time.Now()
	sum, err := r.ReconcileRevision(ctx, rev)
	if err != nil {
		return nil, err
	}
	if !sum.OK() || sum.Applied != benchTenants {
		return nil, fmt.Errorf("baseline rollout: %+v", sum)
	}
	fmt.Fprintf(os.Stderr, "bench fixture: baseline applied to %d tenants in %s\n", benchTenants, time.Since(start).Round(time.Millisecond))
	fx.current = rev
	return fx, nil
}

// revision writes a repository whose bundle has fx.columns extra columns and returns it as a revision.
func (fx *benchFixture) revision() (source.Revision, error) {
	dir := filepath.Join(fx.dir, "repo", fmt.Sprintf("r%03d", fx.columns))
	files := merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {labels: {env: prod}}\n")},
		coreBundle("1.0.0", extraColumns(fx.columns)...))
	h := sha256.New()
	for _, p := range []string{"objectstack.yaml", "bundles/core/bundle.yaml", "bundles/core/objects/note.yaml"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return source.Revision{}, err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return source.Revision{}, err
		}
		h.Write(files[p])
	}
	sum := sha1.Sum([]byte(dir))
	return source.Revision{Ref: "main", Commit: hex.EncodeToString(sum[:]), Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Dir: dir}, nil
}

func extraColumns(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("extra_%03d: { type: number, label: Extra %d }", i, i)
	}
	return out
}

// peakMemory samples the heap and the memory obtained from the OS while fn runs.
func peakMemory(fn func()) (heapInuse, sys uint64) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapInuse, sys = max(heapInuse, ms.HeapInuse), max(sys, ms.Sys)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			sample()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	fn()
	stop.Store(true)
	wg.Wait()
	sample()
	return heapInuse, sys
}

// BenchmarkReconcileOneColumn1000 applies a one-column change to one object in 1,000 local tenant
// databases: plan every tenant, then apply, with status recorded in the control plane.
func BenchmarkReconcileOneColumn1000(b *testing.B) {
	fx := getFixture(b)
	ctx := context.Background()
	var elapsed time.Duration
	var peakHeap, peakSys uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fx.columns++
		rev, err := fx.revision()
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		var sum *Summary
		heap, sys := peakMemory(func() { sum, err = fx.r.ReconcileRevision(ctx, rev) })
		elapsed += time.Since(start)
		peakHeap, peakSys = max(peakHeap, heap), max(peakSys, sys)
		if err != nil {
			b.Fatal(err)
		}
		if !sum.OK() || sum.Applied != benchTenants {
			b.Fatalf("rollout: applied %d failed %d refused %d halted %d", sum.Applied, sum.Failed, sum.Refused, sum.Halted)
		}
		fx.current = rev
	}
	b.ReportMetric(float64(benchTenants*b.N)/elapsed.Seconds(), "tenants/s")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peakSys)/(1<<20), "peak-sys-MB")
}

// BenchmarkReconcileNoChange1000 reconciles a revision every one of the 1,000 tenants is already at: the
// status store's checksums decide, no tenant database is opened.
func BenchmarkReconcileNoChange1000(b *testing.B) {
	fx := getFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum, err := fx.r.ReconcileRevision(ctx, fx.current)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Skipped != benchTenants || len(sum.Results) != 0 {
			b.Fatalf("no-change reconcile did work: %+v", sum)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reconcile")
}

func benchLogger() *slog.Logger {
	if os.Getenv("BENCH_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// benchRouter sizes the tenant handle cache like `objectstack reconcile` does: a rollout touches every tenant
// twice (plan, then apply), and a handle evicted in between costs a reopen plus a WAL checkpoint.
func benchRouter() router.Config { return router.Config{MaxCached: 2 * benchTenants} }

func benchConcurrency() int { return runtime.GOMAXPROCS(0) * 2 }

// TestMain removes the benchmark fixture (1,000 database files) once every benchmark has used it.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		fixture.svc.Close()
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}
