package reconciler

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// httpGet reads one endpoint of the reconciler's HTTP server.
func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestRevertMakesTenantsReadyInStatusAndMetrics (issue 15 item 1): after a refused push is reverted, the
// tenants — skipped at their checksum — are Ready at the revert in /status and in /metrics, and their
// history still shows the refusal.
func TestRevertMakesTenantsReadyInStatusAndMetrics(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, prodTenants)
	r := e.reconciler(Options{Concurrency: 4})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	good := merge(map[string][]byte{"objectstack.yaml": repoConfig("failurePolicy:\n  mode: continue\n")}, coreBundle("1.0.0"))
	e.remote.Write(good)
	e.remote.Commit("core 1.0.0")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("first push: %+v %v", sum, err)
	}
	e.remote.Write(coreBundle("1.1.0", "-body")) // drops a column: refused without allowDestructive
	e.remote.Commit("drop body")
	if sum, err := r.Once(ctx); err != nil || sum.Refused != 6 {
		t.Fatalf("refused push: %+v %v", sum, err)
	}
	e.remote.Write(good)
	e.remote.Commit("Revert \"drop body\"")
	sum, err := r.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != 6 {
		t.Fatalf("revert: %+v %v", sum, err)
	}

	var doc StatusDocument
	if err := json.Unmarshal([]byte(httpGet(ctx, t, srv.URL+"/status")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tn := range doc.Tenants {
		if tn.TenantID == "t-dev" {
			continue
		}
		refused := false
		for _, h := range tn.History {
			refused = refused || h.Reason == status.ReasonDestructiveRefused
		}
		if tn.Condition != status.Ready || tn.LastAppliedRevision != sum.Revision || !refused {
			t.Fatalf("/status after the revert: %s is %s/%s at %s (refusal in history: %v), want Ready at %s",
				tn.TenantID, tn.Condition, tn.Reason, tn.LastAppliedRevision, refused, sum.Revision)
		}
	}
	metrics := httpGet(ctx, t, srv.URL+"/metrics")
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "objectstack_reconcile_tenants{") && strings.Contains(line, `condition="Stalled"`) && !strings.HasSuffix(line, " 0") {
			t.Fatalf("/metrics still counts stalled tenants after the revert: %s", line)
		}
	}
	if !strings.Contains(metrics, `objectstack_reconcile_tenants{condition="Ready",reason="UpToDate"} 6`) {
		t.Fatalf("/metrics does not count the 6 tenants Ready:\n%s", grepLines(metrics, "objectstack_reconcile_tenants"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
