package notify

import "time"

// Event is one thing that happened to a rollout, as webhooks receive it (JSON) and as commit statuses and
// Slack messages are rendered from it.
type Event struct {
	// ID is the same on every delivery of the event (all sinks, all retries): receivers deduplicate on it.
	ID   string    `json:"id"`
	Type string    `json:"type"` // one of config.EventTypes
	Time time.Time `json:"time"`
	// Repository is the source repository with credentials removed.
	Repository string `json:"repository,omitempty"`
	Revision   string `json:"revision"`         // "main@sha1:<sha>"
	Commit     string `json:"commit,omitempty"` // the commit statuses are posted on
	RolloutID  int64  `json:"rolloutId,omitempty"`
	// Wave is the wave of wave.* and tenant.* events.
	Wave string `json:"wave,omitempty"`
	// Waves are the waves with work (rollout.started) or the waves that will not run (rollout.halted).
	Waves []WaveInfo `json:"waves,omitempty"`
	// Counts are the tenants of the wave (wave.*) or of the whole rollout (rollout.*).
	Counts *Counts `json:"counts,omitempty"`
	// Tenants are the refused, failed, drifted or healed tenants with their reasons (at most MaxTenants).
	Tenants []TenantNote `json:"tenants,omitempty"`
	// TenantsOmitted is how many more there were.
	TenantsOmitted int `json:"tenantsOmitted,omitempty"`
	// State is the rollout's final state (rollout.finished): completed, failed or halted.
	State string `json:"state,omitempty"`
	// Message is a one-line summary.
	Message string `json:"message"`
	// URL is the notifications' targetURL with this event's values filled in.
	URL string `json:"url,omitempty"`
}

// WaveInfo names a wave and how many of its tenants need work.
type WaveInfo struct {
	Name    string `json:"name"`
	Tenants int    `json:"tenants"`
}

// Counts are tenant outcomes.
type Counts struct {
	Tenants  int `json:"tenants"`
	Applied  int `json:"applied"`
	UpToDate int `json:"upToDate"`
	Failed   int `json:"failed"`
	Refused  int `json:"refused"`
	Halted   int `json:"halted"`
	Leased   int `json:"leased"`
}

// OK reports whether no tenant failed, was refused or was halted.
func (c *Counts) OK() bool { return c == nil || c.Failed+c.Refused+c.Halted == 0 }

// TenantNote is one tenant worth naming, with why.
type TenantNote struct {
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // refused | failed | drifted | healed
	Reason  string `json:"reason,omitempty"`
}

// MaxTenants bounds Event.Tenants: a fleet-wide failure must not make one event megabytes.
const MaxTenants = 50

// maxReason bounds one tenant's reason in an event.
const maxReason = 500

// AddTenant appends a tenant note, keeping at most MaxTenants and counting the rest.
func (e *Event) AddTenant(n TenantNote) {
	if len(e.Tenants) >= MaxTenants {
		e.TenantsOmitted++
		return
	}
	n.Reason = truncate(n.Reason, maxReason)
	e.Tenants = append(e.Tenants, n)
}

// truncate cuts s to at most n characters (runes), marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
