package devserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/sqlitefile"
)

// locations mirrors a subset of Turso's GET /v1/locations so region validation behaves alike.
var locations = map[string]string{
	"aws-ap-northeast-1": "AWS AP NorthEast (Tokyo)",
	"aws-ap-south-1":     "AWS AP South (Mumbai)",
	"aws-eu-west-1":      "AWS EU West (Ireland)",
	"aws-us-east-1":      "AWS US East (Virginia)",
	"aws-us-east-2":      "AWS US East (Ohio)",
	"aws-us-west-2":      "AWS US West (Oregon)",
}

const defaultLocation = "aws-us-east-1"

var nameRe = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	const o = "/v1/organizations/{org}"
	mux.HandleFunc("POST "+o+"/databases", s.apiAuth(s.createDatabase))
	mux.HandleFunc("GET "+o+"/databases", s.apiAuth(s.listDatabases))
	mux.HandleFunc("GET "+o+"/databases/{db}", s.apiAuth(s.getDatabase))
	mux.HandleFunc("DELETE "+o+"/databases/{db}", s.apiAuth(s.deleteDatabase))
	mux.HandleFunc("POST "+o+"/databases/{db}/auth/tokens", s.apiAuth(s.createToken))
	mux.HandleFunc("POST "+o+"/databases/{db}/auth/rotate", s.apiAuth(s.rotateTokens))
	mux.HandleFunc("GET "+o+"/databases/{db}/configuration", s.apiAuth(s.getConfiguration))
	mux.HandleFunc("PATCH "+o+"/databases/{db}/configuration", s.apiAuth(s.patchConfiguration))
	mux.HandleFunc("GET "+o+"/databases/{db}/usage", s.apiAuth(s.getUsage))
	mux.HandleFunc("GET "+o+"/databases/{db}/stats", s.apiAuth(s.getStats))
	mux.HandleFunc("GET "+o+"/groups", s.apiAuth(s.listGroups))
	mux.HandleFunc("POST "+o+"/groups", s.apiAuth(s.createGroup))
	mux.HandleFunc("GET "+o+"/groups/{group}", s.apiAuth(s.getGroup))
	mux.HandleFunc("DELETE "+o+"/groups/{group}", s.apiAuth(s.deleteGroup))
	mux.HandleFunc("GET /v1/locations", s.apiAuth(s.listLocations))
	s.groupRoutes(mux)
	mux.HandleFunc("GET /v1/auth/validate", s.apiAuth(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"exp": -1})
	}))

	mux.HandleFunc("POST /db/{name}/v2/pipeline", func(w http.ResponseWriter, r *http.Request) {
		s.handlePipeline(w, r, r.PathValue("name"))
	})
	mux.HandleFunc("POST /dev/{name}/v2/pipeline", func(w http.ResponseWriter, r *http.Request) {
		s.handlePipeline(w, r, r.PathValue("name"))
	})
	// The root: what Turso's clients reach given only the Hostname. A Host naming a database
	// (the old "<db>-<org>.local" scheme) routes there; anything else routes by the token.
	mux.HandleFunc("POST /v2/pipeline", func(w http.ResponseWriter, r *http.Request) {
		name, ok := s.databaseForHost(r.Host)
		if !ok {
			if name, ok = s.databaseForToken(w, r); !ok {
				return
			}
		}
		s.handlePipeline(w, r, name)
	})
	v2 := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Hello, this is HTTP API v2 (Hrana over HTTP)")
	}
	health := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	version := func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "objectstack-dev (development server, Hrana 2)")
	}
	mux.HandleFunc("GET /v2", v2)
	mux.HandleFunc("GET /db/{name}/v2", v2)
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /db/{name}/health", health)
	mux.HandleFunc("GET /version", version)
	mux.HandleFunc("GET /db/{name}/version", version)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: "+r.Method+" "+r.URL.Path)
	})
	return s.logRequests(mux)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, path, status and duration at debug level. Headers (and so tokens)
