package release

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/objectstack-reconciler.yaml from the chart")

const chartDir = "deploy/helm/objectstack-reconciler"

// The slice of the Kubernetes objects the tests assert on; chartcheck has already decoded each
// manifest strictly into the real API types, so here plain decoding is enough.
type (
	secretKeyRef struct {
		Name     string `json:"name"`
		Key      string `json:"key"`
		Optional *bool  `json:"optional"`
	}
	envVar struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom *struct {
			SecretKeyRef *secretKeyRef `json:"secretKeyRef"`
			FieldRef     *struct {
				FieldPath string `json:"fieldPath"`
			} `json:"fieldRef"`
		} `json:"valueFrom"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `json:"path"`
			Port any    `json:"port"`
		} `json:"httpGet"`
	}
	container struct {
		Name  string   `json:"name"`
		Image string   `json:"image"`
		Args  []string `json:"args"`
		Env   []envVar `json:"env"`
		Ports []struct {
			Name          string
			ContainerPort int
		} `json:"ports"`
		LivenessProbe   *probe                                       `json:"livenessProbe"`
		ReadinessProbe  *probe                                       `json:"readinessProbe"`
		Resources       struct{ Requests, Limits map[string]string } `json:"resources"`
		SecurityContext *struct {
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			RunAsNonRoot             *bool `json:"runAsNonRoot"`
			Capabilities             *struct {
				Drop []string `json:"drop"`
				Add  []string `json:"add"`
			} `json:"capabilities"`
		} `json:"securityContext"`
	}
	k8sObject struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Replicas *int `json:"replicas"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
					SecurityContext              struct {
						RunAsNonRoot *bool `json:"runAsNonRoot"`
						RunAsUser    *int  `json:"runAsUser"`
					} `json:"securityContext"`
					Containers []container `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
			// Service
			Ports []struct {
				Name       string `json:"name"`
				Port       int    `json:"port"`
				TargetPort any    `json:"targetPort"`
			} `json:"ports"`
			ServiceSelector map[string]string `json:"-"`
			// ServiceMonitor
			Endpoints []struct {
				Port string `json:"port"`
				Path string `json:"path"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	renderedDoc struct {
		Source string          `json:"source"`
		Kind   string          `json:"kind"`
		Name   string          `json:"name"`
		Object json.RawMessage `json:"object"`
	}
)

// renderChart runs chartcheck on the chart with the given values files (relative to the repository
// root). It returns the documents, or chartcheck's stderr and a non-nil error when rendering or
// strict decoding failed.
func renderChart(t *testing.T, manifests string, values ...string) ([]renderedDoc, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	bin, err := ChartCheck.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-chart", filepath.Join(root, chartDir), "-name", "objectstack-reconciler", "-namespace", "objectstack"}
	for _, v := range values {
		args = append(args, "-values", filepath.Join(root, filepath.FromSlash(v)))
	}
	if manifests != "" {
		args = append(args, "-manifests", manifests)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var rep struct{ Documents []renderedDoc }
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("chartcheck report: %v\n%s", err, stdout.String())
	}
	return rep.Documents, stderr.String(), nil
}

func byKind(t *testing.T, docs []renderedDoc, kind string) []k8sObject {
	t.Helper()
	var out []k8sObject
	for _, d := range docs {
		if d.Kind == kind {
			var o k8sObject
			if err := json.Unmarshal(d.Object, &o); err != nil {
				t.Fatalf("%s %s: %v", kind, d.Name, err)
			}
			if kind == "Service" {
				var s struct {
					Spec struct{ Selector map[string]string } `json:"spec"`
				}
				_ = json.Unmarshal(d.Object, &s)
				o.Spec.ServiceSelector = s.Spec.Selector
			}
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, docs []renderedDoc, kind string) k8sObject {
	t.Helper()
	objs := byKind(t, docs, kind)
	if len(objs) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(objs), kind)
	}
	return objs[0]
}

