package tenant_test

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// benchProvision provisions a fresh tenant per iteration: database + token + registry row + schema
// sync of a 20-object bundle + activation. It reports the median as well as the mean (ns/op).
func benchProvision(b *testing.B, backend string) {
	e := newEnv(b, backend)
	e.logger = nil
	s := e.service(b)
	ctx := testCtx(b)
	bun := testBundle(20, false)
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		mustProvision(b, ctx, s, withBundle(req(fmt.Sprintf("bench-%d", i)), bun))
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "median-ms")
}

func BenchmarkProvisionLocal(b *testing.B) { benchProvision(b, "local") }

func BenchmarkProvisionDev(b *testing.B) { benchProvision(b, "dev") }