// are never logged.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), -4) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Debug("dev server request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes Turso's Platform API error body {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// apiAuth requires the Platform API bearer token.
func (s *Server) apiAuth(next http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.opts.APIToken))
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "missing or malformed Authorization header: expected \"Bearer <api token>\"")
			return
		}
		if s.opts.APIToken != "" {
			got := sha256.Sum256([]byte(tok))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				writeError(w, http.StatusUnauthorized, "token is invalid or expired")
				return
			}
		}
		next(w, r)
	}
}

// decodeBody decodes the JSON request body (at most 1 MiB) into v, answering 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return false
	}
	return true
}

// validName answers 400 unless name is a valid database or group name; what says which, as Turso's message does.
func validName(w http.ResponseWriter, what, name string) bool {
	if nameRe.MatchString(name) {
		return true
	}
	writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s name %q: a name may contain only lowercase letters, numbers and dashes, and be at most 64 characters long", what, name))
	return false
}

// lookupLocked returns the database named in the path if it belongs to the path's organization, and answers 404
// otherwise, so that another organization's database is indistinguishable from a missing one. The caller holds s.mu.
func (s *Server) lookupLocked(w http.ResponseWriter, r *http.Request) *dbEntry {
	e := s.dbs[r.PathValue("db")]
	if e == nil || e.org != r.PathValue("org") {
		writeError(w, http.StatusNotFound, fmt.Sprintf("could not find database with name %s: record not found", r.PathValue("db")))
		return nil
	}
	return e
}

// lookup is lookupLocked for handlers that do their work without holding s.mu. gen is the database's token
// generation, which only s.mu guards.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (e *dbEntry, gen int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e = s.lookupLocked(w, r); e == nil {
		return nil, 0
	}
	return e, e.gen
}

func (s *Server) databaseJSON(r *http.Request, e *dbEntry) map[string]any {
	loc := defaultLocation
	if g := s.groups[groupKey(e.org, e.group)]; g != nil {
		loc = g.location
	}
	return map[string]any{
		"Name":              e.name,
		"DbId":              e.dbID,
		"Hostname":          s.hostnameFor(r),
		"Url":               DatabaseURL(s.baseURL(r), e.name),
		"block_reads":       e.cfg.BlockReads,
		"block_writes":      e.cfg.BlockWrites,
		"allow_attach":      false,
		"regions":           []string{loc},
		"primaryRegion":     loc,
		"type":              "logical",
		"version":           "objectstack-dev",
		"group":             e.group,
		"is_schema":         false,
		"schema":            "",
		"archived":          false,
		"sleeping":          false,
		"delete_protection": e.cfg.DeleteProtection,
		"parent":            nil,
	}
}

// groupExistsLocked reports whether group g exists in org; "default" always does.
func (s *Server) groupExistsLocked(org, g string) bool {
	return g == "default" || s.groups[groupKey(org, g)] != nil
}

func (s *Server) createDatabase(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	var body struct {
		Name      string          `json:"name"`
		Group     string          `json:"group"`
		SizeLimit json.RawMessage `json:"size_limit"`
		Seed      *struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Value     string `json:"value"`
			Timestamp string `json:"timestamp"`
		} `json:"seed"`
	}
	if !decodeBody(w, r, &body) || !validName(w, "database", body.Name) {
		return
	}
	if body.Group == "" {
		body.Group = "default"
	}
	limit, err := parseSizeLimit(body.SizeLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var seedFrom string
	var seedAt *time.Time
	if body.Seed != nil {
		if body.Seed.Type != "database" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("seed type %q is not supported by the development server (only \"database\")", body.Seed.Type))
			return
		}
		if body.Seed.Timestamp != "" {
			t, err := parseSeedTimestamp(body.Seed.Timestamp)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			seedAt = &t
		}
		seedFrom = body.Seed.Name
		if seedFrom == "" {
			seedFrom = body.Seed.Value
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.groupExistsLocked(org, body.Group) {
		writeError(w, http.StatusBadRequest, "group not found")
		return
	}
	if s.dbs[body.Name] != nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("database with name %s already exists", body.Name))
		return
	}
	var srcPath string
	if seedFrom != "" {
		src := s.dbs[seedFrom]
		if src == nil || src.org != org {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("could not find database with name %s: record not found", seedFrom))
			return
		}
		srcPath = src.path
		if seedAt != nil {
			var msg string
			if srcPath, msg = s.pointInTime(src, *seedAt); srcPath == "" {
				writeError(w, http.StatusBadRequest, msg)
				return
			}
		}
	}
	e := &dbEntry{name: body.Name, org: org, dbID: newUUID(), group: body.Group, createdAt: time.Now().UTC(),
		path: databasePath(s.opts.DataDir, body.Name), cfg: dbConfig{SizeLimit: limit}}
	if err := s.createFile(r.Context(), e, srcPath); err != nil {
		s.log.Error("create database file", "database", e.name, "err", err)
		writeError(w, http.StatusInternalServerError, "create database "+e.name+": "+err.Error())
		return
	}
	if err := s.reg.insertDatabase(r.Context(), e); err != nil {
		_ = sqlitefile.Remove(e.path)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.dbs[e.name] = e
	s.log.Info("database created", "org", org, "database", e.name, "group", e.group)
	writeJSON(w, http.StatusOK, map[string]any{"database": map[string]any{
		"DbId": e.dbID, "Hostname": s.hostnameFor(r), "Name": e.name, "Url": DatabaseURL(s.baseURL(r), e.name),
	}})
}

