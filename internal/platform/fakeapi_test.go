package platform_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a scripted stand-in for the Turso Platform API used only for exact error shapes
// and fault injection; the full behaviour is tested against objectstack dev. Unscripted calls
// get minimal Turso-shaped behaviour so create/adopt flows have something to find.
type fakeAPI struct {
	t        *testing.T
	srv      *httptest.Server
	org      string
	apiToken string

	mu       sync.Mutex
	dbs      map[string]map[string]any
	script   map[string][]fault
	calls    map[string]int
	log      []string // "METHOD /path?query" in arrival order
	bodies   map[string][]string
	minted   []string
	pageSize int
}

// fault answers one call; it returns false to fall through to the default behaviour.
type fault func(f *fakeAPI, w http.ResponseWriter, r *http.Request) bool

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{
		t: t, org: "acme", apiToken: "sk-platform-api-token-0123456789",
		dbs: map[string]map[string]any{}, script: map[string][]fault{},
		calls: map[string]int{}, bodies: map[string][]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// key is "METHOD /path" with the /v1/organizations/<org> prefix removed.
func (f *fakeAPI) inject(key string, faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[key] = append(f.script[key], faults...)
}

func (f *fakeAPI) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/v1/organizations/" + f.org
	if !strings.HasPrefix(r.URL.Path, prefix) {
		http.Error(w, `{"error":"organization not found"}`, http.StatusNotFound)
		return
	}
	key := r.Method + " " + strings.TrimPrefix(r.URL.Path, prefix)
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	r.Body.Close()
	f.mu.Lock()
	f.calls[key]++
	f.log = append(f.log, key)
	f.bodies[key] = append(f.bodies[key], body.String())
	var next fault
	if s := f.script[key]; len(s) > 0 {
		next, f.script[key] = s[0], s[1:]
	}
	f.mu.Unlock()
	r.Body = nopBody{bytes.NewReader(body.Bytes())}
	if r.Header.Get("Authorization") != "Bearer "+f.apiToken {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid token"})
		return
	}
	if next != nil && next(f, w, r) {
		return
	}
	f.defaultHandler(w, r, strings.TrimPrefix(r.URL.Path, prefix))
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) jwt(exp time.Time) string {
	enc := base64.RawURLEncoding
	claims := map[string]any{"a": "rw", "n": len(f.minted)}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	c, _ := json.Marshal(claims)
	tok := enc.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString([]byte(fmt.Sprintf("sig-%d-0123456789abcdef", len(f.minted))))
	f.minted = append(f.minted, tok)
	return tok
}

func (f *fakeAPI) defaultHandler(w http.ResponseWriter, r *http.Request, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/databases":
		var req struct{ Name, Group string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]any{"error": "bad body"})
			return
		}
		if _, ok := f.dbs[req.Name]; ok {
			writeJSON(w, 409, map[string]any{"error": "database with name " + req.Name + " already exists"})
			return
		}
		db := map[string]any{"Name": req.Name, "DbId": fmt.Sprintf("id-%s-%d", req.Name, len(f.dbs)), "Hostname": req.Name + "-acme.aws-us-east-1.turso.io",
			"group": req.Group, "primaryRegion": "aws-us-east-1", "block_writes": false, "block_reads": false, "regions": []string{"aws-us-east-1"}}
		f.dbs[req.Name] = db
		writeJSON(w, 200, map[string]any{"database": map[string]any{"Name": db["Name"], "DbId": db["DbId"], "Hostname": db["Hostname"]}})
	case r.Method == http.MethodGet && path == "/databases":
		names := make([]string, 0, len(f.dbs))
		for n, db := range f.dbs {
			if g := r.URL.Query().Get("group"); g == "" || db["group"] == g {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			start = sort.SearchStrings(names, c)
		}
		end := len(names)
		resp := map[string]any{}
		if f.pageSize > 0 && start+f.pageSize < end {
			end = start + f.pageSize
			resp["pagination"] = map[string]any{"next": names[end]}
		}
		list := []any{}
		for _, n := range names[start:end] {
			list = append(list, f.dbs[n])
		}
		resp["databases"] = list
		writeJSON(w, 200, resp)
	case len(parts) >= 2 && parts[0] == "databases":
		db, ok := f.dbs[parts[1]]
		if !ok {
			writeJSON(w, 404, map[string]any{"error": "could not find database with name " + parts[1] + ": record not found"})
			return
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]any{"database": db})
		case len(parts) == 2 && r.Method == http.MethodDelete:
			delete(f.dbs, parts[1])
			writeJSON(w, 200, map[string]any{"database": parts[1]})
		case len(parts) == 4 && parts[3] == "tokens" && r.Method == http.MethodPost:
			var exp time.Time
			if e := r.URL.Query().Get("expiration"); e != "never" {
				exp = time.Now().Add(time.Hour)
			}
			writeJSON(w, 200, map[string]any{"jwt": f.jwt(exp)})
		case len(parts) == 4 && parts[3] == "rotate" && r.Method == http.MethodPost:
			w.WriteHeader(200)
		case len(parts) == 3 && parts[2] == "configuration" && r.Method == http.MethodPatch:
			var cfg map[string]any
			_ = json.NewDecoder(r.Body).Decode(&cfg)
			for k, v := range cfg {
				db[k] = v
			}
			writeJSON(w, 200, cfg)
		default:
			writeJSON(w, 404, map[string]any{"error": "no route"})
		}
	default:
		writeJSON(w, 404, map[string]any{"error": "no route"})
	}
}

// status answers with a status, a JSON body and optional header pairs.
func status(code int, body string, header ...string) fault {
	return func(_ *fakeAPI, w http.ResponseWriter, _ *http.Request) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// dropMidResponse sends headers and half a body, then cuts the connection.
func dropMidResponse() fault {
	return func(f *fakeAPI, w http.ResponseWriter, _ *http.Request) bool {
		hijack(f.t, w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"database\":{\"Na")
		return true
	}
}

// applyThenDrop performs the call (state changes) but the answer never arrives.
func applyThenDrop() fault {
	return func(f *fakeAPI, w http.ResponseWriter, r *http.Request) bool {
		rec := httptest.NewRecorder()
		f.defaultHandler(rec, r, strings.TrimPrefix(r.URL.Path, "/v1/organizations/"+f.org))
		hijack(f.t, w, "")
		return true
	}
}

// dropBeforeResponse cuts the connection without answering (and without applying the call).
func dropBeforeResponse() fault {
	return func(f *fakeAPI, w http.ResponseWriter, _ *http.Request) bool {
		hijack(f.t, w, "")
		return true
	}
}

func hijack(t *testing.T, w http.ResponseWriter, partial string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if partial != "" {
		_, _ = buf.WriteString(partial)
		_ = buf.Flush()
	}
	_ = conn.Close()
}
