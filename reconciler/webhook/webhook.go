// Package webhook owns the push receivers: GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token) and a
// generic HMAC form (X-Signature: sha256=<hex>). A request that passes its check only wakes the reconciler;
// the payload is never parsed or trusted for content. Bursts coalesce in the Trigger: however many hooks
// arrive, at most one reconcile is pending while another runs.
//
// The receivers are unauthenticated until the signature is checked, so what a request costs before then
// is bounded: the signature header is validated before any body byte is read, the body is streamed through
// the HMAC (never buffered), it must arrive within BodyTimeout, and a Gate caps the hook requests in
// progress. 300 connections that each send 1 MiB and stall used to hold 300 MiB.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxBody is the largest payload accepted; larger ones get 413 before any signature work.
const MaxBody = 1 << 20

// BodyTimeout is how long a hook's body may take to arrive. GitHub and GitLab send a few KiB at once;
// a client trickling a body only holds a Gate slot this long.
const BodyTimeout = 10 * time.Second

// bodyTimeout is BodyTimeout; tests shorten it.
var bodyTimeout = BodyTimeout

// DefaultConcurrency is the number of hook requests a Gate lets in at once.
const DefaultConcurrency = 32

// Kind is a receiver flavour.
type Kind string

// Receiver kinds, also their URL path under /hook/.
const (
	GitHub  Kind = "github"
	GitLab  Kind = "gitlab"
	Generic Kind = "generic"
)

// Result labels for the requests metric.
const (
	ResultAccepted     = "accepted"
	ResultUnauthorized = "unauthorized"
	ResultTooLarge     = "too_large"
	ResultBadRequest   = "bad_request"
	ResultDisabled     = "disabled"
	ResultBusy         = "busy"
)

// Receiver verifies hooks of one kind with one secret.
type Receiver struct {
	Kind   Kind
	secret []byte
	// Wake is called for every verified request; it must not block (Trigger.Wake does not).
	Wake func()
	// Observe, if set, is told the result of every request (for metrics).
	Observe func(kind Kind, result string)
}

// SecretFrom reads a secret from file (trimmed), else from the environment variable env. Empty means none.
func SecretFrom(file, env string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read webhook secret file %s: %w", file, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, fmt.Errorf("webhook secret file %s is empty", file)
		}
		return []byte(s), nil
	}
	if env != "" {
		if s := strings.TrimSpace(os.Getenv(env)); s != "" {
			return []byte(s), nil
		}
	}
	return nil, nil
}

// NewReceiver returns a receiver; an empty secret is refused, because an unsigned hook would let anyone
// trigger reconciles.
func NewReceiver(kind Kind, secret []byte, wake func()) (*Receiver, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("webhook %s: a secret is required", kind)
	}
	switch kind {
	case GitHub, GitLab, Generic:
	default:
		return nil, fmt.Errorf("webhook: unknown kind %q", kind)
	}
	return &Receiver{Kind: kind, secret: append([]byte(nil), secret...), Wake: wake}, nil
}

func (r *Receiver) done(w http.ResponseWriter, code int, result, msg string) {
	if r.Observe != nil {
		r.Observe(r.Kind, result)
	}
	http.Error(w, msg, code)
}