// createFile creates e's SQLite file in WAL mode, copying the database file at src (VACUUM INTO)
// when seeding: another database, or a point-in-time snapshot of one (seed.go).
func (s *Server) createFile(ctx context.Context, e *dbEntry, src string) error {
	// A file left behind by an interrupted create or delete is not a database we know about.
	if err := sqlitefile.Remove(e.path); err != nil {
		return err
	}
	if src != "" {
		if err := s.copyDatabase(ctx, src, e.path); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		// A byte copy of a WAL-mode database is in WAL mode already (the mode is in the file header);
		// opening it to say so again would parse its whole schema for nothing.
		if wal, err := sqlitefile.WALMode(e.path); err != nil {
			_ = sqlitefile.Remove(e.path)
			return fmt.Errorf("seed: %w", err)
		} else if wal {
			return nil
		}
	}
	c, err := openSQLite(e.path, int(s.opts.BusyTimeout/time.Millisecond))
	if err != nil {
		return err
	}
	defer c.close()
	return c.execScript(ctx, "PRAGMA journal_mode=WAL")
}

// listDatabases lists an organization's databases by name, optionally filtered by ?group=.
// The undocumented ?limit=&cursor= paging of the real API is honoured: the cursor is the last
// name of the previous page.
func (s *Server) listDatabases(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	org, group, cursor := r.PathValue("org"), q.Get("group"), q.Get("cursor")
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid limit %q: must be a positive integer", v))
			return
		}
		limit = n
	}
	s.mu.RLock()
	out := []map[string]any{}
	var names []string
	for n, e := range s.dbs {
		if e.org == org && (group == "" || e.group == group) && n > cursor {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var next any
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		next = names[limit-1]
	}
	for _, n := range names {
		out = append(out, s.databaseJSON(r, s.dbs[n]))
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"databases": out, "pagination": map[string]any{"next": next}})
}

func (s *Server) getDatabase(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.lookupLocked(w, r)
	if e == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"database": s.databaseJSON(r, e)})
}

func (s *Server) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookupLocked(w, r)
	if e == nil {
		return
	}
	if e.cfg.DeleteProtection {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("database %s has delete protection enabled; disable it in its configuration first", e.name))
		return
	}
	if err := s.reg.deleteDatabase(r.Context(), e.name); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	delete(s.dbs, e.name)
	// Wait for running requests, then drop every stream and connection before the files go.
	e.use.Lock()
	e.poolMu.Lock()
	e.deleted = true
	e.poolMu.Unlock()
	var victims []*stream
	s.streamsMu.Lock()
	for id, st := range s.streams {
		if st.db == e {
			delete(s.streams, id)
			victims = append(victims, st)
		}
	}
	s.streamsMu.Unlock()
	for _, st := range victims {
		st.mu.Lock()
		s.releaseStream(st)
		st.mu.Unlock()
	}
	e.closeIdle()
	err := sqlitefile.Remove(e.path)
	s.dropHistory(e.name)
	e.use.Unlock()
	if err != nil {
		s.log.Warn("remove database files", "database", e.name, "err", err)
	}
	s.log.Info("database deleted", "org", e.org, "database", e.name)
	writeJSON(w, http.StatusOK, map[string]any{"database": e.name})
}