func envByName(c container) map[string]envVar {
	m := map[string]envVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// checkReconcilerDeployment asserts what every rendering must have: the reconciler container with
// probes, resources, a locked-down security context, secrets only by reference, and lease-based
// replicas on the shared control plane.
func checkReconcilerDeployment(t *testing.T, d k8sObject, port int) container {
	t.Helper()
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("pod labels %v do not match the selector %v", d.Spec.Template.Metadata.Labels, d.Spec.Selector.MatchLabels)
		}
	}
	for _, want := range []string{"--replica-id=$(POD_NAME)", "--listen=:" + itoa(port), "--data-dir=/var/lib/objectstack"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	env := envByName(c)
	if e := env["POD_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME is not the pod's name: %+v", e)
	}
	// The control plane and the Turso token come from Secrets; no secret is ever a literal value.
	for _, name := range []string{"OBJECTSTACK_CONTROL_URL", "TURSO_API_TOKEN"} {
		if e, ok := env[name]; !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" {
			t.Errorf("%s is not taken from a Secret: %+v", name, e)
		}
	}
	for _, e := range c.Env {
		secretish := strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "CONTROL_URL")
		if secretish && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is inlined instead of referenced from a Secret: %+v", e.Name, e)
		}
	}
	for _, a := range c.Args {
		if strings.Contains(a, "token") && !strings.HasPrefix(a, "--git-username") || strings.HasPrefix(a, "--api-token") {
			t.Errorf("a credential on the command line: %s", a)
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port != "http" {
		t.Errorf("liveness probe: %+v", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port != "http" {
		t.Errorf("readiness probe: %+v", c.ReadinessProbe)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port {
		t.Errorf("ports %+v, want http=%d", c.Ports, port)
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("resources %+v lack a %s request or limit", c.Resources, r)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container security context is not locked down: %+v", sc)
	}
	if p := pod.SecurityContext; p.RunAsNonRoot == nil || !*p.RunAsNonRoot || p.RunAsUser == nil || *p.RunAsUser != 65532 {
		t.Errorf("pod security context: %+v (want non-root uid 65532, the image's user)", p)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the service account token is mounted; the reconciler never calls the Kubernetes API")
	}
	return c
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestHelmChartDefaults renders the chart with its own values (plus the two it cannot default),
// every manifest decoded strictly into the Kubernetes API types by chartcheck.
func TestHelmChartDefaults(t *testing.T) {
	docs, stderr, err := renderChart(t, "", "internal/release/testdata/chart-minimal.yaml")
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.Kind]++
	}
	for _, k := range []string{"Deployment", "Service", "ServiceMonitor", "PrometheusRule", "ServiceAccount", "PodDisruptionBudget"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s rendered, want 1 (all: %v)", kinds[k], k, kinds)
		}
	}
	if kinds["Secret"] != 0 {
		t.Errorf("the chart renders a Secret: secrets must be referenced, never inlined")
	}
	d := one(t, docs, "Deployment")
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want 2 or more sharing the control plane", d.Spec.Replicas)
	}
	c := checkReconcilerDeployment(t, d, 9090)
	env := envByName(c)
	for name, want := range map[string]secretKeyRef{
		"OBJECTSTACK_CONTROL_URL":    {Name: "objectstack-control-plane", Key: "url"},
		"OBJECTSTACK_CONTROL_TOKEN":  {Name: "objectstack-control-plane", Key: "token"},
		"TURSO_API_TOKEN":            {Name: "objectstack-turso", Key: "api-token"},
		"OBJECTSTACK_GIT_TOKEN":      {Name: "objectstack-git", Key: "token"},
		"OBJECTSTACK_WEBHOOK_SECRET": {Name: "objectstack-webhook", Key: "secret"},
	} {
		e, ok := env[name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != want.Name || e.ValueFrom.SecretKeyRef.Key != want.Key {
			t.Errorf("%s: %+v, want secretKeyRef %s/%s", name, e, want.Name, want.Key)
		}
	}
	if !strings.HasPrefix(c.Image, "ghcr.io/objectstack-ai/objectstack-reconciler:") {
		t.Errorf("image %s", c.Image)
	}
	for _, want := range []string{"--repo=https://github.com/example/objectstack-gitops.git", "--org=example", "--api-url=https://api.turso.tech"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}

	svc := one(t, docs, "Service")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9090 || svc.Spec.Ports[0].TargetPort != "http" || svc.Spec.Ports[0].Name != "http" {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.ServiceSelector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %v does not select the pods %v", svc.Spec.ServiceSelector, d.Spec.Template.Metadata.Labels)
		}
	}
	// The PrometheusRule carries every alert of deploy/prometheus/alerts.yaml.
	var pr struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	for _, d := range docs {
		if d.Kind == "PrometheusRule" {
			if err := json.Unmarshal(d.Object, &pr); err != nil {
				t.Fatal(err)
			}
		}
	}
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	alertsFile, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" || !strings.Contains(string(alertsFile), "- alert: "+r.Alert+"\n") {
				t.Errorf("PrometheusRule alert %q (expr %q) is not one of deploy/prometheus/alerts.yaml", r.Alert, r.Expr)
			}
			alerts = append(alerts, r.Alert)
		}
	}
	if n := strings.Count(string(alertsFile), "- alert: "); len(alerts) != n {
		t.Errorf("PrometheusRule has %d alerts %v, deploy/prometheus/alerts.yaml %d", len(alerts), alerts, n)
	}

	sm := one(t, docs, "ServiceMonitor")
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("service monitor endpoints %+v", sm.Spec.Endpoints)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Metadata.Labels[k] != v {
			t.Errorf("service monitor selector %v does not select the service %v", sm.Spec.Selector.MatchLabels, svc.Metadata.Labels)
		}
	}
}

