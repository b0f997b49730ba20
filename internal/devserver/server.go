// Package devserver is `objectstack dev`: a local DEVELOPMENT server that stands in for Turso so
// the Turso platform backend, libsql-client-go and the Terraform provider run offline exactly as
// against the cloud. It is not a production database server: no TLS, no replication, one
// process, data in plain SQLite files under Options.DataDir (DataDir/devserver.db holds its
// registry; DataDir/databases/<name>.db each database).
//
// It serves two APIs on one listener:
//
//   - The Turso Platform API subset under /v1 (databases, tokens, rotation, configuration,
//     usage, groups, locations, token validation) with Turso's shapes and error bodies
//     ({"error":"..."}). Every /v1 call needs "Authorization: Bearer <api token>": the
//     configured Options.APIToken, or any non-empty token when none is configured.
//
//   - Hrana v2 over HTTP (POST …/v2/pipeline, as libsql-client-go speaks it) for every
//     database, authenticated with database tokens minted by the Platform API (Ed25519 JWTs,
//     claims a=rw|ro, id=<database>, exp; auth/rotate invalidates all earlier tokens).
//
// Hostnames. Turso hands out a Hostname per database and its clients connect to
// "libsql://<Hostname>" with nothing else; a local server cannot mint DNS names without hosts
// file changes. So every database's Hostname is the server's own address, host:port (e.g.
// "127.0.0.1:8080"), usable as-is as "http://<Hostname>" or "libsql://<Hostname>?tls=0" by
// libsql-client-go and @libsql/client, and a Hrana request on the root (POST /v2/pipeline) is
// routed by its database token: the token's signature and expiry are verified, its "id" claim
// names the database, and the request then passes the same checks as a path-routed one (the
// database incarnation and rotation generation), so a token for database A only ever reaches
// A. GET /v2, /health and /version answer on the root as sqld does; Hrana 3 paths (/v3…) are
// not served, so clients that probe for them fall back to v2.
//
// The address is Options.AdvertiseAddr (`objectstack dev --advertise`) when set — for a server
// behind a proxy or a port mapping — and otherwise the Host header of the Platform API request,
// so a caller gets back the address it already reaches the server at (":80" is added when the
// Host has no port, because "libsql://host?tls=0" needs one). That is stable for a database
// across calls as long as the caller keeps its API URL — which Terraform and the reconciler do,
// as they store the API URL in their configuration — and a fixed --advertise makes it stable
// for every caller. It is the same rule the "Url" field has always followed.
//
// Other routes, kept for older callers:
//
//	http://<address>/db/<db>            (path routing; the "Url" extension field of create/get/list)
//	POST http://<address>/db/<db>/v2/pipeline
//	POST http://<address>/dev/<db>/v2/pipeline    (sqld's "turso dev" route)
//	POST /v2/pipeline with Host "<db>-<org>.local" (the Hostname earlier versions handed out; use
//	    libsql-client-go WithProxy); a Host naming a database takes precedence over the token,
//	    so a mismatched token is refused, never redirected.
//
// Turso clients ignore the unknown "Url" field. Database names are unique per server (across
// organizations) because neither the shared Hostname nor the path URL has an organization in it.
package devserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configures a Server.
type Options struct {
	// DataDir holds the registry and the database files; it is created if missing.
	DataDir string
	// Logger receives request and lifecycle logs (never tokens). Nil discards them.
	Logger *slog.Logger
	// APIToken is the Platform API token clients must present; empty accepts any non-empty token.
	APIToken string
	// IdleTimeout closes (and rolls back) a Hrana stream unused for this long. Default 10s (sqld).
	IdleTimeout time.Duration
	// ExpiredRetention is how long an expired stream's baton answers STREAM_EXPIRED rather than
	// "invalid baton". Default 5 minutes (sqld).
	ExpiredRetention time.Duration
	// MaxStreamsPerDatabase caps open streams (and so SQLite connections) per database. Default 128.
	MaxStreamsPerDatabase int
	// BusyTimeout is how long a statement waits for another stream's write lock. Default 5s.
	BusyTimeout time.Duration
	// MaxIdleConnsPerDatabase is how many SQLite connections each database keeps open between
	// streams. Default 8.
	MaxIdleConnsPerDatabase int
	// AdvertiseAddr is the host:port clients reach this server at, handed out as every
	// database's Hostname (and in its Url). Set it when clients come through a proxy or a port
	// mapping that does not preserve the Host header. Empty means "the Host the Platform API
	// request came in on", so each caller gets back the address it already uses; see the package
	// comment for why that is stable.
	AdvertiseAddr string
	// MaxPipelineBytes caps the body of one Hrana pipeline request. Default 16 MiB.
	MaxPipelineBytes int64
	// MaxPipelineRequests caps the requests of one pipeline, each batch step counting as one.
	// Default 100,000.
	MaxPipelineRequests int
	// MaxConcurrentPipelines caps the pipelines over 256 KiB read or run at once; more wait.
	// Smaller ones never wait. Default 1. See limits.go for the memory bound these give.
	MaxConcurrentPipelines int
	// SnapshotRetention is how long the point-in-time snapshots taken before destructive statements
	// are kept (seed.go). Default DefaultSnapshotRetention (7 days).
	SnapshotRetention time.Duration
}

