package reconciler

import (
	"fmt"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Sync windows (objectstack.yaml syncWindows) decide, per tenant, when changes may be applied: a tenant
// covered by allow windows is applied only while one of them is open; no tenant is applied while a deny
// window covering it is open (deny wins). Outside its windows a tenant is still planned — refusals and
// drift are reported as always — but nothing is applied; its status says when the next window opens,
// and the loop wakes then. `reconcile --once --override-windows` applies anyway and says so in history.

// windowState is whether a tenant may be applied to at a time, and if not, when it next may.
type windowState struct {
	open bool
	next time.Time // when closed: the first time it is open again (zero: no window is scheduled to open)
}

// windowsFor are the sync windows covering d's tenant.
func windowsFor(cfg *config.Config, d *Desired) []*config.SyncWindow {
	if len(cfg.SyncWindows) == 0 {
		return nil
	}
	tn := &d.Tenant
	inTargets := func(name string) bool {
		for _, t := range cfg.Targets {
			if t.Name == name && targetMatches(t, tn) {
				return true
			}
		}
		return false
	}
	var out []*config.SyncWindow
	for i := range cfg.SyncWindows {
		w := &cfg.SyncWindows[i]
		if w.Covers(tn.ID, tn.Labels, tn.Plan, tn.Region, inTargets) {
			out = append(out, w)
		}
	}
	return out
}

// openAt reports whether ws let a tenant be applied to at t.
func openAt(ws []*config.SyncWindow, t time.Time) bool {
	allows, allowOpen := 0, false
	for _, w := range ws {
		open, _ := w.OpenAt(t)
		switch w.Kind {
		case config.WindowDeny:
			if open {
				return false
			}
		case config.WindowAllow:
			allows++
			allowOpen = allowOpen || open
		}
	}
	return allows == 0 || allowOpen
}

// maxWindowSteps bounds the search for the next opening (each step jumps to the next window edge).
const maxWindowSteps = 1000

// windowStateAt is the state of a tenant covered by ws at now.
func windowStateAt(ws []*config.SyncWindow, now time.Time) windowState {
	if openAt(ws, now) {
		return windowState{open: true}
	}
	// Walk the edges where the answer can change — an allow window starting, a deny window ending —
	// from now on, and return the first one at which the tenant is open.
	t := now
	for range maxWindowSteps {
		var next time.Time
		for _, w := range ws {
			var edge time.Time
			if open, end := w.OpenAt(t); open && w.Kind == config.WindowDeny {
				edge = end
			} else if w.Kind == config.WindowAllow {
				edge = w.NextStart(t)
			} else {
				// A deny window that is closed now matters only once it opens; its end then is an edge.
				edge = w.NextStart(t).Add(w.Duration)
			}
			if !edge.IsZero() && edge.After(t) && (next.IsZero() || edge.Before(next)) {
				next = edge
			}
		}
		if next.IsZero() {
			return windowState{}
		}
		t = next
		if openAt(ws, t) {
			return windowState{next: t}
		}
	}
	return windowState{}
}

// windowMessage is the status message of a tenant waiting for its window.
func windowMessage(rev string, ws windowState) string {
	if ws.next.IsZero() {
		return fmt.Sprintf("%s planned, not applied: outside its sync windows, and none is scheduled to open", rev)
	}
	return fmt.Sprintf("%s planned, not applied: outside its sync windows; the next window opens at %s", rev, ws.next.UTC().Format(time.RFC3339))
}

// WindowStatus is a sync window as /status shows it.
type WindowStatus struct {
	Kind     string    `json:"kind"`
	Schedule string    `json:"schedule"`
	Duration string    `json:"duration"`
	TimeZone string    `json:"timeZone,omitempty"`
	Open     bool      `json:"open"`
	Until    time.Time `json:"until,omitzero"`    // when open: when it closes
	NextOpen time.Time `json:"nextOpen,omitzero"` // when closed: its next start
}

// Windows describes the sync windows of the last valid revision at the reconciler's clock.
func (r *Reconciler) Windows() []WindowStatus {
	r.mu.Lock()
	repo := r.lastRepo
	r.mu.Unlock()
	if repo == nil || repo.Config == nil {
		return nil
	}
	now := r.opts.Now()
	out := make([]WindowStatus, 0, len(repo.Config.SyncWindows))
	for i := range repo.Config.SyncWindows {
		w := &repo.Config.SyncWindows[i]
		ws := WindowStatus{Kind: w.Kind, Schedule: w.Schedule, Duration: w.Duration.String(), TimeZone: w.TimeZone}
		if open, end := w.OpenAt(now); open {
			ws.Open, ws.Until = true, end.UTC()
		} else if n := w.NextStart(now); !n.IsZero() {
			ws.NextOpen = n.UTC()
		}
		out = append(out, ws)
	}
	return out
}
