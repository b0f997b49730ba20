package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
)

// This file turns what the rollout decides into notification events (reconciler/notify delivers them).
// Emitting only queues: nothing here waits on a receiver.

// DefaultNotifyDrain bounds how long Run's shutdown waits for queued notifications.
const DefaultNotifyDrain = 5 * time.Second

func newNotifier(opts notify.Options, r *Reconciler) *notify.Notifier {
	if opts.Logger == nil {
		opts.Logger = r.log
	}
	if opts.Observe == nil {
		opts.Observe = func(sink, outcome string) { r.m.Notifications.WithLabelValues(sink, outcome).Inc() }
	}
	if opts.Dropped == nil {
		opts.Dropped = func(sink string) { r.m.NotificationsDropped.WithLabelValues(sink).Inc() }
	}
	return notify.New(opts)
}

// FlushNotifications waits until every queued notification was delivered or given up, or ctx ends.
func (r *Reconciler) FlushNotifications(ctx context.Context) error { return r.notify.Flush(ctx) }

// Close stops notifications: queued ones are delivered until ctx ends, the rest dropped (and counted).
func (r *Reconciler) Close(ctx context.Context) error { return r.notify.Close(ctx) }

// emit queues ev for cfg's notification sinks (none configured: nothing happens).
func (r *Reconciler) emit(cfg *config.Config, ev notify.Event) {
	if cfg == nil || cfg.Notifications.Empty() {
		return
	}
	ev.Repository = r.repoName()
	r.notify.Emit(cfg.Notifications, ev)
}

// quiet reports that the revision configures no sink: the event helpers then skip building events, so a
// rollout without notifications pays nothing for them.
func (ex *execution) quiet() bool { return ex.cfg == nil || ex.cfg.Notifications.Empty() }

func (ex *execution) event(typ string) notify.Event {
	return notify.Event{Type: typ, Revision: ex.rev.String(), Commit: ex.rev.Commit, RolloutID: ex.rollout.ID}
}

// notifyStarted: the waves with work, in order, with how many tenants each will converge.
func (ex *execution) notifyStarted(waves []Wave, todo [][]*Desired, resumed bool) {
	if ex.quiet() {
		return
	}
	ev := ex.event(config.EventRolloutStarted)
	total := 0
	for i, w := range waves {
		if len(todo[i]) > 0 {
			ev.Waves = append(ev.Waves, notify.WaveInfo{Name: w.Name, Tenants: len(todo[i])})
			total += len(todo[i])
		}
	}
	ev.Counts = &notify.Counts{Tenants: total}
	verb := "started"
	if resumed {
		verb = "resumed"
	}
	ev.Message = fmt.Sprintf("rollout of %s %s: %d tenant(s) in %d wave(s)", ex.rev, verb, total, len(ev.Waves))
	ex.r.emit(ex.cfg, ev)
}

func (ex *execution) notifyWaveStarted(w Wave, n int) {
	if ex.quiet() {
		return
	}
	ev := ex.event(config.EventWaveStarted)
	ev.Wave, ev.Counts = w.Name, &notify.Counts{Tenants: n}
	ev.Message = fmt.Sprintf("wave %s of %s started: %d tenant(s)", w.Name, ex.rev, n)
	ex.r.emit(ex.cfg, ev)
}

// notifyWaveFinished summarises the wave's results in one line: the counts, then the first tenants that
// failed or were refused with their reasons.
func (ex *execution) notifyWaveFinished(w Wave, results []TenantResult) {
	if ex.quiet() {
		return
	}
	ev := ex.event(config.EventWaveFinished)
	ev.Wave = w.Name
	c := countResults(results, w.Name, &ev)
	ev.Counts = c
	ev.Message = fmt.Sprintf("wave %s: %s", w.Name, countsLine(c))
	if len(ev.Tenants) > 0 {
		t := ev.Tenants[0]
		ev.Message += fmt.Sprintf(" — %s %s: %s", t.ID, t.Outcome, oneLineText(t.Reason))
	}
	ex.r.emit(ex.cfg, ev)
}

// notifyHalted names the waves that will not run.
func (ex *execution) notifyHalted(halted []notify.WaveInfo, why string) {
	if ex.quiet() {
		return
	}
	ev := ex.event(config.EventRolloutHalted)
	ev.Waves = halted
	n := 0
	names := make([]string, len(halted))
	for i, w := range halted {
		n += w.Tenants
		names[i] = w.Name
	}
	ev.Counts = &notify.Counts{Tenants: n, Halted: n}
	if why == "" {
		why = "the rollout was stopped"
	}
	ev.Message = fmt.Sprintf("%s; wave(s) %s not run (%d tenant(s))", why, strings.Join(names, ", "), n)
	ex.r.emit(ex.cfg, ev)
}

