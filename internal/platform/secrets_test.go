package platform_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// TestTursoSecretsNeverLeak runs a faulty sequence with debug logging, with servers that echo
// credentials back, and checks that neither the API token nor any minted JWT reaches a log
// line or an error.
func TestTursoSecretsNeverLeak(t *testing.T) {
	f := newFakeAPI(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newTurso(t, f, func(c *platform.TursoConfig) { c.Logger = logger })
	ctx := testCtx(t)
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	echo := func(code int) fault {
		return func(f *fakeAPI, w http.ResponseWriter, r *http.Request) bool {
			f.mu.Lock()
			minted := strings.Join(f.minted, " ")
			f.mu.Unlock()
			body := fmt.Sprintf(`{"error":"denied: Authorization: %s; api=%s; jwt %s"}`, r.Header.Get("Authorization"), f.apiToken, minted)
			return status(code, body)(f, w, r)
		}
	}

	f.inject("POST /databases", echo(500), dropBeforeResponse())
	_, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "leak"})
	record(err)
	tok, err := p.CreateToken(ctx, "leak", platform.TokenOptions{})
	record(err)
	f.inject("POST /databases/leak/auth/tokens", echo(502), applyThenDrop())
	tok2, err := p.CreateToken(ctx, "leak", platform.TokenOptions{Scope: platform.ScopeReadOnly})
	record(err)
	for _, code := range []int{400, 401, 403, 404, 409, 422, 500} {
		for range 6 {
			f.inject("GET /databases/leak", echo(code))
		}
		_, err := p.GetDatabase(ctx, "leak")
		record(err)
		f.inject("POST /databases", echo(code))
		_, err = p.CreateDatabase(ctx, platform.CreateOptions{Name: "leak"})
		record(err)
	}
	for range 6 {
		f.inject("POST /databases/leak/auth/rotate", echo(503))
	}
	record(p.RotateTokens(ctx, "leak"))
	logger.Info("caller logs a token", "token", tok, "tok2", tok2)
	record(fmt.Errorf("caller wraps %v and %+v", tok, tok2))

	f.mu.Lock()
	secrets := append([]string{f.apiToken}, f.minted...)
	f.mu.Unlock()
	if len(secrets) < 4 || tok.JWT == "" || tok2.JWT == "" {
		t.Fatalf("sequence minted too few tokens (%d) to prove anything", len(secrets)-1)
	}
	if len(errs) < 8 {
		t.Fatalf("only %d errors: the faults did not fire", len(errs))
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "denied") {
		t.Fatalf("debug logging did not record the faulty sequence:\n%s", logs.String())
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("secret %.12s… in logs", s)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), s) || strings.Contains(fmt.Sprintf("%+v", e), s) {
				t.Errorf("secret %.12s… in error %q", s, e.Error())
			}
		}
	}
	if !strings.Contains(logs.String(), platform.Redacted) {
		t.Error("nothing was redacted: the echoes never reached the logs")
	}
}

func TestTursoSecretsNotInLogsOnCancel(t *testing.T) {
	f := newFakeAPI(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newTurso(t, f, func(c *platform.TursoConfig) { c.Logger = logger })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.ListDatabases(ctx, "")
	if err == nil || strings.Contains(err.Error()+logs.String(), f.apiToken) {
		t.Fatalf("err %v logs %s", err, logs.String())
	}
}

// TestTursoSecretCutByMessageTruncationNeverLeaks: a long error body is shortened for the
// APIError; a secret straddling the cut must not survive as a recognisable prefix.
func TestTursoSecretCutByMessageTruncationNeverLeaks(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	ctx := testCtx(t)
	// 500 bytes of filler put the 32-byte API token across the 512-byte cut.
	body := fmt.Sprintf(`{"error":"%s%s tail"}`, strings.Repeat("x", 500), f.apiToken)
	f.inject("GET /databases/cut", status(http.StatusBadRequest, body))
	_, err := p.GetDatabase(ctx, "cut")
	if err == nil {
		t.Fatal("a 400 answered without error")
	}
	if prefix := f.apiToken[:10]; strings.Contains(err.Error(), prefix) {
		t.Fatalf("the first %d characters of the API token reached the error: %q", len(prefix), err.Error())
	}
	if !strings.Contains(err.Error(), platform.Redacted) {
		t.Fatalf("the echoed token was not redacted: %q", err.Error())
	}
}

// TestTursoConfigNeverPrintsToken: the config is the one place the API token sits in a plain
// field; every fmt verb (a caller's %#v debug print included) must keep it out.
func TestTursoConfigNeverPrintsToken(t *testing.T) {
	cfg := platform.TursoConfig{Organization: "acme", APIToken: "sk-config-token-0123456789"}
	wrapped := struct{ Turso platform.TursoConfig }{cfg}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg, &cfg, wrapped} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, cfg.APIToken) {
				t.Errorf("%s of %T prints the API token: %s", verb, v, out)
			}
		}
	}
}
