package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// DefaultTursoBaseURL is the Turso Platform API.
const DefaultTursoBaseURL = "https://api.turso.tech"

// Retry defaults: a handful of attempts spread over a few seconds rides out a blip or a rate
// limit without making a provisioning run hang on an outage.
const (
	defaultMaxRetries    = 4
	defaultRetryWaitMin  = 200 * time.Millisecond
	defaultRetryWaitMax  = 5 * time.Second
	defaultMaxRetryAfter = 30 * time.Second
	defaultHTTPTimeout   = 30 * time.Second // what upstream's client uses
	maxResponseBytes     = 8 << 20
	maxListPages         = 10000
)

// TursoConfig configures the Turso Platform API client.
type TursoConfig struct {
	BaseURL      string // default https://api.turso.tech; http:// only for loopback (objectstack dev)
	Organization string
	APIToken     string // secret: never logged; see LogValue/String
	Group        string // default "default"
	// MaxRetries is how many times a failed call is retried: 0 means the default (4), a
	// negative value disables retries.
	MaxRetries int
	// RetryWaitMin/RetryWaitMax bound the exponential backoff (defaults 200ms / 5s).
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRetryAfter caps a server's Retry-After so one answer cannot stall us (default 30s).
	MaxRetryAfter time.Duration
	// HTTPClient is copied, never modified; its transport gains the Authorization header.
	HTTPClient *http.Client
	// Logger receives debug lines, scrubbed of every secret; nil discards them.
	Logger *slog.Logger
}

// String keeps the API token out of fmt output.
func (c TursoConfig) String() string {
	return fmt.Sprintf("TursoConfig{BaseURL:%s Organization:%s Group:%s APIToken:%s}", c.BaseURL, c.Organization, c.Group, Redacted)
}

// GoString keeps the API token out of %#v output, which would otherwise print every field.
func (c TursoConfig) GoString() string { return c.String() }

// LogValue keeps the API token out of slog output.
func (c TursoConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("baseURL", c.BaseURL),
		slog.String("organization", c.Organization),
		slog.String("group", c.Group),
		slog.String("apiToken", Redacted),
	)
}

// Turso is the Platform API client.
//
// Retry policy, decided per call:
//   - GET, DELETE and PATCH configuration are idempotent: retried on 429, 5xx and connection
//     errors (including a connection dropped mid-response) with exponential backoff and jitter,
//     honouring Retry-After.
//   - POST create database is not idempotent (a retry after a lost answer would see "already
//     exists"), so it is sent once per attempt; after a retryable failure we GET the database by
//     name: if it exists our POST landed and we adopt it, otherwise we back off and POST again.
//   - POST token and POST rotate are retried like idempotent calls: minting twice only leaves an
//     unseen token that the next rotate invalidates, and rotating twice leaves the same state.
type Turso struct {
	org, group    string
	base          *url.URL
	direct        bool // loopback base (objectstack dev): databases are served at <base>/db/<name>
	maxRetries    int
	waitMin       time.Duration
	waitMax       time.Duration
	maxRetryAfter time.Duration
	retrying      *retryablehttp.Client
	single        *retryablehttp.Client
	log           *slog.Logger
	red           *redactor
}

