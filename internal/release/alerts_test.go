package release

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/metrics"
)

// Labels Prometheus attaches to every series of a scrape target (the job, the instance and, with
// Kubernetes service discovery through a ServiceMonitor, where the pod runs); the reconciler does
// not export them but rules may group by them.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true, "service": true, "container": true, "endpoint": true}

// exportedMetrics gathers the reconciler's real registry: every series name it can export (a
// histogram's _bucket, _sum and _count included) and the label names each carries. Vectors export
// nothing until a child exists, so each vector field of metrics.Metrics gets one child first; the
// fields are found by reflection, so a new metric is covered without touching this test.
func exportedMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	m := metrics.New()
	v := reflect.ValueOf(m).Elem()
	varLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}\}$`)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		c, ok := f.Interface().(prometheus.Collector)
		if !ok || f.Type() == reflect.TypeOf(m.Registry) {
			continue
		}
		with := f.MethodByName("WithLabelValues")
		if !with.IsValid() {
			continue // a plain gauge or counter exports itself
		}
		descs := make(chan *prometheus.Desc, 4)
		c.Describe(descs)
		close(descs)
		for d := range descs {
			sm := varLabels.FindStringSubmatch(d.String())
			if sm == nil {
				t.Fatalf("cannot read the labels of %s", d)
			}
			var args []reflect.Value
			if sm[1] != "" {
				for range strings.Split(sm[1], ",") {
					args = append(args, reflect.ValueOf("x"))
				}
			}
			with.Call(args)
		}
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, fam := range fams {
		labels := map[string]bool{}
		for _, mt := range fam.GetMetric() {
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		names := []string{fam.GetName()}
		if fam.GetType() == dto.MetricType_HISTOGRAM {
			names = append(names, fam.GetName()+"_bucket", fam.GetName()+"_sum", fam.GetName()+"_count")
		}
		for _, n := range names {
			l := map[string]bool{}
			for k := range labels {
				l[k] = true
			}
			if strings.HasSuffix(n, "_bucket") {
				l["le"] = true
			}
			out[n] = l
		}
	}
	return out
}

// TestAlertRules loads deploy/prometheus/alerts.yaml with Prometheus's own rule loader (rulecheck:
// strict YAML, every expression and template parsed) and checks that every metric a rule selects
// is one the reconciler exports, with labels it has, and that the alerts the issue asks for exist.
func TestAlertRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	bin, err := RuleCheck.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "deploy", "prometheus", "alerts.yaml")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rulecheck %s: %v\n%s", file, err, stderr.String())
	}
	var rules []struct {
		Alert     string
		Expr      string
		Labels    map[string]string
		Selectors []struct {
			Metric string
			Labels []string
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rules); err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(t)
	if len(exported) < 8 {
		t.Fatalf("only %d metrics gathered from the reconciler's registry", len(exported))
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("rule %q is not an alert", r.Expr)
			continue
		}
		if r.Labels["severity"] == "" {
			t.Errorf("%s: no severity label", r.Alert)
		}
		if len(r.Selectors) == 0 {
			t.Errorf("%s: selects no metric", r.Alert)
		}
		for _, s := range r.Selectors {
			labels, ok := exported[s.Metric]
			if !ok {
				t.Errorf("%s: metric %s is not exported by the reconciler (reconciler/metrics)", r.Alert, s.Metric)
				continue
			}
			for _, l := range s.Labels {
				if !labels[l] && !targetLabels[l] {
					t.Errorf("%s: %s has no label %q", r.Alert, s.Metric, l)
				}
			}
			seen[s.Metric] = true
		}
	}
	// Stalled tenants, failed rollouts, webhook errors.
	for _, m := range []string{"objectstack_reconcile_tenants", "objectstack_reconcile_failures_total", "objectstack_webhook_requests_total"} {
		if !seen[m] {
			t.Errorf("no alert on %s", m)
		}
	}
}

// TestAlertRulesCatchUnknownMetrics: the check above is only worth something if a wrong name fails.
func TestAlertRulesCatchUnknownMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	for _, bad := range []string{"objectstack_reconcile_tenant", "objectstack_webhook_requests", "objectstack_reconcile_duration_seconds_bucketz"} {
		if _, ok := exported[bad]; ok {
			t.Errorf("%s counted as exported", bad)
		}
	}
	for _, good := range []string{"objectstack_reconcile_duration_seconds_count", "objectstack_reconcile_drifted_tenants", "go_goroutines"} {
		if _, ok := exported[good]; !ok {
			t.Errorf("%s not counted as exported", good)
		}
	}
	if !exported["objectstack_reconcile_tenants"]["condition"] || !exported["objectstack_reconcile_tenants"]["reason"] {
		t.Errorf("labels of objectstack_reconcile_tenants: %v", exported["objectstack_reconcile_tenants"])
	}
}

// TestRuleCheckRejectsBadRules: rulecheck fails, naming the file and what is wrong, for a misspelt
// field and for an expression that does not parse, so a broken alerts.yaml cannot pass TestAlertRules.
func TestRuleCheckRejectsBadRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	bin, err := RuleCheck.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ rules, want string }{
		"misspelt field": {"groups:\n  - name: g\n    rules:\n      - alert: A\n        exprr: up > 0\n", "field exprr not found"},
		"bad PromQL":     {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum by (objectstack_reconcile_tenants\n", "parse error"},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(file, []byte(tc.rules), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, bin, file).CombinedOutput()
		if err == nil || !strings.Contains(string(out), file) || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: rulecheck said %v %q, want an error naming %s and %q", name, err, out, file, tc.want)
		}
	}
}
