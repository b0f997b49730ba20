// Package metrics owns the reconciler's Prometheus metrics. Each Metrics has its own registry so several
// reconcilers (tests, replicas in one process) never collide on registration.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the reconciler's instruments.
type Metrics struct {
	Registry          *prometheus.Registry
	ReconcileDuration *prometheus.HistogramVec // by result: success | failed | invalid | unchanged
	TenantsByCond     *prometheus.GaugeVec     // by condition and reason
	Applies           *prometheus.CounterVec   // by owner kind (bundle | app)
	Failures          *prometheus.CounterVec   // by reason
	Webhooks          *prometheus.CounterVec   // by kind and result
	Drifted           prometheus.Gauge
	Fetches           *prometheus.CounterVec // by result: changed | unchanged | error
	// Notifications counts notification delivery outcomes by sink (github | gitlab | webhook | slack) and
	// outcome (delivered | retried | failed); NotificationsDropped those dropped on a full queue or at shutdown.
	Notifications        *prometheus.CounterVec
	NotificationsDropped *prometheus.CounterVec
}

// New creates and registers the instruments (plus Go and process collectors).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "objectstack_reconcile_duration_seconds", Help: "Duration of one reconcile of the repository revision over all targeted tenants.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"result"}),
		TenantsByCond: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "objectstack_reconcile_tenants", Help: "Targeted tenants by condition (Ready, Reconciling, Stalled) and reason.",
		}, []string{"condition", "reason"}),
		Applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_reconcile_applies_total", Help: "Successful applies to a tenant database, by owner kind.",
		}, []string{"kind"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_reconcile_failures_total", Help: "Tenant reconciles that failed or were refused, by reason.",
		}, []string{"reason"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_webhook_requests_total", Help: "Webhook requests by receiver kind and result.",
		}, []string{"kind", "result"}),
		Drifted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "objectstack_reconcile_drifted_tenants", Help: "Tenants whose database differs from the applied revision (changed by hand).",
		}),
		Fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_source_fetches_total", Help: "Source checks by result (changed, unchanged, error).",
		}, []string{"result"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_notification_deliveries_total", Help: "Notification delivery attempts by sink (github, gitlab, webhook, slack) and outcome (delivered, retried, failed, unchanged: the receiver already had that state).",
		}, []string{"sink", "outcome"}),
		NotificationsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "objectstack_notification_dropped_total", Help: "Notifications dropped without delivery attempt, by sink: the sink's queue was full, or the reconciler shut down.",
		}, []string{"sink"}),
	}
	m.Registry.MustRegister(m.ReconcileDuration, m.TenantsByCond, m.Applies, m.Failures, m.Webhooks, m.Drifted, m.Fetches,
		m.Notifications, m.NotificationsDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