// NewTurso validates cfg and returns a client. It makes no request.
func NewTurso(cfg TursoConfig) (*Turso, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultTursoBaseURL
	}
	if cfg.Organization == "" {
		return nil, errors.New("turso platform: organization is required")
	}
	if cfg.APIToken == "" {
		return nil, errors.New("turso platform: API token is required")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("turso platform: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	loopback := isLoopbackHost(base.Hostname())
	switch {
	case base.Scheme == "https":
	case base.Scheme == "http" && loopback:
	case base.Scheme == "http":
		// The API token would cross the network in clear text.
		return nil, fmt.Errorf("turso platform: base URL %s must use https (http is allowed only on loopback)", base.Redacted())
	default:
		return nil, fmt.Errorf("turso platform: base URL %s: unsupported scheme %q", base.Redacted(), base.Scheme)
	}
	if base.User != nil || base.RawQuery != "" {
		return nil, fmt.Errorf("turso platform: base URL must not carry credentials or a query")
	}

	red := &redactor{}
	red.add(cfg.APIToken)
	logHandler := slog.DiscardHandler
	if cfg.Logger != nil {
		logHandler = cfg.Logger.Handler()
	}
	log := slog.New(&redactingHandler{inner: logHandler, r: red})

	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		hc.Timeout = defaultHTTPTimeout
	}
	inner := hc.Transport
	if inner == nil {
		inner = http.DefaultTransport.(*http.Transport).Clone()
	}
	hc.Transport = &authTransport{inner: inner, scheme: base.Scheme, host: base.Host, token: cfg.APIToken}
	// A redirect could carry the request (and, were the header added elsewhere, the token) to
	// another host; the API never redirects, so a 3xx surfaces as an APIError.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	t := &Turso{
		org:           cfg.Organization,
		group:         cfg.Group,
		base:          base,
		direct:        loopback,
		maxRetries:    cfg.MaxRetries,
		waitMin:       cfg.RetryWaitMin,
		waitMax:       cfg.RetryWaitMax,
		maxRetryAfter: cfg.MaxRetryAfter,
		log:           log,
		red:           red,
	}
	if t.maxRetries == 0 {
		t.maxRetries = defaultMaxRetries
	} else if t.maxRetries < 0 {
		t.maxRetries = 0
	}
	if t.waitMin <= 0 {
		t.waitMin = defaultRetryWaitMin
	}
	if t.waitMax <= 0 {
		t.waitMax = defaultRetryWaitMax
	}
	if t.waitMax < t.waitMin {
		t.waitMax = t.waitMin
	}
	if t.maxRetryAfter <= 0 {
		t.maxRetryAfter = defaultMaxRetryAfter
	}
	newClient := func(retries int) *retryablehttp.Client {
		return &retryablehttp.Client{
			HTTPClient:   &hc,
			Logger:       retryLogger{log},
			RetryWaitMin: t.waitMin,
			RetryWaitMax: t.waitMax,
			RetryMax:     retries,
			CheckRetry:   retryablehttp.DefaultRetryPolicy,
			Backoff:      t.backoff,
			// Hand back the last response/error so we classify it (and scrub it) ourselves.
			ErrorHandler: retryablehttp.PassthroughErrorHandler,
		}
	}
	t.retrying = newClient(t.maxRetries)
	t.single = newClient(0)
	return t, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authTransport adds the bearer token at the last moment, and only for the API host, so the
// token lives in no request object a logger or error could print.
type authTransport struct {
	inner        http.RoundTripper
	scheme, host string
	token        string
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != a.scheme || req.URL.Host != a.host {
		return a.inner.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+a.token)
	r.Header.Set("User-Agent", "objectstack-platform")
	return a.inner.RoundTrip(r)
}

