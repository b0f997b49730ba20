// Package benchfleet holds `make bench-fleet-wan`: Go benchmarks of the GitOps reconciler driving a fleet
// of tenant databases on `objectstack dev` (the Turso backend) through internal/wanproxy, which adds a
// WAN round trip (25 ms by default) to every HTTP request and counts them. On Turso the unit of cost is the
// request, not CPU, so besides tenants/s the benchmarks report Hrana requests per tenant (median and max)
// and request totals; the counts are deterministic, the timings are not.
//
// The package has no non-test code and nothing imports it. It sits under internal/ next to
// benchterraform because it is a developer tool; unlike the engine packages it may import reconciler.
// Benchmarks run only with -bench, so `go test ./...` compiles it and runs nothing.
//
// Knobs (environment): OBJECTSTACK_BENCH_TENANTS (default 1000), OBJECTSTACK_BENCH_CONCURRENCY (default
// 64), OBJECTSTACK_BENCH_DELAY (default 25ms).
package benchfleet
