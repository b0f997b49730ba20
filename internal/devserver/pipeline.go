package devserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stream is one Hrana stream: a dedicated SQLite connection (opened lazily) that survives
// between HTTP requests, so BEGIN … COMMIT can span pipelines. Its baton carries the stream
// id and the sequence number of the next request; every response hands out a new baton and
// the old one stops working.
type stream struct {
	id uint64
	db *dbEntry

	mu       sync.Mutex // held for the whole of a request on the stream
	seq      uint64     // sequence number the next baton must carry
	conn     *sqliteConn
	closed   bool // released; the baton now answers STREAM_EXPIRED or "invalid baton"
	closing  bool // a close request ran in the current pipeline
	lastUsed time.Time
	sqls     map[int32]string
}

const batonMACLen = 16

func (s *Server) encodeBaton(id, seq uint64) string {
	var b [16 + batonMACLen]byte
	binary.BigEndian.PutUint64(b[0:8], id)
	binary.BigEndian.PutUint64(b[8:16], seq)
	m := hmac.New(sha256.New, s.batonKey)
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) decodeBaton(baton string) (id, seq uint64, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(baton)
	if err != nil || len(b) != 16+batonMACLen {
		return 0, 0, false
	}
	m := hmac.New(sha256.New, s.batonKey)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:batonMACLen], b[16:]) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint64(b[8:16]), true
}

func randomID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// acquireConn takes an idle SQLite connection of e, or opens one.
func (s *Server) acquireConn(e *dbEntry) (*sqliteConn, error) {
	e.poolMu.Lock()
	if n := len(e.idle); n > 0 {
		c := e.idle[n-1].conn
		e.idle = e.idle[:n-1]
		e.poolMu.Unlock()
		// A pooled connection keeps the schema it last saw. Statements notice a change through the schema
		// cookie and re-prepare, but some checks run on the cached schema at parse time and never retry
		// (ALTER TABLE … DROP COLUMN of a column another connection added says "no such column"), so read
		// the schema table once: its cookie check reloads a stale schema before the client's SQL runs.
		if err := c.execScript(context.Background(), "SELECT count(*) FROM sqlite_schema"); err != nil {
			c.close()
			return openSQLite(e.path, int(s.opts.BusyTimeout/time.Millisecond))
		}
		return c, nil
	}
	e.poolMu.Unlock()
	return openSQLite(e.path, int(s.opts.BusyTimeout/time.Millisecond))
}

// releaseConn rolls back anything left open and returns the connection to the pool, or closes
// it when it may carry state another stream must not see.
func (s *Server) releaseConn(e *dbEntry, c *sqliteConn) {
	if !c.autocommit() {
		if err := c.execScript(context.Background(), "ROLLBACK"); err != nil {
			c.dirty = true
		}
	}
	if c.resetForeignKeys && !c.dirty {
		if err := c.execScript(context.Background(), fmt.Sprintf("PRAGMA foreign_keys = %d", c.foreignKeys)); err != nil {
			c.dirty = true
		}
		c.resetForeignKeys = false
	}
	e.poolMu.Lock()
	keep := !c.dirty && len(e.idle) < s.opts.MaxIdleConnsPerDatabase && !e.deleted
	if keep {
		e.idle = append(e.idle, idleConn{conn: c, since: time.Now()})
	}
	e.poolMu.Unlock()
	if !keep {
		c.close()
	}
}

func (e *dbEntry) closeIdle() {
	e.poolMu.Lock()
	idle := e.idle
	e.idle = nil
	e.poolMu.Unlock()
	for _, ic := range idle {
		ic.conn.close()
	}
}

// idleConnTTL is how long a pooled connection may sit unused before the janitor closes it, so
// a server holding many databases does not keep files open for the ones nobody uses.
const idleConnTTL = 30 * time.Second

// reapIdle closes pooled connections unused since before cutoff. The pool is a stack (most
// recently returned last), so the stale ones are at the front.
func (e *dbEntry) reapIdle(cutoff time.Time) {
	e.poolMu.Lock()
	n := 0
	for n < len(e.idle) && e.idle[n].since.Before(cutoff) {
		n++
	}
	stale := append([]idleConn(nil), e.idle[:n]...)
	e.idle = append(e.idle[:0], e.idle[n:]...)
	e.poolMu.Unlock()
	for _, ic := range stale {
		ic.conn.close()
	}
}

