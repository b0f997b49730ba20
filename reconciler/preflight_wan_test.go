package reconciler

import (
	"context"
	"testing"
)

// TestPreflightRequestsOverHrana: the pre-flight costs a tenant exactly one more Hrana request, and only for a
// revision whose migration touches existing rows (here a field made unique: the duplicate check); a revision
// that only adds a column keeps its two requests (TestRequestsPerTenantOverHrana).
func TestPreflightRequestsOverHrana(t *testing.T) {
	ctx := context.Background()
	w := newWANEnv(t, 3)
	r := w.reconciler(Options{Concurrency: 3})
	cfg := map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {labels: {env: prod}}\n")}
	w.push(merge(cfg, coreBundle("1.0.0", "code: { type: text, label: Code }")), "first deploy")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("first deploy: %+v %v", sum, err)
	}
	for _, id := range w.ids {
		if _, err := w.db(id).ExecContext(ctx, `INSERT INTO note (id, title, code) VALUES ('n1','a','X-1'),('n2','b','X-2')`); err != nil {
			t.Fatal(err)
		}
	}

	w.push(coreBundle("1.0.1", "code: { type: text, label: Code }", "extra: { type: text, label: Extra }"), "a column")
	w.proxy.Reset()
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != len(w.ids) {
		t.Fatalf("a column: %+v %v", sum, err)
	}
	for id, n := range w.hranaPerTenant() {
		if n != 2 {
			t.Errorf("a column: tenant %s took %d Hrana requests, want 2 (no pre-flight read)", id, n)
		}
	}

	w.push(coreBundle("1.1.0", "code: { type: text, label: Code, unique: true }", "extra: { type: text, label: Extra }"), "code unique")
	w.proxy.Reset()
	if sum, err := r.Once(ctx); err != nil || !sum.OK() || sum.Applied != len(w.ids) {
		t.Fatalf("code unique: %+v %v", sum, err)
	}
	for id, n := range w.hranaPerTenant() {
		if n != 3 {
			t.Errorf("code unique: tenant %s took %d Hrana requests, want 3 (read, pre-flight read, batch)", id, n)
		}
	}
}
