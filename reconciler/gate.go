package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// A wave's gate (rollout.waves[].gate) stands between it and the next wave that has work: once the wave
// is done, the reconciler waits the soak time (when the wave applied something in this reconcile) and then
// asks the check URL, which must answer 2xx — an application's health or error-rate endpoint, as Flagger's
// webhooks are. A failing gate follows the failure policy: halt and stopAfter stop the rollout there (the
// gate is the wave's verdict, and no tenant of a later wave starts); continue reports it and goes on. The
// check is asked again whenever a later wave has work — a rollout halted by its gate and retried passes
// the gate again before going on, however long ago the earlier wave applied.

// GateResult is one gate checked in a reconcile.
type GateResult struct {
	Wave     string `json:"wave"` // the wave the gate follows
	Passed   bool   `json:"passed"`
	Message  string `json:"message"`
	SoakedMs int64  `json:"soakedMs,omitempty"`
}

// gateRetryDelay separates a failed check from its retry.
const gateRetryDelay = 2 * time.Second

// gatePayload is the JSON body of a POST check: enough for the endpoint to judge the right thing.
type gatePayload struct {
	Revision  string   `json:"revision"`
	RolloutID int64    `json:"rolloutId"`
	Wave      string   `json:"wave"`
	NextWave  string   `json:"nextWave"`
	Tenants   []string `json:"tenants"` // the finished wave's tenants
}

// passGate waits w's soak (when soak is set) and asks its check; it returns what happened.
func (ex *execution) passGate(ctx context.Context, w Wave, next string, soak bool) GateResult {
	g := w.Gate
	res := GateResult{Wave: w.Name, Passed: true}
	if soak && g.Soak > 0 {
		ex.r.log.Info("gate: soaking", "wave", w.Name, "soak", g.Soak.String())
		start := time.Now()
		t := time.NewTimer(g.Soak)
		select {
		case <-ctx.Done():
			t.Stop()
			res.Passed, res.Message = false, fmt.Sprintf("gate after wave %q: soak interrupted: %v", w.Name, ctx.Err())
			return res
		case <-t.C:
		}
		res.SoakedMs = time.Since(start).Milliseconds()
	}
	if g.Check == nil {
		res.Message = fmt.Sprintf("gate after wave %q passed (soak %s)", w.Name, g.Soak)
		return res
	}
	ids := make([]string, 0, len(w.Members))
	for _, d := range w.Members {
		ids = append(ids, d.Tenant.ID)
	}
	sort.Strings(ids)
	body, _ := json.Marshal(gatePayload{Revision: ex.rev.String(), RolloutID: ex.rollout.ID, Wave: w.Name, NextWave: next, Tenants: ids})
	var last string
	for attempt := 0; attempt <= g.Check.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(gateRetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				res.Passed, res.Message = false, fmt.Sprintf("gate after wave %q: %s (retries interrupted: %v)", w.Name, last, ctx.Err())
				return res
			case <-t.C:
			}
		}
		ok, msg := ex.check(ctx, g.Check, body)
		if ok {
			res.Message = fmt.Sprintf("gate after wave %q passed: %s", w.Name, msg)
			return res
		}
		last = msg
	}
	res.Passed, res.Message = false, fmt.Sprintf("gate after wave %q failed: %s", w.Name, last)
	return res
}

// check sends one gate request; the message names the method, URL and answer (the URL is objectstack.yaml's,
// which the loader keeps free of credentials).
func (ex *execution) check(ctx context.Context, c *config.GateCheck, body []byte) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var rd io.Reader
	if c.Method == http.MethodPost {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, rd)
	if err != nil {
		return false, fmt.Sprintf("%s %s: %v", c.Method, c.URL, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "objectstack-reconciler")
	resp, err := ex.r.opts.GateClient.Do(req)
	if err != nil {
		return false, fmt.Sprintf("%s %s: %v", c.Method, c.URL, err)
	}
	defer resp.Body.Close()
	// A little of the answer helps whoever reads the status; the rest is drained for the keep-alive.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	msg := fmt.Sprintf("%s %s answered %s", c.Method, c.URL, resp.Status)
	if s := oneLineText(string(snippet)); s != "" && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		msg += ": " + s
	}
	return resp.StatusCode >= 200 && resp.StatusCode <= 299, msg
}

// gatesBefore checks, before wave i starts, the gates of the waves before it not checked yet in this
// reconcile (waves whose members needed no work included: the check is the verdict on the application,
// not on this reconcile's work). It returns false when a failed gate stopped the rollout.
func (ex *execution) gatesBefore(ctx context.Context, waves []Wave, i int, applied map[string]bool, sum *Summary) bool {
	for k := ex.gated + 1; k < i; k++ {
		ex.gated = k
		w := waves[k]
		if w.Gate == nil || len(w.Members) == 0 || ex.stop() {
			continue
		}
		res := ex.passGate(ctx, w, waves[i].Name, applied[w.Name])
		sum.Gates = append(sum.Gates, res)
		result := "passed"
		if !res.Passed {
			result = "failed"
		}
		ex.r.m.Gates.WithLabelValues(w.Name, result).Inc()
		if res.Passed {
			ex.r.log.Info("gate passed", "wave", w.Name, "message", res.Message)
			continue
		}
		ex.r.log.Warn("gate failed", "wave", w.Name, "message", res.Message, "failurePolicy", ex.cfg.FailurePolicy.Mode)
		if ex.cfg.FailurePolicy.Mode == config.FailureContinue {
			continue
		}
		ex.mu.Lock()
		if ex.haltMsg == "" {
			ex.haltMsg = fmt.Sprintf("rollout halted before wave %q: %s (failurePolicy %s)", waves[i].Name, res.Message, ex.cfg.FailurePolicy.Mode)
		}
		ex.mu.Unlock()
		ex.halted.Store(true)
		return false
	}
	return true
}

// waveFailureLimit is how many failures a wave of n tenants may have under maxFailures: "P%": P percent
// of the wave, rounded up, at least one.
func waveFailureLimit(percent, n int) int64 {
	return int64(max(1, int(math.Ceil(float64(percent)*float64(n)/100))))
}