// releaseStream frees a stream's connection; the caller holds st.mu and has removed st from
// the streams map.
func (s *Server) releaseStream(st *stream) {
	if st.closed {
		return
	}
	st.closed = true
	s.streamsMu.Lock()
	st.db.open--
	s.streamsMu.Unlock()
	if st.conn != nil {
		s.releaseConn(st.db, st.conn)
		st.conn = nil
	}
}

// janitor expires idle streams (rolling back their transactions) and forgets old expiries.
func (s *Server) janitor(ctx context.Context) {
	defer close(s.janitorDone)
	tick := min(max(s.opts.IdleTimeout/4, 5*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.expireIdle(now)
		}
	}
}

func (s *Server) expireIdle(now time.Time) {
	var victims []*stream
	s.streamsMu.Lock()
	for id, st := range s.streams {
		if !st.mu.TryLock() {
			continue // busy with a request, so not idle
		}
		if now.Sub(st.lastUsed) >= s.opts.IdleTimeout {
			delete(s.streams, id)
			s.expired[id] = now
			victims = append(victims, st)
			continue // stays locked until released below
		}
		st.mu.Unlock()
	}
	for id, at := range s.expired {
		if now.Sub(at) >= s.opts.ExpiredRetention {
			delete(s.expired, id)
		}
	}
	s.streamsMu.Unlock()
	for _, st := range victims {
		s.releaseStream(st)
		st.mu.Unlock()
		s.log.Debug("hrana stream expired", "database", st.db.name)
	}
	if now.Sub(s.lastReap) >= idleConnTTL/4 {
		s.lastReap = now
		s.mu.RLock()
		for _, e := range s.dbs {
			e.reapIdle(now.Add(-idleConnTTL))
		}
		s.mu.RUnlock()
	}
}

