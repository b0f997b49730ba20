package tenant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// leakCheck gathers what a fault path showed or kept — returned errors, results, logs, registry rows,
// files under the data dir — and the tokens minted along the way, then asserts no secret is in any of
// it. Every fault-path test uses one: errors are where a careless wrap puts a token, and the happy-path
// secret test never sees them.
type leakCheck struct {
	mu     sync.Mutex
	texts  []string
	tokens []string
}

// add records values as a user could see them: %v, %+v and JSON.
func (c *leakCheck) add(vs ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range vs {
		if v == nil {
			continue
		}
		b, _ := json.Marshal(v)
		c.texts = append(c.texts, fmt.Sprintf("%v | %+v | %s", v, v, b))
	}
}

// tap wraps a proxy so that every database token the Platform API hands out is known to the check.
func (c *leakCheck) tap(rp *httputil.ReverseProxy) {
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/auth/tokens") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return err
		}
		var m struct{ JWT string }
		if json.Unmarshal(body, &m) == nil && m.JWT != "" {
			c.mu.Lock()
			c.tokens = append(c.tokens, m.JWT)
			c.mu.Unlock()
		}
		return nil
	}
}

// assertClean adds the logs, every registry row and every file under the data dir, then fails on any
// minted token, the Platform API token, or anything shaped like a JWT.
func (c *leakCheck) assertClean(t *testing.T, e *env, s *tenant.Service) {
	t.Helper()
	ctx := context.Background()
	if rows, err := s.List(ctx, tenant.Filter{}); err == nil {
		for _, r := range rows {
			c.add(r)
		}
	} else {
		t.Errorf("list tenants: %v", err)
	}
	c.add(e.logs.String())
	files := 0
	err := filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		c.mu.Lock()
		c.texts = append(c.texts, p+": "+string(b))
		c.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if files == 0 {
		t.Fatal("no file under the data dir: the check saw no stored rows")
	}
	secrets := append([]string{testAPIToken}, c.tokens...)
	for _, text := range c.texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("a secret (%.12s…) leaked into: %.300q", s, text)
			}
		}
		if m := jwtShape.FindString(text); m != "" {
			t.Fatalf("a JWT-shaped string leaked into: %.300q", text)
		}
	}
}

// TestFailuresAfterTheTokenIsMintedLeakNothing: the steps after create_database run holding the minted
// full-access token — claiming the database, syncing the schema, seeding. Each is made to fail in turn
// by a proxy that breaks the Hrana request carrying its SQL; the failure is recorded (steps, error,
// registry row, logs) and none of it may carry the token. A build that wraps the token into a failed
// step's error passed every earlier test.
func TestFailuresAfterTheTokenIsMintedLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		step    string
		markers []string // a Hrana request holding all of these is broken
		// adopt: the database exists (empty) before the run, so provisioning takes the careful path whose
		// schema sync and seeding are requests of their own; a freshly created database gets its marker,
		// schema and seeds in the one request the create_database step sends.
		adopt bool
	}{
		{tenant.StepCreateDatabase, []string{"_objectstack_tenant"}, false}, // claiming ownership, after the token is minted
		{tenant.StepSyncSchema, []string{"CREATE TABLE", "obj_00"}, true},
		{tenant.StepSeedData, []string{`INSERT INTO \"obj_00\"`}, true}, // the quotes as JSON carries them
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			e := newEnv(t, "local") // for its logger; the platform is replaced below
			dev, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), APIToken: testAPIToken, Logger: e.logger})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dev.Stop)
			target, _ := url.Parse(dev.URL)
			rp := httputil.NewSingleHostReverseProxy(target)
			rp.ErrorLog = log.New(io.Discard, "", 0)
			check := &leakCheck{}
			check.tap(rp)
			var broken atomic.Bool
			broken.Store(true)
			var hit atomic.Int64
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if broken.Load() && strings.HasSuffix(r.URL.Path, "/v2/pipeline") {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					all := true
					for _, m := range tc.markers {
						all = all && bytes.Contains(body, []byte(m))
					}
					if all {
						hit.Add(1)
						http.Error(w, `{"error":"storage node unavailable"}`, http.StatusBadGateway)
						return
					}
				}
				rp.ServeHTTP(w, r)
			}))
			t.Cleanup(proxy.Close)
			e.plat = newTurso(t, proxy.URL, e.logger, -1)
			s := e.service(t)
			if tc.adopt {
				if _, err := e.plat.CreateDatabase(ctx, platform.CreateOptions{Name: s.DatabaseName("leaky")}); err != nil {
					t.Fatal(err)
				}
			}

			res, err := s.Provision(ctx, withBundle(req("leaky"), testBundle(2, true)))
			if err == nil || res == nil || res.Status != tenant.StatusFailed || hit.Load() == 0 {
				t.Fatalf("the run did not fail at %s: %v %+v (%d requests broken)", tc.step, err, res, hit.Load())
			}
			failed := ""
			for _, st := range res.Steps {
				if st.Status == tenant.StepFailed {
					failed = st.Name
				}
			}
			if failed != tc.step {
				t.Fatalf("failed step %q, want %q: %+v", failed, tc.step, res.Steps)
			}
			if len(check.tokens) == 0 {
				t.Fatal("no token was minted before the failure: the test proved nothing")
			}
			check.add(err, err.Error(), errors.Unwrap(err), res)
			if tn, gerr := s.Get(ctx, "leaky"); gerr == nil {
				check.add(tn)
			}
			// The next run, with the platform healthy, resumes and completes; it leaks nothing either.
			broken.Store(false)
			res, err = s.Provision(ctx, withBundle(req("leaky"), testBundle(2, true)))
			check.add(res, err)
			if err != nil || res.Status != tenant.StatusActive {
				t.Fatalf("resumed run: %v %+v", err, res)
			}
			check.assertClean(t, e, s)
		})
	}
}
