package tenant_test

import (
	"fmt"
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
	b.ReportMetric(ms(median(durs)), "median-ms")
}

func BenchmarkProvisionLocal(b *testing.B) { benchProvision(b, "local") }

func BenchmarkProvisionDev(b *testing.B) { benchProvision(b, "dev") }
