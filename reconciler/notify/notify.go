// Package notify delivers rollout events to the sinks objectstack.yaml's notifications block names:
// commit statuses on the revision being rolled out (GitHub statuses API, GitLab commit status API, one
// context per wave), a generic JSON webhook signed with HMAC-SHA256, and Slack-compatible incoming
// webhooks.
//
// Delivery never blocks the rollout: Emit renders the event and queues it, one bounded queue per sink
// (the oldest delivery is dropped, and counted, when a queue is full), and one worker per sink with work
// sends in order — a commit status's pending always goes before its success — retrying 5xx, 429 and
// network errors with exponential backoff, each attempt under a timeout. A hanging receiver holds up only
// its own sink. Secrets (tokens, the HMAC secret, the Slack URL) are read from the file or environment
// variable the configuration names at send time and never appear in logs or errors.
package notify

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Defaults of Options.
const (
	DefaultQueueSize  = 256
	DefaultAttempts   = 5
	DefaultTimeout    = 10 * time.Second
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Delivery outcomes (the metrics' outcome label).
const (
	OutcomeDelivered = "delivered" // the receiver answered 2xx
	OutcomeRetried   = "retried"   // an attempt failed and another follows
	OutcomeFailed    = "failed"    // given up: attempts exhausted, a 4xx, a missing secret, or shutdown
	OutcomeUnchanged = "unchanged" // the receiver already had that state (GitLab refuses pending → pending)
)

// errUnchanged marks an answer that says the status is already in (or past) the state sent.
var errUnchanged = errors.New("status unchanged")

// Options configure a Notifier.
type Options struct {
	Logger *slog.Logger
	// QueueSize bounds each sink's queue (default DefaultQueueSize); when full the oldest delivery is dropped.
	QueueSize int
	// Attempts is how many times a delivery is tried (default DefaultAttempts).
	Attempts int
	// Timeout bounds one attempt (default DefaultTimeout): a hanging receiver costs this, not a stuck worker.
	Timeout time.Duration
	// Backoff is the wait before the first retry (default DefaultBackoff), doubled each time up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Client sends the requests (default: a client of its own with no overall timeout; Timeout bounds attempts).
	Client *http.Client
	// StatusContext, when set, is this reconciler's own segment of every commit-status context
	// ("<context>/<StatusContext>/<wave>"): reconcilers watching the same repository — whose
	// objectstack.yaml, and so whose context, they share — set different ones (cluster, region) and never
	// overwrite each other's statuses.
	StatusContext string
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
	// Observe counts a delivery outcome per sink; Dropped counts a delivery dropped on a full queue or at
	// shutdown. Both may be nil.
	Observe func(sink, outcome string)
	Dropped func(sink string)
}

// Notifier queues and delivers events. Safe for concurrent use.
type Notifier struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // cancelled when Close gives up draining: in-flight attempts end
	cancel context.CancelFunc

	mu     sync.Mutex
	queues map[string]*queue
	closed bool
	active int           // workers running
	idle   chan struct{} // closed when active drops to zero
}

type queue struct {
	items   []delivery
	running bool
}

// New returns a Notifier. It starts no goroutine until there is something to deliver.
func New(opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Client == nil {
		// Redirects are not followed: a token header (GitLab's PRIVATE-TOKEN) would go along to wherever
		// the receiver points.
		opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, queues: map[string]*queue{}}
}

// NewEventID returns a random event id.
func NewEventID() string {
	var b [12]byte
	_, _ = cryptorand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Emit queues ev for every sink of n that takes it and returns at once. Missing ID, Time and URL are
// filled in.
func (nt *Notifier) Emit(n *config.Notifications, ev Event) {
	if n.Empty() {
		return
	}
	if ev.ID == "" {
		ev.ID = NewEventID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.URL == "" {
		ev.URL = ExpandTargetURL(n.TargetURL, ev)
	}
	ds := render(n, ev, nt.opts.StatusContext)
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for _, d := range ds {
		if nt.closed {
			nt.drop(d, "the notifier is shut down")
			continue
		}
		q := nt.queues[d.key]
		if q == nil {
			q = &queue{}
			nt.queues[d.key] = q
		}
		if len(q.items) >= nt.opts.QueueSize {
			// Drop the oldest: for commit statuses the newest state is the one that matters.
			nt.drop(q.items[0], "queue full")
			q.items[0] = delivery{}
			q.items = q.items[1:]
		}
		q.items = append(q.items, d)
		if !q.running {
			q.running = true
			if nt.active == 0 {
				nt.idle = make(chan struct{})
			}
			nt.active++
			go nt.work(q)
		}
	}
}

// drop counts and logs a delivery that will not be attempted (nt.mu held or not: it touches no state).
func (nt *Notifier) drop(d delivery, why string) {
	if nt.opts.Dropped != nil {
		nt.opts.Dropped(d.sink)
	}
	nt.log.Warn("notification dropped", "sink", d.sink, "to", d.desc, "event", d.event.Type, "reason", why)
}

// work sends q's deliveries in order until it is empty, then ends (the next Emit starts another).
func (nt *Notifier) work(q *queue) {
	for {
		nt.mu.Lock()
		if len(q.items) == 0 || nt.ctx.Err() != nil {
			for _, d := range q.items {
				nt.drop(d, "shutdown")
			}
			q.items = nil
			q.running = false
			nt.active--
			if nt.active == 0 {
				close(nt.idle)
			}
			nt.mu.Unlock()
			return
		}
		d := q.items[0]
		q.items[0] = delivery{}
		q.items = q.items[1:]
		nt.mu.Unlock()
		nt.deliver(d)
	}
}

// Flush waits until every queued delivery was sent or given up, or ctx ends.
func (nt *Notifier) Flush(ctx context.Context) error {
	nt.mu.Lock()
	if nt.active == 0 {
		nt.mu.Unlock()
		return nil
	}
	idle := nt.idle
	nt.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notifications still being delivered: %w", ctx.Err())
	}
}

// Close stops accepting events and drains the queues until ctx ends; then in-flight attempts are
// cancelled and what is left is dropped (and counted). It returns once no worker runs.
func (nt *Notifier) Close(ctx context.Context) error {
	nt.mu.Lock()
	nt.closed = true
	nt.mu.Unlock()
	err := nt.Flush(ctx)
	nt.cancel()
	if err != nil {
		nt.mu.Lock()
		idle, active := nt.idle, nt.active
		nt.mu.Unlock()
		if active > 0 {
			<-idle // cancelled attempts and backoffs return at once
		}
		return fmt.Errorf("shutdown before every notification was delivered: %w", ctx.Err())
	}
	return nil
}

// deliver tries d up to Attempts times.
func (nt *Notifier) deliver(d delivery) {
	for attempt := 1; ; attempt++ {
		wait, retry, err := nt.attempt(d)
		if errors.Is(err, errUnchanged) {
			nt.observe(d.sink, OutcomeUnchanged)
			nt.log.Debug("notification not needed: the status is already there", "sink", d.sink, "to", d.desc, "event", d.event.Type)
			return
		}
		if err == nil {
			nt.observe(d.sink, OutcomeDelivered)
			nt.log.Debug("notification delivered", "sink", d.sink, "to", d.desc, "event", d.event.Type, "attempt", attempt)
			return
		}
		if !retry || attempt >= nt.opts.Attempts || nt.ctx.Err() != nil {
			nt.observe(d.sink, OutcomeFailed)
			nt.log.Error("notification not delivered", "sink", d.sink, "to", d.desc, "event", d.event.Type, "attempts", attempt, "error", err)
			return
		}
		nt.observe(d.sink, OutcomeRetried)
		backoff := min(nt.opts.Backoff<<(attempt-1), nt.opts.MaxBackoff)
		backoff = backoff/2 + mathrand.N(backoff/2+1) // jitter: sinks failing together do not retry in step
		if wait > 0 {
			backoff = min(max(backoff, wait), nt.opts.MaxBackoff)
		}
		nt.log.Warn("notification attempt failed; retrying", "sink", d.sink, "to", d.desc, "event", d.event.Type, "attempt", attempt,
			"retryIn", backoff.String(), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-nt.ctx.Done():
			t.Stop()
		}
	}
}

func (nt *Notifier) observe(sink, outcome string) {
	if nt.opts.Observe != nil {
		nt.opts.Observe(sink, outcome)
	}
}

// attempt sends d once. retry says whether another attempt may succeed; wait is the receiver's
// Retry-After, if any.
func (nt *Notifier) attempt(d delivery) (wait time.Duration, retry bool, err error) {
	secret, err := nt.secret(d.secret)
	if err != nil {
		return 0, false, err // a missing secret does not appear by retrying in a second
	}
	target := d.url
	if target == "" {
		target = secret
		if u, perr := url.Parse(target); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return 0, false, fmt.Errorf("%s does not hold an http(s) URL", secretSource(d.secret))
		}
	}
	ctx, cancel := context.WithTimeout(nt.ctx, nt.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.body))
	if err != nil {
		return 0, false, scrub(fmt.Errorf("build request: %w", err), secret)
	}
	req.Header.Set("User-Agent", "objectstack-reconciler")
	d.auth(req.Header, secret, d.body)
	resp, err := nt.opts.Client.Do(req)
	if err != nil {
		// *url.Error names the URL, which for Slack is the secret: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", nt.opts.Timeout)
		}
		return 0, true, scrub(err, secret)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	if d.unchanged != nil && d.unchanged(resp.StatusCode, string(snippet)) {
		return 0, false, errUnchanged
	}
	err = scrub(fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet))), secret)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, true, err
	}
	return 0, false, err
}

// secret reads a secret reference now (files are re-read on every delivery, so a rotated secret is
// picked up without a restart).
func (nt *Notifier) secret(ref config.SecretRef) (string, error) {
	switch {
	case ref.File != "":
		b, err := os.ReadFile(ref.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("%s: read %s: %w", ref.Path+"File", ref.File, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s: %s is empty", ref.Path+"File", ref.File)
		}
		return s, nil
	case ref.Env != "":
		s := strings.TrimSpace(nt.opts.Getenv(ref.Env))
		if s == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set", ref.Path+"Env", ref.Env)
		}
		return s, nil
	}
	return "", fmt.Errorf("%s: no secret configured", ref.Path)
}

func secretSource(ref config.SecretRef) string {
	if ref.File != "" {
		return fmt.Sprintf("%sFile (%s)", ref.Path, ref.File)
	}
	return fmt.Sprintf("%sEnv (%s)", ref.Path, ref.Env)
}

// scrub replaces the secret wherever a message repeats it (a receiver echoing a header, a URL in an error).
func scrub(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, secret, "REDACTED"))
}
