package reconciler

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/webhook"
)

// StatusDocument is what /status and `objectstack status --json` return.
type StatusDocument struct {
	Sources []status.Source `json:"sources"`
	Rollout *status.Rollout `json:"rollout,omitempty"`
	Tenants []status.Tenant `json:"tenants"`
	// Leases says which replica holds which tenant (and until when), as `objectstack unlock` shows them.
	Leases []status.Lease `json:"leases"`
	// Suspensions in force (`objectstack suspend`): scope "*" is the whole repository.
	Suspensions []status.Suspension `json:"suspensions"`
	// Windows are the sync windows of the last valid revision, open or when they next open (only from a
	// running reconciler: the control plane does not keep objectstack.yaml).
	Windows []WindowStatus `json:"syncWindows,omitempty"`
	Last    *Summary       `json:"lastReconcile,omitempty"`
}

// Handler serves /status, /healthz, /readyz, /metrics and one /hook/<kind> per receiver.
func (r *Reconciler) Handler(receivers ...*webhook.Receiver) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, req *http.Request) {
		doc, err := ReadStatus(req.Context(), r.opts.Store)
		if err != nil {
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			r.log.Error("status endpoint", "error", err)
			return
		}
		doc.Windows = r.Windows()
		doc.Last = r.Last()
		if doc.Last != nil {
			// The per-tenant results can be large; /status already carries per-tenant state.
			last := *doc.Last
			last.Results = nil
			doc.Last = &last
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.Ready() {
			http.Error(w, "source not fetched yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", r.m.Handler())
	// One gate for all receivers: hooks are unauthenticated until their body is checked, so the number in
	// progress is what bounds their memory; /status, /healthz and /metrics stay outside it.
	gate := webhook.NewGate(webhook.DefaultConcurrency)
	gate.Observe = func(k webhook.Kind, result string) { r.m.Webhooks.WithLabelValues(string(k), result).Inc() }
	for _, rc := range receivers {
		if rc.Observe == nil {
			rc.Observe = func(k webhook.Kind, result string) { r.m.Webhooks.WithLabelValues(string(k), result).Inc() }
		}
		if rc.Wake == nil {
			rc.Wake = r.Wake
		}
		mux.Handle("/hook/"+string(rc.Kind), gate.Wrap(rc.Kind, rc))
	}
	return mux
}

// NewServer wraps h with the timeouts a public listener needs: slow-loris headers and bodies are cut off.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
