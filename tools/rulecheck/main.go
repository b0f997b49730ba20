// Command rulecheck loads a Prometheus rules file the way Prometheus does (rulefmt: strict YAML,
// unknown fields fail, every expression and annotation template parsed) and prints, for each rule,
// the metric selectors its PromQL expression uses — metric name and the label names it matches on —
// as JSON. internal/release's test checks those against the reconciler's real metric registry.
//
// Its own module (tools/rulecheck) keeps github.com/prometheus/prometheus out of the provider's
// module graph.
//
//	rulecheck deploy/prometheus/alerts.yaml
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Selector is one vector selector of an expression.
type Selector struct {
	Metric string   `json:"metric"`
	Labels []string `json:"labels,omitempty"` // label names matched on (besides __name__)
}

// Rule is one alerting or recording rule.
type Rule struct {
	Group       string            `json:"group"`
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Selectors   []Selector        `json:"selectors"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rulecheck RULES.yaml")
		os.Exit(2)
	}
	rules, err := check(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rulecheck:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rules); err != nil {
		fmt.Fprintln(os.Stderr, "rulecheck:", err)
		os.Exit(1)
	}
}

func check(file string) ([]Rule, error) {
	p := parser.NewParser(parser.Options{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation, p, quiet)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []Rule
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			expr, err := p.ParseExpr(r.Expr)
			if err != nil { // rulefmt has parsed it already; kept for a clear message all the same
				return nil, fmt.Errorf("%s: group %q rule %q: %w", file, g.Name, r.Alert+r.Record, err)
			}
			rule := Rule{Group: g.Name, Alert: r.Alert, Record: r.Record, Expr: r.Expr, Labels: r.Labels, Annotations: r.Annotations, Selectors: []Selector{}}
			if r.For != 0 {
				rule.For = time.Duration(r.For).String()
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				s := Selector{Metric: vs.Name}
				for _, m := range vs.LabelMatchers {
					if m.Name == labels.MetricName {
						if s.Metric == "" && m.Type == labels.MatchEqual {
							s.Metric = m.Value
						}
						continue
					}
					s.Labels = append(s.Labels, m.Name)
				}
				sort.Strings(s.Labels)
				rule.Selectors = append(rule.Selectors, s)
				return nil
			})
			out = append(out, rule)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rules", file)
	}
	return out, nil
}