// hranaHTTPError writes a non-200 Hrana response. libsql-client-go reads {"error"} first;
// other clients read sqld's {"message","code"}: send all three.
func hranaHTTPError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]string{"error": msg, "message": msg}
	if code != "" {
		body["code"] = code
	}
	_ = json.NewEncoder(w).Encode(body)
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// handlePipeline serves POST …/v2/pipeline for database name.
func (s *Server) handlePipeline(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.RLock()
	e := s.dbs[name]
	var cfg dbConfig
	var gen int64
	var dbID string
	if e != nil {
		cfg, gen, dbID = e.cfg, e.gen, e.dbID
	}
	s.mu.RUnlock()
	if e == nil {
		hranaHTTPError(w, http.StatusNotFound, "NAMESPACE_DOESNT_EXIST", fmt.Sprintf("Namespace `%s` doesn't exist", name))
		return
	}
	tok := bearer(r)
	if tok == "" {
		hranaHTTPError(w, http.StatusUnauthorized, "AUTH_HEADER_NOT_FOUND", "Unauthorized: authorization header with a Bearer token is required")
		return
	}
	// A group token (groups.go) opens every database of its group; anything else must be this
	// database's own token.
	claims, err := s.tokens.verify(tok)
	if err != nil {
		hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: "+err.Error())
		return
	}
	readOnlyToken := claims.Access == "ro"
	if claims.GroupID != "" {
		if gerr := s.groupTokenOpens(claims, e); gerr != nil {
			hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: "+gerr.Error())
			return
		}
	} else {
		if claims.DB != name || claims.DBID != dbID {
			hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: the token is not valid for this database")
			return
		}
		if claims.Gen != gen {
			hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: the token was revoked (database credentials were rotated)")
			return
		}
	}
	budget := &respBudget{l: s.limits()}
	defer budget.release()
	acc := access{readOnlyToken: readOnlyToken, blockWrites: cfg.BlockWrites, blockReads: cfg.BlockReads, budget: budget}

	req, releaseSlot, ok := s.readPipeline(w, r)
	if !ok {
		return
	}
	defer releaseSlot()

	e.use.RLock()
	defer e.use.RUnlock()
	if e.deleted {
		hranaHTTPError(w, http.StatusNotFound, "NAMESPACE_DOESNT_EXIST", fmt.Sprintf("Namespace `%s` doesn't exist", name))
		return
	}

	closeOnly := len(req.Requests) > 0
	for _, rq := range req.Requests {
		if rq.Type != "close" {
			closeOnly = false
		}
	}

	var st *stream
	if req.Baton != nil && *req.Baton != "" {
		id, seq, ok := s.decodeBaton(*req.Baton)
		if !ok {
			hranaHTTPError(w, http.StatusBadRequest, "PROTOCOL_ERROR", "invalid baton")
			return
		}
		s.streamsMu.Lock()
		st = s.streams[id]
		_, wasExpired := s.expired[id]
		s.streamsMu.Unlock()
		if st == nil || st.db != e {
			switch {
			case closeOnly:
				// close is fire-and-forget in libsql-client-go; the stream is gone already.
				writeCloseOnly(w, len(req.Requests))
			case wasExpired:
				hranaHTTPError(w, http.StatusInternalServerError, "STREAM_EXPIRED", "The stream has expired due to inactivity")
			default:
				hranaHTTPError(w, http.StatusBadRequest, "PROTOCOL_ERROR", "invalid baton")
			}
			return
		}
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			if closeOnly {
				writeCloseOnly(w, len(req.Requests))
				return
			}
			hranaHTTPError(w, http.StatusInternalServerError, "STREAM_EXPIRED", "The stream has expired due to inactivity")
			return
		}
		if seq != st.seq {
			st.mu.Unlock()
			hranaHTTPError(w, http.StatusBadRequest, "PROTOCOL_ERROR", "Received an invalid baton: it was already used (each baton is valid for exactly one request)")
			return
		}
	} else {
		if closeOnly {
			writeCloseOnly(w, len(req.Requests))
			return
		}
		s.streamsMu.Lock()
		if e.open >= s.opts.MaxStreamsPerDatabase {
			s.streamsMu.Unlock()
			hranaHTTPError(w, http.StatusServiceUnavailable, "TOO_MANY_STREAMS",
				fmt.Sprintf("too many open streams for database %s (limit %d); close streams or wait for idle ones to expire", name, s.opts.MaxStreamsPerDatabase))
			return
		}
		id := randomID()
		for s.streams[id] != nil || id == 0 {
			id = randomID()
		}
		st = &stream{id: id, db: e}
		st.mu.Lock()
		s.streams[id] = st
		e.open++
		s.streamsMu.Unlock()
	}

	// st.mu is held from here on.
	writes := s.beforePipeline(r.Context(), e, req)
	body := s.runPipeline(r.Context(), st, req, acc, cfg)
	if writes {
		e.lastWrite.Store(time.Now().UnixNano())
	}
	req = nil // the decoded requests are not needed to write the response
	st.seq++
	st.lastUsed = time.Now()
	if r.Context().Err() != nil {
		// The client went away: the new baton can never reach it, so nobody can use this stream
		// again. Release it now (rolling back) rather than let its transaction hold the write lock,
		// failing every other writer with SQLITE_BUSY, until the stream idles out.
		st.closing = true
	}
	var baton string
	if st.closing {
		s.streamsMu.Lock()
		delete(s.streams, st.id)
		s.streamsMu.Unlock()
		s.releaseStream(st)
	} else {
		baton = s.encodeBaton(st.id, st.seq)
	}
	st.mu.Unlock()
	writePipelineResponse(r.Context(), w, baton, body)
}

func writeCloseOnly(w http.ResponseWriter, n int) {
	var out bytes.Buffer
	out.WriteString(`{"baton":null,"base_url":null,"results":[`)
	for i := range n {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`{"type":"ok","response":{"type":"close"}}`)
	}
	out.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out.Bytes())
}

// runPipeline executes every request of the pipeline on st and returns the JSON results array.
func (s *Server) runPipeline(ctx context.Context, st *stream, req *pipelineRequest, acc access, cfg dbConfig) []byte {
	var out bytes.Buffer
	out.WriteByte('[')
	for i := range req.Requests {
		if i > 0 {
			out.WriteByte(',')
		}
		rq := &req.Requests[i]
		if st.closing {
			writeErrorResult(&out, protoErr("STREAM_CLOSED", "The stream was closed by an earlier request in this pipeline"))
			continue
		}
		if rq.Type == "execute" {
			// The common case is written straight into the results: no intermediate copy of
			// its rows (see limits.go for why memory per request matters).
			res, err := s.execute(ctx, st, rq, acc, cfg)
			if err != nil {
				writeErrorResult(&out, toHranaError(err))
				continue
			}
			out.WriteString(`{"type":"ok","response":{"type":"execute","result":`)
			out.Write(res)
			out.WriteString(`}}`)
			continue
		}
		resp, err := s.runRequest(ctx, st, rq, acc, cfg)
		if err != nil {
			writeErrorResult(&out, toHranaError(err))
			continue
		}
		out.WriteString(`{"type":"ok","response":`)
		out.Write(resp)
		out.WriteByte('}')
	}
	out.WriteByte(']')
	return out.Bytes()
}

func writeErrorResult(out *bytes.Buffer, he *hranaError) {
	b, _ := json.Marshal(he)
	out.WriteString(`{"type":"error","error":`)
	out.Write(b)
	out.WriteByte('}')
}

// conn returns the stream's connection, opening it on first use and applying the database's
// size limit (max_page_count) whenever it changed.
func (s *Server) conn(ctx context.Context, st *stream, cfg dbConfig) (*sqliteConn, error) {
	if st.conn == nil {
		c, err := s.acquireConn(st.db)
		if err != nil {
			return nil, err
		}
		st.conn = c
	}
	c := st.conn
	want := int64(0)
	if cfg.SizeLimit > 0 {
		pageSize, err := c.queryInt64("PRAGMA page_size")
		if err != nil || pageSize <= 0 {
			pageSize = 4096
		}
		want = max(cfg.SizeLimit/pageSize, 1)
	}
	if want != c.appliedPages {
		pages := want
		if pages == 0 {
			pages = 4294967294 // SQLite clamps this to its compile-time maximum
		}
		if err := c.execScript(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(pages, 10)); err != nil {
			return nil, err
		}
		c.appliedPages = want
	}
	return c, nil
}

func (s *Server) resolveSQL(st *stream, sql *string, id *int32) (string, error) {
	switch {
	case sql != nil && id != nil:
		return "", protoErr("PROTOCOL_ERROR", "Both sql and sql_id are given")
	case sql != nil:
		return *sql, nil
	case id != nil:
		q, ok := st.sqls[*id]
		if !ok {
			return "", protoErr("SQL_NOT_FOUND", "SQL text with id %d was not stored (store_sql) on this stream", *id)
		}
		return q, nil
	default:
		return "", protoErr("PROTOCOL_ERROR", "Either sql or sql_id is required")
	}
}

// sqlConn resolves a request's SQL text (inline or stored) before opening the stream's connection, so a bad
// request is refused without taking a connection.
func (s *Server) sqlConn(ctx context.Context, st *stream, sql *string, id *int32, cfg dbConfig) (string, *sqliteConn, error) {
	q, err := s.resolveSQL(st, sql, id)
	if err != nil {
		return "", nil, err
	}
	c, err := s.conn(ctx, st, cfg)
	if err != nil {
		return "", nil, err
	}
	return q, c, nil
}

