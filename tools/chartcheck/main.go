// Command chartcheck renders the reconciler's Helm chart with Helm's own Go packages (no helm binary,
// no cluster) and decodes every manifest strictly into the Kubernetes API types: a field the API
// does not know, a duplicate key or an unexpected kind fails. It prints a JSON report of the decoded
// objects for internal/release's tests to assert on, and with -manifests writes the rendered YAML
// (deploy/kubernetes/ holds the plain manifests made this way).
//
// It lives in its own module (tools/chartcheck) so that Helm and k8s.io/* never enter the
// provider's module graph.
//
//	chartcheck -chart deploy/helm/objectstack-reconciler [-values v.yaml ...] [-name R] [-namespace NS] [-manifests out.yaml]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// Document is one rendered manifest after strict decoding.
type Document struct {
	Source     string `json:"source"` // template path inside the chart
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Object     any    `json:"object"` // the typed object, re-encoded
}

// Report is chartcheck's output.
type Report struct {
	Chart     string     `json:"chart"`
	Documents []Document `json:"documents"`
}

func main() {
	var values valueFiles
	chartDir := flag.String("chart", "", "chart folder (required)")
	flag.Var(&values, "values", "values file merged over the chart's values.yaml (repeatable, later wins)")
	name := flag.String("name", "objectstack", "release name")
	namespace := flag.String("namespace", "objectstack", "release namespace")
	manifests := flag.String("manifests", "", "also write the rendered manifests to this file")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "chartcheck: -chart is required")
		os.Exit(2)
	}
	rep, rendered, err := check(*chartDir, values, *name, *namespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(1)
	}
	if *manifests != "" {
		if err := os.WriteFile(*manifests, rendered, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "chartcheck:", err)
			os.Exit(1)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(1)
	}
}

func check(chartDir string, valueFiles []string, name, namespace string) (*Report, []byte, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	user := map[string]any{}
	for _, f := range valueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read values %s: %w", f, err)
		}
		user = chartutil.CoalesceTables(v.AsMap(), user)
	}
	top, err := chartutil.ToRenderValues(ch, user, chartutil.ReleaseOptions{
		Name: name, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, nil, fmt.Errorf("values for %s: %w", chartDir, err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, nil, fmt.Errorf("render %s: %w", chartDir, err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	rep := &Report{Chart: ch.Metadata.Name + "-" + ch.Metadata.Version}
	var out bytes.Buffer
	for _, p := range paths {
		if !strings.HasSuffix(p, ".yaml") || strings.TrimSpace(files[p]) == "" {
			continue // _helpers.tpl, NOTES.txt, templates disabled by values
		}
		split := releaseutil.SplitManifests(files[p])
		keys := make([]string, 0, len(split))
		for k := range split {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			doc := split[k]
			if strings.TrimSpace(doc) == "" {
				continue
			}
			d, err := decode(p, []byte(doc))
			if err != nil {
				return nil, nil, err
			}
			rep.Documents = append(rep.Documents, *d)
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", p, strings.TrimSpace(doc))
		}
	}
	if len(rep.Documents) == 0 {
		return nil, nil, errors.New("the chart rendered no manifest")
	}
	return rep, out.Bytes(), nil
}

// decode strictly decodes one manifest into the API type its apiVersion and kind name.
func decode(source string, doc []byte) (*Document, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("%s: not a Kubernetes object: %w", source, err)
	}
	var obj interface {
		GetName() string
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1 PrometheusRule":
		obj = &monitoringv1.PrometheusRule{}
	default:
		return nil, fmt.Errorf("%s: unexpected object %s %s (chartcheck knows Deployment, Service, ServiceAccount, Secret, PodDisruptionBudget, ServiceMonitor, PrometheusRule)", source, tm.APIVersion, tm.Kind)
	}
	// UnmarshalStrict rejects unknown fields and duplicate keys.
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %s %s does not decode strictly: %w", source, tm.APIVersion, tm.Kind, err)
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%s: %s has no metadata.name", source, tm.Kind)
	}
	return &Document{Source: source, APIVersion: tm.APIVersion, Kind: tm.Kind, Name: obj.GetName(), Object: obj}, nil
}
