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
// URL scheme. A database named <db> in organization <org> is reachable at
//
//	http://<listen address>/db/<db>              (path routing; what clients should use)
//	POST http://<listen address>/db/<db>/v2/pipeline
//
// and, for clients that keep the Turso hostname, by Host header: a request to POST /v2/pipeline
// whose Host is the database's Hostname "<db>-<org>.local" (or "<db>.<anything>") is routed to
// <db>, so libsql-client-go with WithProxy("http://<listen address>") works unchanged. sqld's
// "turso dev" route POST /dev/<db>/v2/pipeline is served too. Create and get responses carry
// the usual PascalCase "Hostname" plus an extension field "Url" with the path URL built from the
// address the client used; Turso clients ignore unknown fields. Database names are unique per
// server (across organizations) because the path URL has no organization in it.
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
	// MaxPipelineBytes caps the body of one Hrana pipeline request. Default 16 MiB.
	MaxPipelineBytes int64
	// MaxPipelineRequests caps the requests of one pipeline, each batch step counting as one.
	// Default 100,000.
	MaxPipelineRequests int
	// MaxConcurrentPipelines caps the pipelines over 256 KiB read or run at once; more wait.
	// Smaller ones never wait. Default 1. See limits.go for the memory bound these give.
	MaxConcurrentPipelines int
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
	s := &Server{
		opts: opts, log: opts.Logger, reg: reg, tokens: newTokenIssuer(seed),
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
	URL    string
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
