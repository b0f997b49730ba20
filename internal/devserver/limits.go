package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Memory limits of the Hrana endpoint. Any valid token could make the server allocate without
// bound: a 52 MB pipeline of two million tiny requests decoded into ~600 MB of Go values, every
// statement's rows were buffered until the whole pipeline finished, and one value could be as
// large as SQLite's 1 GB default. Each cost is capped before it is paid:
//
//   - the body: Options.MaxPipelineBytes (413 before anything is read when Content-Length says
//     so, else as soon as the reader passes it), read within pipelineBodyTimeout;
//   - the decoded pipeline: the body is scanned as it arrives (no allocation per value) and
//     refused as soon as it holds more than Options.MaxPipelineRequests requests plus batch
//     steps, or more than maxPipelineValues array elements in all (arguments, conditions);
//   - one value: SQLITE_LIMIT_LENGTH is maxValueBytes on every connection (guard.go);
//   - the responses: one pipeline's results stop at maxResponseBytes, and all pipelines'
//     results together at maxResponseMemory beyond a free 64 KiB each (RESPONSE_TOO_LARGE for
//     the statement that would cross either; sqld has the same two limits).
//
// Pipelines whose body is over smallPipelineBytes (or of unknown length) also need one of
// Options.MaxConcurrentPipelines slots, taken before the body is read and kept until the response
// is written; they queue for up to pipelineSlotWait. Small pipelines — what libsql-client-go
// sends for ordinary statements — never wait for a slot, so other clients keep being served
// while big pipelines queue.
//
// The bound this gives with the defaults, stated in SECURITY.md and checked against a dev server
// process by TestPipelineMemoryIsBounded: the process stays under 512 MiB resident whatever
// valid-token clients send (one maximal pipeline costs about 12× its body across the JSON
// decoder, SQLite's copies of the text and Go's garbage collector headroom).
const (
	defaultMaxPipelineBytes       = 16 << 20
	defaultMaxPipelineRequests    = 100_000
	defaultMaxConcurrentPipelines = 1
	maxPipelineValues             = 1_000_000
	maxValueBytes                 = 16 << 20
	smallPipelineBytes            = 256 << 10
	maxResponseMemory             = 128 << 20
	pipelineSlotWait              = 30 * time.Second
	pipelineBodyTimeout           = 2 * time.Minute
	responseReserveChunk          = 64 << 10
)

// limiter holds the pipeline limits in force and the state shared by all pipelines.
type limiter struct {
	maxBytes    int64
	maxRequests int
	slots       chan struct{} // one per large pipeline being read or run
	respInUse   atomic.Int64  // bytes of results reserved by pipelines in flight
}

func (s *Server) limits() *limiter {
	s.limOnce.Do(func() {
		o := s.opts
		l := &limiter{maxBytes: o.MaxPipelineBytes, maxRequests: o.MaxPipelineRequests}
		if l.maxBytes <= 0 {
			l.maxBytes = defaultMaxPipelineBytes
		}
		if l.maxRequests <= 0 {
			l.maxRequests = defaultMaxPipelineRequests
		}
		n := o.MaxConcurrentPipelines
		if n <= 0 {
			n = defaultMaxConcurrentPipelines
		}
		l.slots = make(chan struct{}, n)
		s.lim = l
	})
	return s.lim
}

