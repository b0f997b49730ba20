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
//
// Each op provisions one tenant each way, in alternating order, in the same service: the two paths
// see the same machine (disk flush latency here varies by ±20 % from minute to minute), so their
// ratio — reported as x-faster, with each path's median — is steadier than two separate runs'.
func BenchmarkProvision50Objects(b *testing.B) {
	for _, backend := range backendNames {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, backend)
			e.logger = nil
			s := e.service(b)
			ctx := testCtx(b)
			bun := testBundle(50, true)
			if _, err := s.CreateTemplate(ctx, "tmpl-bench", bun); err != nil {
				b.Fatal(err)
			}
			ddl := make([]time.Duration, 0, b.N)
			tmpl := make([]time.Duration, 0, b.N)
			provision := func(id, seed string) time.Duration {
				r := withBundle(req(id), bun)
				r.SeedDatabase = seed
				start := time.Now()
				res := mustProvision(b, ctx, s, r)
				took := time.Since(start)
				if res.Status != tenant.StatusActive {
					b.Fatal(res.Error)
				}
				return took
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					ddl = append(ddl, provision(fmt.Sprintf("ddl-%d", i), ""))
					tmpl = append(tmpl, provision(fmt.Sprintf("tmpl-%d", i), "tmpl-bench"))
				} else {
					tmpl = append(tmpl, provision(fmt.Sprintf("tmpl-%d", i), "tmpl-bench"))
					ddl = append(ddl, provision(fmt.Sprintf("ddl-%d", i), ""))
				}
			}
			b.StopTimer()
			d, t := median(ddl), median(tmpl)
			b.ReportMetric(ms(d), "ddl-median-ms")
			b.ReportMetric(ms(t), "template-median-ms")
			b.ReportMetric(float64(d)/float64(t), "x-faster")
		})
	}
}

// median is the middle of ds (ds is left as it was).
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
