// Package wanproxy is a loopback HTTP reverse proxy that makes `objectstack dev` behave like a remote
// Turso deployment for tests and benchmarks: it adds a fixed delay to every request (a WAN round trip)
// and counts the requests — in total, Platform API versus Hrana, and per database — so tests can assert
// how many round trips an operation costs (counts are deterministic; timings are not).
//
// It forwards to one target and keeps the inbound Host header, so the dev server builds the URLs and
// hostnames it hands out (the Platform API's Url and Hostname) from the proxy's address: every later
// database request made with them crosses the proxy too and is delayed and counted like the first.
//
// The delay is applied per request before forwarding, in that request's own goroutine, so requests in
// flight at once each wait the delay once; nothing is serialised. It is a normal package (not a _test
// file) so several test packages and benchmarks can share it; nothing in the product imports it.
package wanproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind classifies a request by the API it belongs to.
type Kind int

const (
	// Other is anything that is neither Platform API nor Hrana (health, version and /v2 probes, 404s).
	Other Kind = iota
	// Platform is the Turso Platform API: every path under /v1/.
	Platform
	// Hrana is a database request: /v2/pipeline, /v3/…, /db/<name>/v2/… or /v3/…, and /dev/<name>/….
	Hrana
)

// String names the kind for messages.
func (k Kind) String() string {
	switch k {
	case Platform:
		return "platform"
	case Hrana:
		return "hrana"
	default:
		return "other"
	}
}

// maxPeek bounds how much of a create-database body is read to find the database name: the Platform
// API's create body is a few hundred bytes, and a proxy for tests has no business buffering uploads.
const maxPeek = 64 << 10

// Proxy is a running proxy. Create it with Start; it is safe for concurrent use.
type Proxy struct {
	url    string
	ln     net.Listener
	srv    *http.Server
	rp     *httputil.ReverseProxy
	tr     *http.Transport
	delay  atomic.Int64 // nanoseconds
	served chan struct{}

	inFlight atomic.Int64
	mu       sync.Mutex
	c        counts
}

// counts is the mutable state behind Snapshot; mu guards it.
type counts struct {
	total, platform, hrana, other int64
	maxInFlight                   int64
	hranaByDB, platformByDB       map[string]int64
}

// Start listens on 127.0.0.1 on a free port and forwards every request to target (a base URL such as
// the dev server's "http://127.0.0.1:41234"), after delay.
func Start(target string, delay time.Duration) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("wanproxy: target %q is not an absolute http(s) URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("wanproxy: listen on loopback: %w", err)
	}
	p := &Proxy{url: "http://" + ln.Addr().String(), ln: ln, served: make(chan struct{})}
	p.SetDelay(delay)
	p.resetLocked()
	// A pool far larger than any test's concurrency: with the default of two idle connections per host,
	// 64 requests in flight would close and reopen loopback connections on every request, costing the
	// target time the simulated WAN is not meant to add.
	p.tr = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// SetURL points Host at the target; the dev server must see the proxy's address instead,
			// so the URLs it returns lead back through the proxy.
			r.Out.Host = r.In.Host
		},
		Transport: p.tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away; nobody reads the answer
			}
			http.Error(w, fmt.Sprintf("wanproxy: %s %s to %s: %v", r.Method, r.URL.Path, u.Host, err), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln) // returns ErrServerClosed after Close
	}()
	return p, nil
}

// URL is the proxy's base URL, "http://127.0.0.1:<port>": use it wherever the target's URL would go.
func (p *Proxy) URL() string { return p.url }

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay changes the delay for requests that arrive from now on (0 forwards at once), e.g. to
// provision a fixture quickly and then measure at WAN latency.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(max(d, 0))) }

// Delay is the current per-request delay.
func (p *Proxy) Delay() time.Duration { return time.Duration(p.delay.Load()) }

// Close stops listening, waits up to five seconds for requests in flight and drops idle connections.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, p.srv.Close())
	}
	<-p.served
	p.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("wanproxy: close %s: %w", p.url, err)
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	kind, db := Classify(r)
	p.count(kind, db, n)
	if d := p.Delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) count(kind Kind, db string, inFlight int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c.total++
	p.c.maxInFlight = max(p.c.maxInFlight, inFlight)
	switch kind {
	case Platform:
		p.c.platform++
		if db != "" {
			p.c.platformByDB[db]++
		}
	case Hrana:
		p.c.hrana++
		if db != "" {
			p.c.hranaByDB[db]++
		}
	default:
		p.c.other++
	}
}

// Reset zeroes every count (requests already in flight are not counted again).
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetLocked()
}

func (p *Proxy) resetLocked() {
	p.c = counts{hranaByDB: map[string]int64{}, platformByDB: map[string]int64{}}
}