// ServeHTTP checks method, size and signature, then wakes the reconciler and answers 202. The body is read
// only for the HMAC kinds, after their header parsed, straight into the MAC.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.done(w, http.StatusMethodNotAllowed, ResultBadRequest, "POST only")
		return
	}
	if req.ContentLength > MaxBody {
		r.done(w, http.StatusRequestEntityTooLarge, ResultTooLarge, "payload too large")
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	var ok bool
	switch r.Kind {
	case GitLab:
		// The token is a header: the payload is not needed at all.
		tok := req.Header.Get("X-Gitlab-Token")
		ok = tok != "" && subtle.ConstantTimeCompare([]byte(tok), r.secret) == 1
	case GitHub, Generic:
		header := "X-Signature"
		if r.Kind == GitHub {
			header = "X-Hub-Signature-256"
		}
		want, valid := parseSignature(req.Header.Get(header))
		if !valid {
			break
		}
		got, err := streamHMAC(r.secret, http.MaxBytesReader(w, req.Body, MaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				r.done(w, http.StatusRequestEntityTooLarge, ResultTooLarge, "payload too large")
				return
			}
			r.done(w, http.StatusBadRequest, ResultBadRequest, "could not read the payload")
			return
		}
		ok = hmac.Equal(got, want)
	}
	if !ok {
		r.done(w, http.StatusUnauthorized, ResultUnauthorized, "invalid or missing signature")
		return
	}
	if r.Observe != nil {
		r.Observe(r.Kind, ResultAccepted)
	}
	if r.Wake != nil {
		r.Wake()
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "reconcile requested\n")
}

// parseSignature decodes a "sha256=<64 hex digits>" header into the 32-byte MAC it carries.
func parseSignature(header string) ([]byte, bool) {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, false
	}
	mac, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, false
	}
	return mac, true
}

// streamHMAC is HMAC-SHA256(secret, everything r yields), read in small pieces.
func streamHMAC(secret []byte, r io.Reader) ([]byte, error) {
	m := hmac.New(sha256.New, secret)
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	if _, err := io.CopyBuffer(m, r, *buf); err != nil {
		return nil, err
	}
	return m.Sum(nil), nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// verifyHMAC checks a "sha256=<hex>" header against HMAC-SHA256(secret, body) in constant time.
func verifyHMAC(secret, body []byte, header string) bool {
	want, ok := parseSignature(header)
	return ok && hmac.Equal(want, Sign(secret, body))
}

// Gate caps the hook requests in progress across receivers; the rest get 503 at once, before their body is
// read (GitHub shows the failed delivery; the polling interval still picks the push up).
type Gate struct {
	slots   chan struct{}
	Observe func(kind Kind, result string)
}

// NewGate lets n hook requests in at once (DefaultConcurrency when n ≤ 0).
func NewGate(n int) *Gate {
	if n <= 0 {
		n = DefaultConcurrency
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// Wrap returns h behind the gate.
func (g *Gate) Wrap(kind Kind, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case g.slots <- struct{}{}:
			defer func() { <-g.slots }()
			h.ServeHTTP(w, req)
		default:
			if g.Observe != nil {
				g.Observe(kind, ResultBusy)
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many webhook requests in progress", http.StatusServiceUnavailable)
		}
	})
}

// Sign returns HMAC-SHA256(secret, body); senders put "sha256=" + hex of it in the signature header.
func Sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// Trigger coalesces wake-ups: Wake never blocks, and any number of wakes while a run is pending or running
// collapse into one more run. Settle waits for a quiet period (capped by MaxDelay) before a run starts, so
// a burst of pushes or hook retries becomes one reconcile.
type Trigger struct {
	ch       chan struct{}
	Settle   time.Duration
	MaxDelay time.Duration
}

// NewTrigger returns a trigger with the given quiet period (0 = run at once) and a cap of 10× settle.
func NewTrigger(settle time.Duration) *Trigger {
	return &Trigger{ch: make(chan struct{}, 1), Settle: settle, MaxDelay: 10 * settle}
}

// Wake requests a run. It never blocks.
func (t *Trigger) Wake() {
	select {
	case t.ch <- struct{}{}:
	default: // a run is already pending
	}
}

// C is the channel a loop selects on; after receiving, call Drain.
func (t *Trigger) C() <-chan struct{} { return t.ch }

// Drain waits until no wake arrived for Settle (or MaxDelay passed), swallowing the wakes of the burst.
func (t *Trigger) Drain(ctx context.Context) {
	if t.Settle <= 0 {
		return
	}
	deadline := time.NewTimer(t.MaxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(t.Settle)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-quiet.C:
			return
		case <-t.ch:
			// Go ≥ 1.23 timers: Reset discards any pending fire, no drain needed.
			quiet.Reset(t.Settle)
		}
	}
}