func (s *Server) runRequest(ctx context.Context, st *stream, rq *streamRequest, acc access, cfg dbConfig) ([]byte, error) {
	switch rq.Type {
	case "close":
		st.closing = true
		return []byte(`{"type":"close"}`), nil
	case "execute":
		res, err := s.execute(ctx, st, rq, acc, cfg)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteString(`{"type":"execute","result":`)
		b.Write(res)
		b.WriteByte('}')
		return b.Bytes(), nil
	case "batch":
		if rq.Batch == nil {
			return nil, protoErr("PROTOCOL_ERROR", `batch request needs "batch"`)
		}
		return s.runBatch(ctx, st, rq.Batch, acc, cfg)
	case "sequence":
		q, c, err := s.sqlConn(ctx, st, rq.SQL, rq.SQLID, cfg)
		if err != nil {
			return nil, err
		}
		if err := s.runSequence(ctx, st, c, q, acc); err != nil {
			return nil, err
		}
		return []byte(`{"type":"sequence"}`), nil
	case "describe":
		q, c, err := s.sqlConn(ctx, st, rq.SQL, rq.SQLID, cfg)
		if err != nil {
			return nil, err
		}
		return describe(ctx, c, q, acc)
	case "store_sql":
		if rq.SQLID == nil || rq.SQL == nil {
			return nil, protoErr("PROTOCOL_ERROR", `store_sql needs "sql_id" and "sql"`)
		}
		if st.sqls == nil {
			st.sqls = map[int32]string{}
		}
		if _, dup := st.sqls[*rq.SQLID]; dup {
			return nil, protoErr("SQL_STORE_DUPLICATE", "SQL text with id %d is already stored", *rq.SQLID)
		}
		if len(st.sqls) >= 150 {
			return nil, protoErr("SQL_STORE_FULL", "Too many stored SQL texts on this stream (limit 150)")
		}
		st.sqls[*rq.SQLID] = *rq.SQL
		return []byte(`{"type":"store_sql"}`), nil
	case "close_sql":
		if rq.SQLID == nil {
			return nil, protoErr("PROTOCOL_ERROR", `close_sql needs "sql_id"`)
		}
		delete(st.sqls, *rq.SQLID)
		return []byte(`{"type":"close_sql"}`), nil
	case "get_autocommit":
		auto := true
		if st.conn != nil {
			auto = st.conn.autocommit()
		}
		return []byte(`{"type":"get_autocommit","is_autocommit":` + strconv.FormatBool(auto) + `}`), nil
	default:
		return nil, protoErr("PROTOCOL_ERROR", "Unknown request type %q", rq.Type)
	}
}

// execute runs an execute request and returns its StmtResult JSON.
func (s *Server) execute(ctx context.Context, st *stream, rq *streamRequest, acc access, cfg dbConfig) ([]byte, error) {
	if rq.Stmt == nil {
		return nil, protoErr("PROTOCOL_ERROR", `execute request needs "stmt"`)
	}
	q, c, err := s.sqlConn(ctx, st, rq.Stmt.SQL, rq.Stmt.SQLID, cfg)
	if err != nil {
		return nil, err
	}
	res, err := s.exec(ctx, st, c, q, rq.Stmt, acc)
	if err != nil {
		return nil, err
	}
	return res.json, nil
}

func (s *Server) exec(ctx context.Context, st *stream, c *sqliteConn, q string, sm *stmt, acc access) (*stmtResult, error) {
	res, err := execStmt(ctx, c, q, sm, acc)
	if err != nil {
		return nil, err
	}
	acc.budget.commit(len(res.json))
	st.db.rowsRead.Add(res.rowsRead)
	st.db.rowsWritten.Add(res.rowsWritten)
	return res, nil
}

func (s *Server) runBatch(ctx context.Context, st *stream, b *batch, acc access, cfg dbConfig) ([]byte, error) {
	n := len(b.Steps)
	// Validate every condition up front: a malformed batch runs nothing.
	okSteps, failed := make([]bool, n), make([]bool, n)
	for i := range b.Steps {
		if c := b.Steps[i].Condition; c != nil {
			if err := validateCond(c, i); err != nil {
				return nil, protoErr("PROTOCOL_ERROR", "batch step %d: %v", i, err)
			}
		}
	}
	var c *sqliteConn
	if n > 0 {
		var err error
		if c, err = s.conn(ctx, st, cfg); err != nil {
			return nil, err
		}
	}
	results := make([][]byte, n)
	errs := make([]*hranaError, n)
	for i := range b.Steps {
		step := &b.Steps[i]
		if step.Condition != nil {
			run, err := evalCond(step.Condition, i, okSteps, failed, c.autocommit)
			if err != nil {
				return nil, protoErr("PROTOCOL_ERROR", "batch step %d: %v", i, err)
			}
			if !run {
				continue
			}
		}
		q, err := s.resolveSQL(st, step.Stmt.SQL, step.Stmt.SQLID)
		if err == nil {
			var res *stmtResult
			if res, err = s.exec(ctx, st, c, q, &step.Stmt, acc); err == nil {
				results[i] = res.json
				okSteps[i] = true
				continue
			}
		}
		errs[i] = toHranaError(err)
		failed[i] = true
	}
	var out bytes.Buffer
	out.WriteString(`{"type":"batch","result":{"step_results":[`)
	for i, r := range results {
		if i > 0 {
			out.WriteByte(',')
		}
		if r == nil {
			out.WriteString("null")
		} else {
			out.Write(r)
		}
	}
	out.WriteString(`],"step_errors":[`)
	for i, e := range errs {
		if i > 0 {
			out.WriteByte(',')
		}
		if e == nil {
			out.WriteString("null")
		} else {
			eb, _ := json.Marshal(e)
			out.Write(eb)
		}
	}
	out.WriteString(`],"replication_index":null}}`)
	return out.Bytes(), nil
}

