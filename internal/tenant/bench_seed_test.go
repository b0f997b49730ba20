package tenant_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// BenchmarkProvision50Objects compares provisioning a tenant with a 50-object bundle (and its seed
// rows) by running the DDL against provisioning it as a copy of a template database holding the same
// bundle (verified against it, deployment recorded), on the local backend and through objectstack dev.
// `make bench-seed` runs it.
func BenchmarkProvision50Objects(b *testing.B) {
	for _, backend := range backendNames {
		for _, mode := range []string{"ddl", "template"} {
			b.Run(backend+"/"+mode, func(b *testing.B) { benchProvisionMode(b, backend, mode) })
		}
	}
}

func benchProvisionMode(b *testing.B, backend, mode string) {
	e := newEnv(b, backend)
	e.logger = nil
	s := e.service(b)
	ctx := testCtx(b)
	bun := testBundle(50, true)
	if mode == "template" {
		if _, err := s.CreateTemplate(ctx, "tmpl-bench", bun); err != nil {
			b.Fatal(err)
		}
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := withBundle(req(fmt.Sprintf("bench-%d", i)), bun)
		if mode == "template" {
			r.SeedDatabase = "tmpl-bench"
		}
		start := time.Now()
		res := mustProvision(b, ctx, s, r)
		durs = append(durs, time.Since(start))
		if res.Status != tenant.StatusActive {
			b.Fatal(res.Error)
		}
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "median-ms")
}