// notifyTenant reports a refused or failed tenant as it happens.
func (ex *execution) notifyTenant(res TenantResult) {
	if ex.quiet() {
		return
	}
	var typ string
	switch res.Outcome {
	case OutcomeRefused:
		typ = config.EventTenantRefused
	case OutcomeFailed:
		typ = config.EventTenantFailed
	default:
		return
	}
	ev := ex.event(typ)
	ev.Wave = res.Wave
	note := tenantNote(res)
	ev.AddTenant(note)
	ev.Message = fmt.Sprintf("tenant %s %s in wave %s: %s", res.TenantID, res.Outcome, res.Wave, oneLineText(note.Reason))
	ex.r.emit(ex.cfg, ev)
}

// notifyFinished reports the rollout's final state with the counts of the whole rollout.
func (ex *execution) notifyFinished(sum *Summary, state, msg string) {
	if ex.quiet() {
		return
	}
	ev := ex.event(config.EventRolloutFinished)
	ev.State = state
	ev.Counts = countResults(sum.Results, "", &ev)
	ev.Message = fmt.Sprintf("rollout of %s %s: %s", ex.rev, state, countsLine(ev.Counts))
	if msg != "" {
		ev.Message += " (" + msg + ")"
	}
	ex.r.emit(ex.cfg, ev)
}

// notifyInvalid reports a revision that failed validation. Its own objectstack.yaml may be what is
// broken, so the sinks are those of the revision if it parsed, else of the last valid one.
func (r *Reconciler) notifyInvalid(repo *Repository, rev source.Revision, issues []bundle.Issue) {
	cfg := repo.Config
	if cfg == nil {
		r.mu.Lock()
		if r.lastRepo != nil {
			cfg = r.lastRepo.Config
		}
		r.mu.Unlock()
	}
	ev := notify.Event{Type: config.EventRevisionInvalid, Revision: rev.String(), Commit: rev.Commit}
	first := ""
	if len(issues) > 0 {
		first = ": " + config.FormatIssue(issues[0])
	}
	ev.Message = fmt.Sprintf("invalid, nothing applied (%d problem(s))%s", len(issues), first)
	r.emit(cfg, ev)
}

// notifyDrift reports tenants a drift check found newly drifted or healed (a tenant already known to be
// drifted is not reported again on every check).
func (r *Reconciler) notifyDrift(repo *Repository, rev source.Revision, rep *DriftReport, wasDrifted map[string]bool) {
	ev := notify.Event{Type: config.EventDriftDetected, Revision: rev.String(), Commit: rev.Commit}
	drifted, healed := 0, 0
	for _, res := range rep.Results {
		switch {
		case res.Healed:
			healed++
			ev.AddTenant(notify.TenantNote{ID: res.TenantID, Outcome: "healed", Reason: fmt.Sprintf("re-applied %d statement(s)", res.Statements)})
		case res.Drifted && !wasDrifted[res.TenantID]:
			drifted++
			ev.AddTenant(notify.TenantNote{ID: res.TenantID, Outcome: "drifted", Reason: fmt.Sprintf("re-applying would run %d statement(s)", res.Statements)})
		}
	}
	if drifted+healed == 0 {
		return
	}
	ev.Counts = &notify.Counts{Tenants: rep.Checked}
	ev.Message = fmt.Sprintf("drift from %s: %d tenant(s) newly drifted, %d healed (of %d checked)", rev, drifted, healed, rep.Checked)
	r.emit(repo.Config, ev)
}

// countResults counts the results of wave (every wave when empty), noting refused and failed tenants on ev.
func countResults(results []TenantResult, wave string, ev *notify.Event) *notify.Counts {
	c := &notify.Counts{}
	for _, res := range results {
		if wave != "" && res.Wave != wave {
			continue
		}
		c.Tenants++
		switch res.Outcome {
		case OutcomeApplied:
			c.Applied++
		case OutcomeUpToDate:
			c.UpToDate++
		case OutcomeFailed:
			c.Failed++
			ev.AddTenant(tenantNote(res))
		case OutcomeRefused:
			c.Refused++
			ev.AddTenant(tenantNote(res))
		case OutcomeHalted:
			c.Halted++
		case OutcomeLeased:
			c.Leased++
		}
	}
	return c
}

func tenantNote(res TenantResult) notify.TenantNote {
	reason := res.Error
	if len(res.Refused) > 0 {
		reason = "destructive changes not allowed: " + strings.Join(res.Refused, "; ")
	}
	return notify.TenantNote{ID: res.TenantID, Outcome: res.Outcome, Reason: reason}
}

// countsLine is "5 applied, 1 up to date" plus whatever else happened.
func countsLine(c *notify.Counts) string {
	parts := []string{fmt.Sprintf("%d applied", c.Applied)}
	for _, p := range []struct {
		n    int
		what string
	}{{c.UpToDate, "up to date"}, {c.Failed, "failed"}, {c.Refused, "refused"}, {c.Halted, "halted"}, {c.Leased, "held by another replica"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return strings.Join(parts, ", ")
}

// oneLineText folds a multi-line reason onto one line.
func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }
