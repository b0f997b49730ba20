package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces every secret in errors and log lines.
const Redacted = "REDACTED"

// jwtPattern matches anything shaped like a JWT (three base64url segments, the first two
// starting with '{"' encoded as "eyJ"), so tokens we never saw — echoed by a server or minted
// by a retry whose answer we lost — are scrubbed too.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// bearerPattern catches an Authorization header value a server might echo back.
var bearerPattern = regexp.MustCompile(`(?i)(bearer\s+)[^\s"',;]+`)

// maxRememberedSecrets bounds the exact-match list; older minted tokens still match jwtPattern.
const maxRememberedSecrets = 1024

// redactor scrubs known secrets (the API token, minted JWTs) and secret-shaped strings.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

func (r *redactor) add(secret string) {
	// Very short strings would scrub innocent text and are not credible secrets.
	if len(secret) < 8 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.secrets {
		if s == secret {
			return
		}
	}
	if len(r.secrets) >= maxRememberedSecrets {
		// Keep the first entry (the API token); drop the oldest minted token.
		r.secrets = append(r.secrets[:1], r.secrets[2:]...)
	}
	r.secrets = append(r.secrets, secret)
}

func (r *redactor) scrub(s string) string {
	r.mu.RLock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	r.mu.RUnlock()
	s = jwtPattern.ReplaceAllString(s, Redacted)
	return bearerPattern.ReplaceAllString(s, "${1}"+Redacted)
}

// redactedError carries a scrubbed message. It unwraps only to context errors so callers can
// still tell cancellation apart, without exposing an unscrubbed cause.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

func (r *redactor) wrapErr(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var cause error
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &redactedError{msg: r.scrub(prefix + ": " + err.Error()), cause: cause}
}

// redactingHandler scrubs the message and every attribute before the wrapped handler sees them,
// the handler-level equivalent of a ReplaceAttr that cannot be forgotten by a caller.
type redactingHandler struct {
	inner slog.Handler
	r     *redactor
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.scrub(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = h.attr(a)
	}
	return &redactingHandler{inner: h.inner.WithAttrs(scrubbed), r: h.r}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{inner: h.inner.WithGroup(name), r: h.r}
}

func (h *redactingHandler) attr(a slog.Attr) slog.Attr {
	a.Value = h.value(a.Value.Resolve())
	return a
}

func (h *redactingHandler) value(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(h.r.scrub(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = h.attr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.StringValue(h.r.scrub(x.Error()))
		case fmt.Stringer:
			return slog.StringValue(h.r.scrub(x.String()))
		default:
			return slog.StringValue(h.r.scrub(fmt.Sprint(x)))
		}
	default:
		return v
	}
}

// retryLogger adapts retryablehttp's leveled logger to slog. Its lines (request, retry,
// "request failed" for an attempt that will be retried) are transport chatter, so they all go
// to debug; the final outcome reaches the caller as an error.
type retryLogger struct{ l *slog.Logger }

func (r retryLogger) Error(msg string, kv ...any) { r.l.Debug("turso api: "+msg, kv...) }
func (r retryLogger) Info(msg string, kv ...any)  { r.l.Debug("turso api: "+msg, kv...) }
func (r retryLogger) Debug(msg string, kv ...any) { r.l.Debug("turso api: "+msg, kv...) }
func (r retryLogger) Warn(msg string, kv ...any)  { r.l.Debug("turso api: "+msg, kv...) }