// Snapshot is a copy of the counts at one moment; its maps are the caller's own.
type Snapshot struct {
	// Total counts every request, Other included.
	Total int64
	// Platform counts /v1/… requests, Hrana database requests, Other the rest.
	Platform, Hrana, Other int64
	// HranaByDatabase and PlatformByDatabase count the requests attributed to each database name
	// (see Classify); requests that name no database are in the totals only.
	HranaByDatabase, PlatformByDatabase map[string]int64
	// MaxInFlight is the most requests the proxy held at once (waiting out the delay or forwarded).
	MaxInFlight int64
}

// Snapshot copies the counts.
func (p *Proxy) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Snapshot{
		Total: p.c.total, Platform: p.c.platform, Hrana: p.c.hrana, Other: p.c.other,
		HranaByDatabase:    copyMap(p.c.hranaByDB),
		PlatformByDatabase: copyMap(p.c.platformByDB),
		MaxInFlight:        p.c.maxInFlight,
	}
}

func copyMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// HranaCounts lists the Hrana request count of each named database, 0 for a database that got none;
// with no names, of every database that got at least one. The order follows names (or is sorted by
// name), so the result can be zipped with them.
func (s Snapshot) HranaCounts(names ...string) []int64 {
	if len(names) == 0 {
		names = make([]string, 0, len(s.HranaByDatabase))
		for k := range s.HranaByDatabase {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	out := make([]int64, len(names))
	for i, n := range names {
		out[i] = s.HranaByDatabase[n]
	}
	return out
}

// HranaMedian is the median Hrana request count over the named databases (all seen ones when none
// are named): the "requests per tenant" figure, robust to a few tenants that retried.
func (s Snapshot) HranaMedian(names ...string) float64 {
	return Percentile(s.HranaCounts(names...), 50)
}

// Percentile returns the p-th percentile (0–100) of counts by linear interpolation between the
// closest ranks (so Percentile(x, 50) of an even-sized x is the mean of the middle two, and
// Percentile(x, 100) is the maximum). It returns NaN for no counts and does not modify counts.
func Percentile(counts []int64, p float64) float64 {
	if len(counts) == 0 {
		return math.NaN()
	}
	s := slices.Clone(counts)
	slices.Sort(s)
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return float64(s[lo]) + frac*float64(s[hi]-s[lo])
}

// Classify tells which API a request belongs to and, where it can tell, which database it concerns:
//
//   - Platform API (/v1/…): the {db} of /v1/organizations/{org}/databases/{db}/…, or the "name" field
//     of a create-database body (read and put back, so the request forwards unchanged).
//   - Hrana: the <name> of /db/<name>/… or /dev/<name>/…; otherwise the first label of the Host when
//     the Host is a DNS name (Turso's "<db>-<org>.turso.io" gives "<db>-<org>"); otherwise the "id"
//     claim of the bearer JWT, decoded WITHOUT verifying the signature — the dev server verifies it,
//     this is only for counting.
//
// The database is "" when none of these applies.
func Classify(r *http.Request) (Kind, string) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/v1/") {
		return Platform, platformDatabase(r)
	}
	if rest, ok := strings.CutPrefix(path, "/dev/"); ok {
		if name, _, ok := strings.Cut(rest, "/"); ok && name != "" {
			return Hrana, name
		}
		return Other, ""
	}
	if rest, ok := strings.CutPrefix(path, "/db/"); ok {
		name, sub, ok := strings.Cut(rest, "/")
		if !ok || name == "" || !hranaPath("/"+sub) {
			return Other, ""
		}
		return Hrana, name
	}
	if !hranaPath(path) {
		return Other, ""
	}
	if name := hostDatabase(r.Host); name != "" {
		return Hrana, name
	}
	return Hrana, tokenDatabase(r.Header.Get("Authorization"))
}

// hranaPath reports whether a path (relative to a database's root) is a Hrana endpoint: the v2
// pipeline or anything of v3 (pipeline, cursor). GET /v2 is a version probe, not a database request.
func hranaPath(p string) bool {
	return strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v3/")
}

func platformDatabase(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// v1 organizations {org} databases [{db} ...]
	if len(parts) < 4 || parts[1] != "organizations" || parts[3] != "databases" {
		return ""
	}
	if len(parts) >= 5 {
		return parts[4]
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPeek))
	// Put back what was read, followed by anything left unread, so the target sees the same body.
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	if err != nil {
		return ""
	}
	var req struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(body, &req) != nil {
		return ""
	}
	return req.Name
}

// hostDatabase is the first label of a DNS host name; "" for IP literals and localhost, which name a
// server rather than a database.
func hostDatabase(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || host == "localhost" || net.ParseIP(host) != nil {
		return ""
	}
	label, _, _ := strings.Cut(host, ".")
	return label
}

// tokenDatabase reads the "id" claim of a bearer JWT without verifying it (counting only).
func tokenDatabase(authorization string) string {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return ""
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.ID
}
