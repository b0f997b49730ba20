package tenant_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.`)

// TestNoSecretsInLogsOrStorage runs the whole lifecycle with debug logging everywhere (service,
// Turso client, dev server) and checks that neither the API token nor any minted database token
// shows up in the logs, in errors, in fmt output, or unencrypted in any file under the data dir.
func TestNoSecretsInLogsOrStorage(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			var secrets []string
			var texts []string
			keep := func(tok platform.Token) {
				if tok.JWT != "" {
					secrets = append(secrets, tok.JWT)
				}
				texts = append(texts, fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok))
			}
			mustProvision(t, ctx, s, withBundle(req("leak"), testBundle(2, true)))
			tok, err := s.Token(ctx, "leak", platform.ScopeFullAccess, "1h")
			if err != nil {
				t.Fatal(err)
			}
			keep(tok)
			if err := s.Suspend(ctx, "leak"); err != nil {
				t.Fatal(err)
			}
			ro, err := s.Token(ctx, "leak", platform.ScopeReadOnly, "")
			if err != nil {
				t.Fatal(err)
			}
			keep(ro)
			_, err = s.Token(ctx, "leak", platform.ScopeFullAccess, "")
			texts = append(texts, fmt.Sprint(err))
			if err := insert(ctx, openWith(t, e, mustGet(t, s, "leak"), tok), "x"); err != nil {
				texts = append(texts, err.Error()) // the refused write's error, token in hand
			}
			if err := s.Resume(ctx, "leak"); err != nil {
				t.Fatal(err)
			}
			again, err := s.Token(ctx, "leak", platform.ScopeFullAccess, "")
			if err != nil {
				t.Fatal(err)
			}
			keep(again)
			if _, err := s.CheckQuota(ctx, "leak", tenant.QuotaMaxObjects, 1); err != nil {
				t.Fatal(err)
			}
			if err := s.Destroy(ctx, "leak", tenant.DestroyOptions{Immediate: true, Backup: true}); err != nil {
				t.Fatal(err)
			}
			_, err = s.Token(ctx, "leak", platform.ScopeReadOnly, "")
			texts = append(texts, fmt.Sprint(err))
			if backend == "dev" {
				secrets = append(secrets, testAPIToken)
				if len(secrets) != 4 {
					t.Fatalf("expected 3 minted tokens plus the API token, got %d secrets", len(secrets))
				}
			}

			logs := e.logs.String()
			if !strings.Contains(logs, "tenant provisioning step") || !strings.Contains(logs, "level=DEBUG") {
				t.Fatal("debug logging did not capture the run; the test would prove nothing")
			}
			texts = append(texts, logs)
			files := 0
			err = filepath.WalkDir(e.dataDir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				files++
				texts = append(texts, path+":"+string(b))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if files < 3 { // control.db (+ WAL), secret.key, a backup
				t.Fatalf("only %d files under the data dir", files)
			}
			for _, text := range texts {
				for _, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Fatalf("a secret leaked into: %.200q", text)
					}
				}
				if m := jwtShape.FindString(text); m != "" {
					t.Fatalf("a JWT-shaped string leaked into: %.200q", text)
				}
			}
		})
	}
}

func mustGet(t *testing.T, s *tenant.Service, id string) *tenant.Tenant {
	t.Helper()
	tn, err := s.Get(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestSecretKeyFile(t *testing.T) {
	e := newEnv(t, "dev") // dev tokens are real, so a wrong key has something to fail on
	ctx := testCtx(t)
	t.Setenv(tenant.SecretKeyEnv, "")
	s := e.service(t)
	mustProvision(t, ctx, s, req("keyed"))
	fi, err := os.Stat(filepath.Join(e.dataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key mode %v, want 0600", fi.Mode().Perm())
	}
	// A second service on the same data dir reads the same key.
	s2 := e.service(t)
	if _, err := s2.DB(ctx, "keyed"); err != nil {
		t.Fatal(err)
	}
	// A wrong key from the environment fails clearly instead of handing out garbage.
	t.Setenv(tenant.SecretKeyEnv, strings.Repeat("ab", 32))
	s3 := e.service(t)
	if _, err := s3.DB(ctx, "keyed"); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Fatalf("wrong key: %v", err)
	}
	t.Setenv(tenant.SecretKeyEnv, "short")
	if _, err := tenant.Open(ctx, e.config()); err == nil || !strings.Contains(err.Error(), tenant.SecretKeyEnv) {
		t.Fatal("a malformed OBJECTSTACK_SECRET_KEY was accepted")
	}
}