// tokenRequest reads a token request's expiration and authorization query parameters, answering
// Turso's 400 when one is invalid.
func tokenRequest(w http.ResponseWriter, r *http.Request) (exp *time.Time, readOnly, ok bool) {
	q := r.URL.Query()
	exp, err := parseExpiration(q.Get("expiration"), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid expiration format")
		return nil, false, false
	}
	switch a := q.Get("authorization"); a {
	case "", "full-access":
	case "read-only":
		readOnly = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid authorization %q: must be full-access or read-only", a))
		return nil, false, false
	}
	return exp, readOnly, true
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	exp, readOnly, ok := tokenRequest(w, r)
	if !ok {
		return
	}
	e, gen := s.lookup(w, r)
	if e == nil {
		return
	}
	jwtStr, err := s.tokens.mint(e, gen, readOnly, exp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not create token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"jwt": jwtStr})
}

func (s *Server) rotateTokens(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookupLocked(w, r)
	if e == nil {
		return
	}
	if err := s.reg.updateDatabase(r.Context(), e.name, e.cfg, e.gen+1); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	e.gen++
	// The database's group shares its signing keys on Turso: its group tokens go too.
	if err := s.bumpGroupGenLocked(r.Context(), e.org, e.group); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("database tokens rotated", "database", e.name)
	w.WriteHeader(http.StatusOK)
}

func configJSON(c dbConfig) map[string]any {
	limit := ""
	if c.SizeLimit > 0 {
		limit = strconv.FormatInt(c.SizeLimit, 10)
	}
	return map[string]any{
		"size_limit":        limit,
		"allow_attach":      false,
		"block_reads":       c.BlockReads,
		"block_writes":      c.BlockWrites,
		"delete_protection": c.DeleteProtection,
	}
}

func (s *Server) getConfiguration(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.lookupLocked(w, r)
	if e == nil {
		return
	}
	writeJSON(w, http.StatusOK, configJSON(e.cfg))
}