// Server is the development server. Create it with New, serve Handler, Close it when done.
type Server struct {
	opts     Options
	log      *slog.Logger
	reg      *registry
	tokens   *tokenIssuer
	batonKey []byte

	mu     sync.RWMutex
	dbs    map[string]*dbEntry
	groups map[string]*groupEntry
	gstate groupStates // locations, delete protection, token generation per group (groups.go)

	streamsMu sync.Mutex
	streams   map[uint64]*stream
	expired   map[uint64]time.Time
	lastReap  time.Time // janitor goroutine only

	handler     http.Handler
	stopJanitor context.CancelFunc
	janitorDone chan struct{}
	closeOnce   sync.Once

	limOnce sync.Once
	lim     *limiter // pipeline limits, see limits.go

	started time.Time // when New ran: the last-write bound of databases not written since (seed.go)
}

// New opens (or creates) the server's data folder and registry.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("dev server: a data directory is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Second
	}
	if opts.ExpiredRetention <= 0 {
		opts.ExpiredRetention = 5 * time.Minute
	}
	if opts.MaxStreamsPerDatabase <= 0 {
		opts.MaxStreamsPerDatabase = 128
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxIdleConnsPerDatabase <= 0 {
		opts.MaxIdleConnsPerDatabase = 8
	}
	if opts.AdvertiseAddr != "" {
		addr, err := CheckAdvertiseAddr(opts.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("dev server: %w", err)
		}
		opts.AdvertiseAddr = addr
	}
	if err := os.MkdirAll(filepath.Join(opts.DataDir, "databases"), 0o700); err != nil {
		return nil, fmt.Errorf("dev server data directory %s: %w", opts.DataDir, err)
	}
	ctx := context.Background()
	reg, err := openRegistry(ctx, opts.DataDir)
	if err != nil {
		return nil, err
	}
	seed, err := reg.secret(ctx, "jwt_ed25519_seed", 32)
	if err != nil {
		reg.close()
		return nil, err
	}
	dbs, err := reg.loadDatabases(ctx, opts.DataDir)
	if err != nil {
		reg.close()
		return nil, err
	}
	groups, err := reg.loadGroups(ctx)
	if err != nil {
		reg.close()
		return nil, err
	}
	gstate, err := reg.loadGroupStates(ctx)
	if err != nil {
		reg.close()
		return nil, err
	}
	s := &Server{started: time.Now(),
		gstate: gstate,
		opts:   opts, log: opts.Logger, reg: reg, tokens: newTokenIssuer(seed),
		batonKey: make([]byte, 32),
		dbs:      dbs, groups: groups,
		streams: map[uint64]*stream{}, expired: map[uint64]time.Time{},
		janitorDone: make(chan struct{}),
	}
	if _, err := rand.Read(s.batonKey); err != nil {
		reg.close()
		return nil, err
	}
	s.handler = s.routes()
	jctx, cancel := context.WithCancel(context.Background())
	s.stopJanitor = cancel
	go s.janitor(jctx)
	return s, nil
}

// Handler serves the Platform API and Hrana endpoints.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the stream janitor, rolls back and closes every open stream and connection, and
// closes the registry. Call it after the HTTP server has stopped.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.stopJanitor()
		<-s.janitorDone
		s.streamsMu.Lock()
		var all []*stream
		for id, st := range s.streams {
			all = append(all, st)
			delete(s.streams, id)
		}
		s.streamsMu.Unlock()
		for _, st := range all {
			st.mu.Lock()
			s.releaseStream(st)
			st.mu.Unlock()
		}
		s.mu.Lock()
		for _, e := range s.dbs {
			e.closeIdle()
		}
		s.mu.Unlock()
		err = s.reg.close()
	})
	return err
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully (in-flight requests
// get up to 5 seconds). It does not Close the Server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// ListenAndServe listens on addr (e.g. "127.0.0.1:8080") and serves until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dev server listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Running is a server started by Start.
type Running struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234" (Platform API base and Hrana host).
	URL string
	// Addr is the listener's host:port, e.g. "127.0.0.1:41234": the Hostname of every database
	// for a caller that uses URL (unless Options.AdvertiseAddr says otherwise).
	Addr   string
	Server *Server
	stop   func()
}

// Stop shuts the server down and closes it; it is safe to call more than once.
func (r *Running) Stop() { r.stop() }

// Start runs a server on 127.0.0.1 with a free port until Stop or ctx cancellation. For
// tests and for tools that embed the dev server.
func Start(ctx context.Context, opts Options) (*Running, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("dev server listen: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.Serve(sctx, ln); err != nil {
			s.log.Error("dev server stopped", "err", err)
		}
	}()
	var once sync.Once
	return &Running{
		URL:    "http://" + ln.Addr().String(),
		Addr:   ln.Addr().String(),
		Server: s,
		stop: func() {
			once.Do(func() {
				cancel()
				<-served
				s.Close()
			})
		},
	}, nil
}

// StartLocal starts a server on 127.0.0.1:0 keeping its data in dataDir, accepting any API token.
func StartLocal(ctx context.Context, dataDir string) (baseURL string, stop func(), err error) {
	r, err := Start(ctx, Options{DataDir: dataDir})
	if err != nil {
		return "", nil, err
	}
	return r.URL, r.Stop, nil
}

// DatabaseURL is the path URL a client opens database name with, given the server's base URL.
func DatabaseURL(baseURL, name string) string { return baseURL + "/db/" + name }