// validateCond checks that a condition only refers to earlier steps.
func validateCond(c *batchCond, cur int) error {
	switch c.Type {
	case "ok", "error":
		if c.Step == nil {
			return fmt.Errorf("condition %q needs a step", c.Type)
		}
		if *c.Step < 0 || *c.Step >= cur {
			return fmt.Errorf("condition refers to step %d, which is not before step %d", *c.Step, cur)
		}
	case "not":
		if c.Cond == nil {
			return errors.New(`condition "not" needs "cond"`)
		}
		return validateCond(c.Cond, cur)
	case "and", "or":
		for i := range c.Conds {
			if err := validateCond(&c.Conds[i], cur); err != nil {
				return err
			}
		}
	case "is_autocommit":
	default:
		return fmt.Errorf("unknown condition type %q", c.Type)
	}
	return nil
}

// runSequence runs a semicolon-separated script without arguments, stopping at the first error.
func (s *Server) runSequence(ctx context.Context, st *stream, c *sqliteConn, q string, acc access) error {
	rest := q
	for {
		// Compiling is enough for some pragmas to act, so even this split runs under the guard.
		if err := c.beginClient(ctx, acc.readOnlyToken, false); err != nil {
			return err
		}
		p, err := c.prepare(rest)
		c.endClient()
		if err != nil {
			return c.refusal(err)
		}
		if p.stmt == 0 {
			return nil
		}
		one := rest[:p.tail]
		rest = rest[p.tail:]
		c.finalize(p.stmt)
		f := false
		if _, err := s.exec(ctx, st, c, one, &stmt{WantRows: &f}, acc); err != nil {
			return err
		}
	}
}

// describe reports a statement's parameters, columns and whether it is read-only.
func describe(ctx context.Context, c *sqliteConn, q string, acc access) ([]byte, error) {
	if err := c.beginClient(ctx, acc.readOnlyToken, false); err != nil {
		return nil, err
	}
	p, err := c.prepare(q)
	c.endClient()
	if err != nil {
		return nil, c.refusal(err)
	}
	if p.stmt == 0 {
		return nil, protoErr("SQL_NO_STATEMENT", "SQL string does not contain any statement")
	}
	defer c.finalize(p.stmt)
	type param struct {
		Name *string `json:"name"`
	}
	type col struct {
		Name     string  `json:"name"`
		Decltype *string `json:"decltype"`
	}
	res := struct {
		Params     []param `json:"params"`
		Cols       []col   `json:"cols"`
		IsExplain  bool    `json:"is_explain"`
		IsReadonly bool    `json:"is_readonly"`
	}{Params: []param{}, Cols: []col{}, IsExplain: c.isExplain(p.stmt), IsReadonly: c.readonly(p.stmt)}
	for i := 1; i <= c.paramCount(p.stmt); i++ {
		var name *string
		if n := c.paramName(p.stmt, i); n != "" {
			name = &n
		}
		res.Params = append(res.Params, param{Name: name})
	}
	for _, cl := range c.columns(p.stmt) {
		res.Cols = append(res.Cols, col{Name: cl.name, Decltype: cl.decltype})
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(`{"type":"describe","result":`), b...), '}'), nil
}