// backoff is exponential with equal jitter (half fixed, half random, so concurrent clients
// spread out but never retry immediately), unless the server said when to come back.
func (t *Turso) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, t.maxRetryAfter)
		}
	}
	d := maxWait
	if attempt < 30 {
		if e := minWait << attempt; e > 0 && e < maxWait {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := at.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// APIError is a non-2xx answer from the Platform API. Message is the API's "error" text with
// secrets scrubbed. errors.Is matches ErrNotFound and ErrAlreadyExists from the status and the
// body text, because Turso has answered "already exists" with 400, 409 and 422.
type APIError struct {
	Op      string // "POST /databases", without the organization prefix
	Status  int
	Message string
	Code    string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("turso api: %s: %d: %s", e.Op, e.Status, msg)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// Is lets errors.Is(err, ErrNotFound/ErrAlreadyExists) see through an APIError.
func (e *APIError) Is(target error) bool {
	text := strings.ToLower(e.Message + " " + e.Code)
	switch target {
	case ErrAlreadyExists:
		switch e.Status {
		case http.StatusConflict:
			return true
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return strings.Contains(text, "already exists")
		}
	case ErrNoRestorePoint:
		return isNoRestorePoint(e.Status, text)
	case ErrNotFound:
		// "organization not found" is not a missing database: counting it as one would make
		// DeleteDatabase report success and the tenant be archived with its database orphaned.
		if strings.Contains(text, "organization") && !strings.Contains(text, "database") {
			return false
		}
		switch e.Status {
		case http.StatusNotFound:
			return true
		case http.StatusBadRequest, http.StatusGone, http.StatusUnprocessableEntity:
			// 401/403 never: "token not found" must not make a delete look successful.
			return strings.Contains(text, "not found")
		}
	}
	return false
}

// response is a fully read answer; reading inside the retry loop means a connection dropped
// mid-body is retried like any other connection error.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (t *Turso) orgURL(path string, q url.Values) string {
	u := *t.base
	if strings.HasPrefix(path, "/v1/") {
		// An API path outside the organization (GET /v1/locations): organization paths never start so.
		u.Path = strings.TrimRight(u.Path, "/") + path
	} else {
		u.Path = strings.TrimRight(u.Path, "/") + "/v1/organizations/" + url.PathEscape(t.org) + path
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// send makes one logical call through client. A non-2xx answer comes back both as the response
// (for Retry-After) and as an *APIError; transport failures come back scrubbed.
func (t *Turso) send(ctx context.Context, client *retryablehttp.Client, method, path string, q url.Values, body any) (*response, error) {
	op := method + " " + path
	var raw any
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("turso api: %s: encode request: %w", op, err)
		}
		raw = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, t.orgURL(path, q), raw)
	if err != nil {
		return nil, t.red.wrapErr("turso api: "+op, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetResponseHandler(func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
		if err != nil {
			resp.Body = io.NopCloser(bytes.NewReader(nil))
			return fmt.Errorf("read response: %w", err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	})
	resp, err := client.Do(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, t.red.wrapErr("turso api: "+op, ctxErr)
		}
		return nil, t.red.wrapErr("turso api: "+op, err)
	}
	defer resp.Body.Close()
	// Retries that ran out end here with the last 5xx/429, its body not read by the handler.
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, t.red.wrapErr("turso api: "+op+": read response", err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return r, t.apiError(op, resp.StatusCode, b)
	}
	return r, nil
}

func (t *Turso) apiError(op string, status int, body []byte) *APIError {
	e := &APIError{Op: op, Status: status}
	var parsed struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(body, &parsed) == nil && (parsed.Error != nil || parsed.Message != "") {
		switch v := parsed.Error.(type) {
		case string:
			e.Message = v
		case nil:
			e.Message = parsed.Message
		default:
			b, _ := json.Marshal(v)
			e.Message = string(b)
		}
		e.Code = parsed.Code
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	// Scrub before shortening: a cut through an echoed secret would leave a prefix that no
	// longer matches the secret (nor the JWT pattern) and so would reach the error verbatim.
	e.Message = t.red.scrub(e.Message)
	e.Code = t.red.scrub(e.Code)
	if len(e.Message) > 512 {
		e.Message = e.Message[:512] + "…"
	}
	return e
}

// retryable reports whether a failed single attempt may be tried again.
func retryable(ctx context.Context, r *response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var api *APIError
	if errors.As(err, &api) {
		return api.Status == http.StatusTooManyRequests || (api.Status >= 500 && api.Status != http.StatusNotImplemented)
	}
	// Transport failures that reached us are connection-level (refused, reset, dropped body);
	// the non-retryable ones (bad scheme, TLS verification) fail NewTurso or never recover, but
	// the bound on attempts keeps them finite either way.
	return err != nil && r == nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Kind reports "turso".
func (*Turso) Kind() string { return "turso" }

// CreateDatabase creates the database, adopting it when a retried POST had in fact landed.
// An existing database comes back together with an error wrapping ErrAlreadyExists.
func (t *Turso) CreateDatabase(ctx context.Context, opts CreateOptions) (*Database, error) {
	if err := ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	if opts.SizeLimitBytes < 0 {
		return nil, fmt.Errorf("create database %s: negative size limit %d", opts.Name, opts.SizeLimitBytes)
	}
	group := opts.Group
	if group == "" {
		group = t.group
	}
	if err := opts.Seed.Validate(); err != nil {
		return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
	}
	body := map[string]any{"name": opts.Name, "group": group}
	if opts.Seed != nil {
		body["seed"] = seedBody(opts.Seed)
	}
	if opts.SizeLimitBytes > 0 {
		body["size_limit"] = strconv.FormatInt(opts.SizeLimitBytes, 10)
	}
	for attempt := 0; ; attempt++ {
		r, err := t.send(ctx, t.single, http.MethodPost, "/databases", nil, body)
		if err == nil {
			db, perr := t.parseDatabase(r.body, "database")
			if perr != nil {
				return nil, fmt.Errorf("create database %s: %w", opts.Name, perr)
			}
			if db.Group == "" {
				db.Group = group
			}
			return db, nil
		}
		if errors.Is(err, ErrAlreadyExists) {
			db, gerr := t.GetDatabase(ctx, opts.Name)
			if gerr != nil {
				return nil, fmt.Errorf("create database %s: exists, but reading it failed: %w", opts.Name, gerr)
			}
			return db, fmt.Errorf("create database %s: %w", opts.Name, err)
		}
		if !retryable(ctx, r, err) || attempt >= t.maxRetries {
			return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
		}
		// The POST may have landed before the failure reached us: look before posting again.
		db, gerr := t.GetDatabase(ctx, opts.Name)
		if gerr == nil {
			t.log.InfoContext(ctx, "turso api: adopted database created by an attempt whose answer was lost", "database", opts.Name)
			return db, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("create database %s: %w (after: %v)", opts.Name, ctx.Err(), err)
		}
		if !errors.Is(gerr, ErrNotFound) {
			return nil, fmt.Errorf("create database %s: %w (then checking whether it exists: %v)", opts.Name, err, gerr)
		}
		var header http.Response
		if r != nil {
			header = http.Response{StatusCode: r.status, Header: r.header}
		}
		wait := t.backoff(t.waitMin, t.waitMax, attempt, &header)
		t.log.DebugContext(ctx, "turso api: retrying create", "database", opts.Name, "attempt", attempt+1, "wait", wait, "error", err)
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("create database %s: %w (after: %v)", opts.Name, serr, err)
		}
	}
}

// GetDatabase returns the database or an error wrapping ErrNotFound.
func (t *Turso) GetDatabase(ctx context.Context, name string) (*Database, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("get database: %w", err)
	}
	r, err := t.send(ctx, t.retrying, http.MethodGet, "/databases/"+name, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	db, err := t.parseDatabase(r.body, "database")
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	return db, nil
}

// ListDatabases lists the organization's databases in group (all groups when empty),
// following pagination.next cursors when the API sends them.
func (t *Turso) ListDatabases(ctx context.Context, group string) ([]Database, error) {
	out := []Database{}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < maxListPages; page++ {
		q := url.Values{}
		if group != "" {
			q.Set("group", group)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r, err := t.send(ctx, t.retrying, http.MethodGet, "/databases", q, nil)
		if err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		var env struct {
			Databases  []json.RawMessage `json:"databases"`
			Pagination *struct {
				Next *string `json:"next"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			return nil, fmt.Errorf("list databases: decode response: %w", err)
		}
		for _, raw := range env.Databases {
			db, err := t.decodeDatabase(raw)
			if err != nil {
				return nil, fmt.Errorf("list databases: %w", err)
			}
			if group != "" && db.Group != "" && db.Group != group {
				continue // a server that ignores the filter
			}
			out = append(out, *db)
		}
		if env.Pagination == nil || env.Pagination.Next == nil || *env.Pagination.Next == "" {
			return out, nil
		}
		cursor = *env.Pagination.Next
		if seen[cursor] {
			return nil, fmt.Errorf("list databases: server repeated pagination cursor")
		}
		seen[cursor] = true
	}
	return nil, fmt.Errorf("list databases: more than %d pages", maxListPages)
}

// DeleteDatabase deletes the database; one already gone (or deleted by an attempt whose answer
// was lost) is success.
func (t *Turso) DeleteDatabase(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete database: %w", err)
	}
	_, err := t.send(ctx, t.retrying, http.MethodDelete, "/databases/"+name, nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		if errors.Is(groupSentinel(err), ErrDeleteProtected) {
			return fmt.Errorf("delete database %s: %w: %w", name, ErrDeleteProtected, err)
		}
		return fmt.Errorf("delete database %s: %w", name, err)
	}
	return nil
}

// CreateToken mints a database token. Scope and expiration travel as query parameters, which
// is where the API reads them (a JSON body "authorization" is ignored).
func (t *Turso) CreateToken(ctx context.Context, name string, opts TokenOptions) (Token, error) {
	return t.createToken(ctx, "create token", "/databases/", name, opts, func(err error) error { return err })
}

// createToken validates opts, fills in their defaults and POSTs <kind>name/auth/tokens for a
// database's or a group's token; op names the operation in errors and sentinel maps the API error.
func (t *Turso) createToken(ctx context.Context, op, kind, name string, opts TokenOptions, sentinel func(error) error) (Token, error) {
	if err := ValidateName(name); err != nil {
		return Token{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := validateTokenOptions(opts); err != nil {
		return Token{}, fmt.Errorf("%s for %s: %w", op, name, err)
	}
	scope := opts.Scope
	if scope == "" {
		scope = ScopeFullAccess
	}
	exp := opts.Expiration
	if exp == "" {
		exp = "never"
	}
	requested, _ := ParseExpiration(exp)
	q := url.Values{"expiration": {exp}, "authorization": {string(scope)}}
	now := time.Now()
	r, err := t.send(ctx, t.retrying, http.MethodPost, kind+name+"/auth/tokens", q, nil)
	if err != nil {
		return Token{}, fmt.Errorf("%s for %s: %w", op, name, sentinel(err))
	}
	var body struct {
		JWT string `json:"jwt"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.JWT == "" {
		// Never echo the body: it may hold a token in an unexpected shape.
		return Token{}, fmt.Errorf("%s for %s: response has no jwt", op, name)
	}
	t.red.add(body.JWT)
	return Token{JWT: body.JWT, Expiration: tokenExpiry(body.JWT, requested, now)}, nil
}

// RotateTokens invalidates every token of the database (Turso: also the group's tokens).
func (t *Turso) RotateTokens(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("rotate tokens: %w", err)
	}
	if _, err := t.send(ctx, t.retrying, http.MethodPost, "/databases/"+name+"/auth/rotate", nil, nil); err != nil {
		return fmt.Errorf("rotate tokens for %s: %w", name, err)
	}
	return nil
}

// Configure PATCHes only the fields that are set; a PATCH of absolute values is idempotent.
func (t *Turso) Configure(ctx context.Context, name string, cfg Configuration) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("configure database: %w", err)
	}
	body := map[string]any{}
	if cfg.BlockWrites != nil {
		body["block_writes"] = *cfg.BlockWrites
	}
	if cfg.BlockReads != nil {
		body["block_reads"] = *cfg.BlockReads
	}
	if cfg.SizeLimitBytes != nil {
		if *cfg.SizeLimitBytes < 0 {
			return fmt.Errorf("configure database %s: negative size limit %d", name, *cfg.SizeLimitBytes)
		}
		body["size_limit"] = strconv.FormatInt(*cfg.SizeLimitBytes, 10)
	}
	if cfg.DeleteProtection != nil {
		body["delete_protection"] = *cfg.DeleteProtection
	}
	if len(body) == 0 {
		return nil
	}
	if _, err := t.send(ctx, t.retrying, http.MethodPatch, "/databases/"+name+"/configuration", nil, body); err != nil {
		return fmt.Errorf("configure database %s: %w", name, err)
	}
	return nil
}

// parseDatabase decodes {"<key>": Database}.
func (t *Turso) parseDatabase(body []byte, key string) (*Database, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	raw, ok := env[key]
	if !ok {
		return nil, fmt.Errorf("decode response: no %q object", key)
	}
	return t.decodeDatabase(raw)
}

// decodeDatabase reads a Database leniently: the API uses PascalCase (Name, DbId, Hostname)
// next to snake_case and camelCase keys, so keys are matched ignoring case and underscores, and
// unknown keys are ignored.
func (t *Turso) decodeDatabase(raw json.RawMessage) (*Database, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode database: %w", err)
	}
	norm := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		norm[strings.ReplaceAll(strings.ToLower(k), "_", "")] = v
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			var s string
			if v, ok := norm[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	boolean := func(key string) bool {
		var b bool
		if v, ok := norm[key]; ok {
			_ = json.Unmarshal(v, &b)
		}
		return b
	}
	db := &Database{
		Name:          str("name"),
		DbID:          str("dbid", "id", "uuid"),
		Hostname:      str("hostname"),
		Group:         str("group"),
		PrimaryRegion: str("primaryregion"),
		BlockWrites:   boolean("blockwrites"),
		BlockReads:    boolean("blockreads"),
		SizeLimit:     str("sizelimit"),

		DeleteProtection: boolean("deleteprotection"),
	}
	if db.Name == "" {
		return nil, errors.New("decode database: no name")
	}
	if db.PrimaryRegion == "" {
		var regions []string
		if v, ok := norm["regions"]; ok && json.Unmarshal(v, &regions) == nil && len(regions) > 0 {
			db.PrimaryRegion = regions[0]
		}
	}
	db.URL = t.databaseURL(db.Name, db.Hostname, str("url", "dburl"))
	return db, nil
}

// databaseURL picks how clients reach the database: a URL the server states (objectstack dev's
// extension), the loopback dev server's /db/<name> route, or Turso's libsql://<Hostname>.
// It never synthesizes a Turso hostname.
func (t *Turso) databaseURL(name, hostname, stated string) string {
	if stated != "" {
		if u, err := url.Parse(stated); err == nil {
			if !u.IsAbs() {
				return t.base.ResolveReference(u).String()
			}
			return stated
		}
	}
	if t.direct {
		return strings.TrimRight(t.base.String(), "/") + "/db/" + name
	}
	if hostname != "" {
		return "libsql://" + hostname
	}
	return ""
}