// readPipeline reads and decodes a pipeline body within the limits. On failure it has written the
// HTTP error and returns ok=false. release must be called once the response is written.
func (s *Server) readPipeline(w http.ResponseWriter, r *http.Request) (req *pipelineRequest, release func(), ok bool) {
	l := s.limits()
	if r.ContentLength > l.maxBytes {
		hranaHTTPError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
			fmt.Sprintf("Pipeline body is %d bytes; the limit is %d", r.ContentLength, l.maxBytes))
		return nil, nil, false
	}
	release = func() {}
	if r.ContentLength < 0 || r.ContentLength > smallPipelineBytes {
		wait := time.NewTimer(pipelineSlotWait)
		defer wait.Stop()
		select {
		case l.slots <- struct{}{}:
			release = func() { <-l.slots }
		case <-r.Context().Done():
			return nil, nil, false
		case <-wait.C:
			w.Header().Set("Retry-After", "1")
			hranaHTTPError(w, http.StatusServiceUnavailable, "TOO_MANY_PIPELINES",
				fmt.Sprintf("%d large pipelines are already running; retry later", cap(l.slots)))
			return nil, nil, false
		}
	}
	fail := func(status int, code, msg string) (*pipelineRequest, func(), bool) {
		release()
		hranaHTTPError(w, status, code, msg)
		return nil, nil, false
	}

	// A body trickled in slowly would hold its slot; the server has no ReadTimeout because
	// streams legitimately idle between requests, so the deadline is set here, for the body only.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(pipelineBodyTimeout))
	var counter pipelineCounter
	errTooMany := errors.New("too many requests")
	body, err := readBody(http.MaxBytesReader(w, r.Body, l.maxBytes), r.ContentLength, l.maxBytes, func(p []byte) error {
		counter.feed(p)
		if counter.requests > l.maxRequests || counter.values > maxPipelineValues {
			return errTooMany
		}
		return nil
	})
	_ = rc.SetReadDeadline(time.Time{})
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooMany) && counter.requests > l.maxRequests:
		return fail(http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
			fmt.Sprintf("Pipeline holds more than %d requests and batch steps", l.maxRequests))
	case errors.Is(err, errTooMany):
		return fail(http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
			fmt.Sprintf("Pipeline holds more than %d array elements (arguments, steps, conditions)", maxPipelineValues))
	case errors.As(err, &mbe):
		return fail(http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("Pipeline body is over the limit of %d bytes", l.maxBytes))
	case err != nil:
		return fail(http.StatusBadRequest, "PROTOCOL_ERROR", "Could not read the pipeline request body")
	}
	req = &pipelineRequest{}
	if err := json.Unmarshal(body, req); err != nil {
		return fail(http.StatusBadRequest, "PROTOCOL_ERROR", "Invalid pipeline request body: "+err.Error())
	}
	return req, release, true
}