func (s *Server) patchConfiguration(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SizeLimit        json.RawMessage `json:"size_limit"`
		AllowAttach      *bool           `json:"allow_attach"`
		BlockReads       *bool           `json:"block_reads"`
		BlockWrites      *bool           `json:"block_writes"`
		DeleteProtection *bool           `json:"delete_protection"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.AllowAttach != nil && *body.AllowAttach {
		writeError(w, http.StatusBadRequest, "allow_attach is not supported by the development server")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookupLocked(w, r)
	if e == nil {
		return
	}
	cfg := e.cfg
	if len(body.SizeLimit) > 0 && string(body.SizeLimit) != "null" {
		limit, err := parseSizeLimit(body.SizeLimit)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		cfg.SizeLimit = limit
	}
	if body.BlockReads != nil {
		cfg.BlockReads = *body.BlockReads
	}
	if body.BlockWrites != nil {
		cfg.BlockWrites = *body.BlockWrites
	}
	if body.DeleteProtection != nil {
		cfg.DeleteProtection = *body.DeleteProtection
	}
	if err := s.reg.updateDatabase(r.Context(), e.name, cfg, e.gen); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	e.cfg = cfg
	writeJSON(w, http.StatusOK, configJSON(cfg))
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range []string{"from", "to"} {
		if v := q.Get(k); v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s: must be an RFC 3339 timestamp", k))
				return
			}
		}
	}
	e, _ := s.lookup(w, r)
	if e == nil {
		return
	}
	u := map[string]int64{
		"rows_read": e.rowsRead.Load(), "rows_written": e.rowsWritten.Load(),
		"storage_bytes": fileSize(e.path), "bytes_synced": 0,
	}
	writeJSON(w, http.StatusOK, map[string]any{"database": map[string]any{
		"uuid": e.dbID, "instances": []map[string]any{{"uuid": e.dbID, "usage": u}}, "total": u,
	}})
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	e, _ := s.lookup(w, r)
	if e == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"top_queries": nil})
}

func (s *Server) groupJSON(org, name string) map[string]any {
	uuid, loc := defaultGroupUUID(org), defaultLocation
	if g := s.groups[groupKey(org, name)]; g != nil {
		uuid, loc = g.uuid, g.location
	}
	st := s.groupStateLocked(org, name)
	return map[string]any{
		"name": name, "uuid": uuid, "primary": loc, "locations": append([]string{loc}, st.locations...),
		"version": "objectstack-dev", "delete_protection": st.deleteProtection, "archived": false,
	}
}

// defaultGroupUUID is stable per organization so the implicit default group has a fixed id.
func defaultGroupUUID(org string) string {
	h := sha256.Sum256([]byte("default-group/" + org))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	s.mu.RLock()
	names := []string{"default"}
	for _, g := range s.groups {
		if g.org == org {
			names = append(names, g.name)
		}
	}
	slices.Sort(names)
	out := []map[string]any{}
	for _, n := range names {
		out = append(out, s.groupJSON(org, n))
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	var body struct {
		Name     string `json:"name"`
		Location string `json:"location"`
	}
	if !decodeBody(w, r, &body) || !validName(w, "group", body.Name) {
		return
	}
	if body.Location == "" {
		body.Location = defaultLocation
	}
	if _, ok := locations[body.Location]; !ok {
		writeError(w, http.StatusBadRequest, "invalid location: "+body.Location)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groupExistsLocked(org, body.Name) {
		writeError(w, http.StatusConflict, "group already exists")
		return
	}
	g := &groupEntry{org: org, name: body.Name, uuid: newUUID(), location: body.Location, createdAt: time.Now().UTC()}
	if err := s.reg.insertGroup(r.Context(), g); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.groups[groupKey(org, g.name)] = g
	writeJSON(w, http.StatusOK, map[string]any{"group": s.groupJSON(org, g.name)})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	org, name, ok := s.pathGroupLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": s.groupJSON(org, name)})
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, name, ok := s.pathGroupLocked(w, r)
	if !ok {
		return
	}
	if name == "default" {
		writeError(w, http.StatusBadRequest, "the default group cannot be deleted on the development server")
		return
	}
	if s.groupStateLocked(org, name).deleteProtection {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("group %s has delete protection enabled; disable it in its configuration first", name))
		return
	}
	for _, e := range s.dbs {
		if e.org == org && e.group == name {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("group %s still has databases (e.g. %s); delete them first", name, e.name))
			return
		}
	}
	resp := s.groupJSON(org, name)
	if err := s.reg.deleteGroup(r.Context(), org, name); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	delete(s.groups, groupKey(org, name))
	if err := s.reg.deleteGroupState(r.Context(), org, name); err != nil {
		s.log.Warn("remove group state", "group", name, "err", err)
	}
	delete(s.gstate, groupKey(org, name))
	writeJSON(w, http.StatusOK, map[string]any{"group": resp})
}

func (s *Server) listLocations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"locations": locations})
}

var sizeRe = regexp.MustCompile(`^(\d+)\s*(b|kb|mb|gb|tb)?$`)

// parseSizeLimit accepts Turso's size_limit: bytes as a string or number, or "500mb"/"1gb"
// (decimal units). Empty, null or 0 means no limit.
func parseSizeLimit(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return 0, errors.New("invalid size_limit: expected bytes or a size like \"256mb\"")
		}
		return n, nil
	}
	str = strings.ToLower(strings.TrimSpace(str))
	if str == "" {
		return 0, nil
	}
	m := sizeRe.FindStringSubmatch(str)
	if m == nil {
		return 0, fmt.Errorf("invalid size_limit %q: expected bytes or a size like \"256mb\"", str)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size_limit %q", str)
	}
	mult := map[string]int64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}[m[2]]
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size_limit %q: too large", str)
	}
	return n * mult, nil
}