// TestHelmChartCustomValues renders the chart with changed values and checks they land where they
// should, still strictly decoded.
func TestHelmChartCustomValues(t *testing.T) {
	docs, stderr, err := renderChart(t, "", "internal/release/testdata/chart-custom.yaml")
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	for _, d := range docs {
		if d.Kind == "ServiceMonitor" || d.Kind == "PrometheusRule" || d.Kind == "PodDisruptionBudget" || d.Kind == "Secret" {
			t.Errorf("%s rendered although disabled (or a Secret inlined)", d.Kind)
		}
	}
	d := one(t, docs, "Deployment")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	c := checkReconcilerDeployment(t, d, 8080)
	if c.Image != "registry.example.com/platform/objectstack-reconciler@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image %s, want the pinned digest", c.Image)
	}
	for _, want := range []string{"--branch=production", "--group=eu", "--concurrency=128", "--lease-ttl=45s", "--repo=https://gitlab.example.com/platform/gitops.git"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	env := envByName(c)
	if _, ok := env["OBJECTSTACK_GIT_TOKEN"]; ok {
		t.Errorf("git.existingSecret is empty but OBJECTSTACK_GIT_TOKEN is still set")
	}
	if e := env["OBJECTSTACK_WEBHOOK_SECRET"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "hooks" || e.ValueFrom.SecretKeyRef.Key != "gitlab" {
		t.Errorf("webhook secret: %+v", e)
	}
	if e := env["TURSO_API_TOKEN"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "turso-credentials" || e.ValueFrom.SecretKeyRef.Key != "token" {
		t.Errorf("Turso token: %+v", e)
	}
	if e := env["OBJECTSTACK_CONTROL_URL"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "control-plane" {
		t.Errorf("control plane: %+v", e)
	}
	if e := env["OBJECTSTACK_LOG_SAMPLE"]; e.Value != "1" {
		t.Errorf("extraEnv not passed: %+v", e)
	}
	if c.Resources.Limits["memory"] != "2Gi" || c.Resources.Requests["cpu"] != "250m" {
		t.Errorf("resources %+v", c.Resources)
	}
	if d.Spec.Template.Metadata.Labels["team"] != "platform" {
		t.Errorf("pod labels %v lack team=platform", d.Spec.Template.Metadata.Labels)
	}
	if svc := one(t, docs, "Service"); svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("service port %d, want 8080", svc.Spec.Ports[0].Port)
	}
}

// TestHelmChartBadValues: a missing required value and a misspelt field each fail with a message that
// names the value or the field, and nothing is rendered.
func TestHelmChartBadValues(t *testing.T) {
	dir := t.TempDir()
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rel := func(p string) string {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	for _, tc := range []struct{ name, values, want string }{
		{"no repository", "turso: {org: example}\n", "repo.url: the GitOps repository URL is required"},
		{"no Turso organization", "repo: {url: https://example.com/r.git}\n", "turso.org: the Turso organization is required"},
		{"branch and tag", "repo: {url: https://example.com/r.git, branch: a, tag: b}\nturso: {org: example}\n", "repo.branch and repo.tag: set one, not both"},
		// A typo inside a block the chart copies into the pod spec: only strict decoding catches it.
		{"misspelt security context field", "repo: {url: https://example.com/r.git}\nturso: {org: example}\nsecurityContext: {readOnlyRootFilesytem: true}\n", `templates/deployment.yaml: apps/v1 Deployment does not decode strictly: error unmarshaling JSON: while decoding JSON: json: unknown field "readOnlyRootFilesytem"`},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
		if err := os.WriteFile(f, []byte(tc.values), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := renderChart(t, "", rel(f))
		if err == nil {
			t.Errorf("%s: rendered without error", tc.name)
			continue
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.name, stderr, tc.want)
		}
	}
}

// TestPlainManifestsUpToDate: deploy/kubernetes/objectstack-reconciler.yaml is the chart rendered with
// deploy/kubernetes/values.yaml (-update rewrites it).
func TestPlainManifestsUpToDate(t *testing.T) {
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join(root, "deploy", "kubernetes", "objectstack-reconciler.yaml")
	out := filepath.Join(t.TempDir(), "rendered.yaml")
	if _, stderr, err := renderChart(t, out, "deploy/kubernetes/values.yaml"); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	rendered, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	header := []byte("# Plain Kubernetes manifests for the ObjectStack reconciler, rendered from the Helm chart in\n" +
		"# deploy/helm/objectstack-reconciler with deploy/kubernetes/values.yaml. Do not edit: regenerate with\n" +
		"#   go test -count=1 -run TestPlainManifestsUpToDate ./internal/release/ -args -update\n" +
		"# Set the repository URL and Turso organization, create the Secrets it references\n" +
		"# (objectstack-control-plane, objectstack-turso, objectstack-git, objectstack-webhook), then kubectl apply -f.\n" +
		"# The ServiceMonitor and PrometheusRule need prometheus-operator's CRDs: leave them out without it.\n")
	want := append(header, rendered...)
	if *update {
		if err := os.WriteFile(committed, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v (generate it with -args -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: regenerate with go test -run TestPlainManifestsUpToDate ./internal/release/ -args -update", committed)
	}
}

// TestChartAlertsAreTheRulesFile: the chart's copy of the alerting rules (Helm reads only files inside
// the chart) is byte for byte deploy/prometheus/alerts.yaml, the file TestAlertRules checks.
func TestChartAlertsAreTheRulesFile(t *testing.T) {
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(chartDir), "files", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s/files/alerts.yaml differs from deploy/prometheus/alerts.yaml: cp deploy/prometheus/alerts.yaml %s/files/", chartDir, chartDir)
	}
}