// readBody reads r whole, handing each chunk to check as it arrives (an error from check stops
// the read). Unlike bytes.Buffer, which doubles past any limit, it never holds a buffer larger
// than limit+1 bytes (an unknown length grows from 64 KiB).
func readBody(r io.Reader, length, limit int64, check func([]byte) error) ([]byte, error) {
	size := int64(64 << 10)
	if length >= 0 {
		size = length + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, &http.MaxBytesError{Limit: limit}
			}
			next := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if cerr := check(buf[len(buf)-n:]); cerr != nil {
			return nil, cerr
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// countPipeline scans a JSON pipeline body without decoding it and returns the number of
// requests plus batch steps (elements of every "requests" and "steps" array) and the number of
// array elements of any kind. Keys are compared as encoding/json matches them (escapes decoded,
// case folded), so no spelling decodes into more values than were counted. Malformed input is
// counted as far as it goes; json.Unmarshal rejects it afterwards.
func countPipeline(b []byte) (requests, values int) {
	var c pipelineCounter
	c.feed(b)
	return c.requests, c.values
}

// pipelineCounter is countPipeline's scanner, fed the body as it arrives so that a pipeline over
// the caps is refused after the first bytes that prove it, not after the whole body is read.
type pipelineCounter struct {
	requests, values int
	stack            []counterFrame
	inString         bool
	escaped          bool // the previous byte of the string was an unescaped backslash
	isKey            bool // the string being scanned is an object key
	keyEscaped       bool
	key              []byte // the key being scanned (raw, up to maxCountedKey bytes)
}

type counterFrame struct {
	array, counted, wantValue, wantKey bool
	key                                string // last key seen in an object
}

// maxCountedKey bounds the bytes kept of a key: "requests" spelled with \u escapes is 48 bytes.
const maxCountedKey = 256

func (c *pipelineCounter) top() *counterFrame {
	if len(c.stack) == 0 {
		return nil
	}
	return &c.stack[len(c.stack)-1]
}

// startValue counts a value beginning inside an array.
func (c *pipelineCounter) startValue() {
	if f := c.top(); f != nil && f.array && f.wantValue {
		f.wantValue = false
		c.values++
		if f.counted {
			c.requests++
		}
	}
}

func (c *pipelineCounter) feed(b []byte) {
	for _, ch := range b {
		if c.inString {
			if c.isKey && len(c.key) < maxCountedKey+2 {
				c.key = append(c.key, ch)
			}
			switch {
			case c.escaped:
				c.escaped = false
			case ch == '\\':
				c.escaped, c.keyEscaped = true, true
			case ch == '"':
				c.inString = false
				if c.isKey {
					c.endKey()
				}
			}
			continue
		}
		switch ch {
		case ' ', '\t', '\r', '\n', ':':
		case '"':
			c.inString = true
			if f := c.top(); f != nil && !f.array && f.wantKey {
				c.isKey, c.keyEscaped = true, false
				c.key = append(c.key[:0], '"')
			} else {
				c.isKey = false
				c.startValue()
			}
		case '{', '[':
			c.startValue()
			f := counterFrame{array: ch == '[', wantValue: ch == '[', wantKey: ch == '{'}
			if p := c.top(); ch == '[' && p != nil && !p.array {
				f.counted = (len(c.stack) == 1 && strings.EqualFold(p.key, "requests")) || strings.EqualFold(p.key, "steps")
			}
			c.stack = append(c.stack, f)
		case '}', ']':
			if len(c.stack) > 0 {
				c.stack = c.stack[:len(c.stack)-1]
			}
		case ',':
			if f := c.top(); f != nil {
				f.wantValue, f.wantKey = f.array, !f.array
			}
		default:
			c.startValue() // a number, true, false or null
		}
	}
}

// endKey records the object key just scanned (its raw bytes, quotes included, are in c.key).
func (c *pipelineCounter) endKey() {
	f := c.top()
	if f == nil {
		return
	}
	f.wantKey = false
	if len(c.key) > maxCountedKey {
		f.key = "" // too long to be a key the decoder cares about
		return
	}
	k := string(c.key[1 : len(c.key)-1])
	if c.keyEscaped {
		var s string
		if json.Unmarshal(c.key, &s) == nil {
			k = s
		}
	}
	f.key = k
}

// respBudget accounts one pipeline's encoded results against its own cap and the server-wide
// one. A nil budget (tests calling execStmt directly) applies the per-pipeline cap only.
type respBudget struct {
	l         *limiter
	committed int64 // bytes of results of finished statements
	reserved  int64 // bytes reserved in l.respInUse
}

// fits reports whether the pipeline may hold n more bytes on top of its finished results,
// reserving server-wide room in chunks as the statement's buffer grows.
func (b *respBudget) fits(n int) bool {
	if b == nil {
		return n <= maxResponseBytes
	}
	total := b.committed + int64(n)
	if total > maxResponseBytes {
		return false
	}
	// The first bytes of every pipeline need no reservation, so ordinary small queries are
	// answered even while big results hold the whole server-wide budget.
	if total <= b.reserved || total <= responseReserveChunk {
		return true
	}
	need := max(total-b.reserved, responseReserveChunk)
	if b.l.respInUse.Add(need) > maxResponseMemory {
		b.l.respInUse.Add(-need)
		return false
	}
	b.reserved += need
	return true
}

// commit records a finished statement's result size.
func (b *respBudget) commit(n int) {
	if b != nil {
		b.committed += int64(n)
	}
}

// release returns the pipeline's reservation once its response has been written.
func (b *respBudget) release() {
	if b != nil {
		b.l.respInUse.Add(-b.reserved)
		b.reserved = 0
	}
}

func responseTooLarge(b *respBudget) error {
	if b != nil && b.committed <= maxResponseBytes && b.l.respInUse.Load()+responseReserveChunk > maxResponseMemory {
		return protoErr("RESPONSE_TOO_LARGE", "Response is too large: the server is holding %d MiB of other responses; retry", maxResponseMemory>>20)
	}
	return protoErr("RESPONSE_TOO_LARGE", "Response is too large (the results of one pipeline are limited to %d MiB)", maxResponseBytes>>20)
}

// writePipelineResponse writes {"baton":…,"base_url":null,"results":<results>} without copying
// the results into another buffer.
func writePipelineResponse(ctx context.Context, w http.ResponseWriter, baton string, results []byte) {
	head := `{"baton":null,"base_url":null,"results":`
	if baton != "" {
		head = `{"baton":"` + baton + `","base_url":null,"results":`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(results)+1))
	if ctx.Err() != nil {
		return
	}
	_, _ = w.Write([]byte(head))
	_, _ = w.Write(results)
	_, _ = w.Write([]byte("}"))
}
