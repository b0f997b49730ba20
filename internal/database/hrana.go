package database

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
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The engine's own Hrana v2 client. libsql-client-go sends every database/sql call as its own HTTP request and
// reports a failed step of a multi-statement batch only through row iteration; the engine needs one request per
// plan and per apply, with the failing step named, so batches are built here. Everything else (ad-hoc queries,
// the CLI's SQL) still goes through libsql-client-go.

var (
	httpMu          sync.Mutex
	httpClient      *http.Client
	maxConnsPerHost = 64
)

// SetMaxConnsPerHost sizes the keep-alive pool of the shared HTTP transport that carries every Hrana batch and
// the Platform API: a fleet rollout at concurrency N keeps N requests in flight to one host (the dev server, or a
// Turso edge), and a pool smaller than that closes and re-opens connections on every request. It takes effect
// for clients made after the call; callers size it once at start-up.
func SetMaxConnsPerHost(n int) {
	if n < 2 {
		n = 2
	}
	httpMu.Lock()
	defer httpMu.Unlock()
	if n != maxConnsPerHost {
		maxConnsPerHost = n
		httpClient = nil
	}
}

// HTTPClient is the one HTTP client (and keep-alive pool) for remote databases and the Platform API.
func HTTPClient() *http.Client {
	httpMu.Lock()
	defer httpMu.Unlock()
	if httpClient == nil {
		t := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4 * maxConnsPerHost,
			MaxIdleConnsPerHost:   maxConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		httpClient = &http.Client{Transport: t}
	}
	return httpClient
}

// hranaClient sends batches to one database's /v2/pipeline.
type hranaClient struct {
	pipelineURL string
	token       string
}

// newHranaClient derives the pipeline URL from a libsql://, https:// or http:// database URL.
func newHranaClient(dsn, token string) (*hranaClient, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", Redact(dsn), err)
	}
	q := u.Query()
	switch u.Scheme {
	case "libsql":
		u.Scheme = "https"
		if q.Get("tls") == "0" {
			u.Scheme = "http"
		}
	case "http", "https":
	default:
		return nil, fmt.Errorf("database URL %s: scheme %q cannot carry Hrana batches", Redact(dsn), u.Scheme)
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	p, err := url.JoinPath(u.String(), "v2", "pipeline")
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", Redact(dsn), err)
	}
	return &hranaClient{pipelineURL: p, token: token}, nil
}

func (*hranaClient) Remote() bool { return true }

type hValue struct {
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value,omitempty"`
	Base64 string          `json:"base64,omitempty"`
}

type hStmt struct {
	SQL      string   `json:"sql"`
	Args     []hValue `json:"args,omitempty"`
	WantRows bool     `json:"want_rows"`
}

type hCond struct {
	Type string `json:"type"`
	Step *int   `json:"step,omitempty"`
	Cond *hCond `json:"cond,omitempty"`
}

type hStep struct {
	Condition *hCond `json:"condition,omitempty"`
	Stmt      hStmt  `json:"stmt"`
}

type hStreamReq struct {
	Type  string `json:"type"`
	Batch *struct {
		Steps []hStep `json:"steps"`
	} `json:"batch,omitempty"`
}

type hError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

type hStmtResult struct {
	Cols []struct {
		Name *string `json:"name"`
	} `json:"cols"`
	Rows             [][]hValue `json:"rows"`
	AffectedRowCount int64      `json:"affected_row_count"`
}

type hPipelineResp struct {
	Results []struct {
		Type     string  `json:"type"`
		Error    *hError `json:"error"`
		Response *struct {
			Type   string `json:"type"`
			Result *struct {
				StepResults []*hStmtResult `json:"step_results"`
				StepErrors  []*hError      `json:"step_errors"`
			} `json:"result"`
		} `json:"response"`
	} `json:"results"`
}

func okOf(step int) *hCond { return &hCond{Type: "ok", Step: &step} }

func encodeArg(v any) (hValue, error) {
	switch x := v.(type) {
	case nil:
		return hValue{Type: "null"}, nil
	case int:
		return hValue{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.Itoa(x)))}, nil
	case int32:
		return hValue{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.FormatInt(int64(x), 10)))}, nil
	case int64:
		return hValue{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.FormatInt(x, 10)))}, nil
	case bool:
		if x {
			return hValue{Type: "integer", Value: json.RawMessage(`"1"`)}, nil
		}
		return hValue{Type: "integer", Value: json.RawMessage(`"0"`)}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return hValue{Type: "null"}, nil // SQLite stores NaN as NULL; JSON cannot carry it
		}
		return hValue{Type: "float", Value: json.RawMessage(strconv.FormatFloat(x, 'g', -1, 64))}, nil
	case string:
		b, _ := json.Marshal(x)
		return hValue{Type: "text", Value: b}, nil
	case []byte:
		return hValue{Type: "blob", Base64: base64.RawStdEncoding.EncodeToString(x)}, nil
	case time.Time:
		b, _ := json.Marshal(x.Format("2006-01-02 15:04:05.999999999-07:00"))
		return hValue{Type: "text", Value: b}, nil
	}
	return hValue{}, fmt.Errorf("unsupported argument type %T", v)
}

func decodeValue(v hValue) (any, error) {
	switch v.Type {
	case "null":
		return nil, nil
	case "integer":
		var s string
		if err := json.Unmarshal(v.Value, &s); err != nil {
			var n int64
			if err2 := json.Unmarshal(v.Value, &n); err2 != nil {
				return nil, fmt.Errorf("integer value %s: %w", v.Value, err)
			}
			return n, nil
		}
		return strconv.ParseInt(s, 10, 64)
	case "float":
		var f float64
		err := json.Unmarshal(v.Value, &f)
		return f, err
	case "text":
		var s string
		err := json.Unmarshal(v.Value, &s)
		return s, err
	case "blob":
		return base64.RawStdEncoding.DecodeString(strings.TrimRight(v.Base64, "="))
	}
	return nil, fmt.Errorf("unknown value type %q", v.Type)
}

func toStmt(s Stmt) (hStmt, error) {
	hs := hStmt{SQL: s.SQL, WantRows: s.Query}
	for i, a := range s.Args {
		v, err := encodeArg(a)
		if err != nil {
			return hs, fmt.Errorf("argument %d: %w", i+1, err)
		}
		hs.Args = append(hs.Args, v)
	}
	return hs, nil
}

// send posts one pipeline of [batch, close] and returns the batch's per-step results and errors.
func (h *hranaClient) send(ctx context.Context, steps []hStep) ([]*hStmtResult, []*hError, error) {
	body := struct {
		Requests []hStreamReq `json:"requests"`
	}{Requests: []hStreamReq{{Type: "batch", Batch: &struct {
		Steps []hStep `json:"steps"`
	}{Steps: steps}}, {Type: "close"}}}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.pipelineURL, bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := HTTPClient().Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("hrana request: %w", scrubURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("hrana response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
			Code    string `json:"code"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil {
			msg = strings.TrimSpace(e.Error + " " + e.Message + " " + e.Code)
		}
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		return nil, nil, fmt.Errorf("hrana: HTTP %d: %s", resp.StatusCode, msg)
	}
	var pr hPipelineResp
	if err := json.Unmarshal(data, &pr); err != nil {
		return nil, nil, fmt.Errorf("hrana response: %w", err)
	}
	if len(pr.Results) == 0 {
		return nil, nil, errors.New("hrana response: no results")
	}
	r := pr.Results[0]
	if r.Type == "error" && r.Error != nil {
		return nil, nil, fmt.Errorf("hrana: %s", r.Error.Message)
	}
	if r.Response == nil || r.Response.Result == nil || len(r.Response.Result.StepResults) != len(steps) || len(r.Response.Result.StepErrors) != len(steps) {
		return nil, nil, errors.New("hrana response: malformed batch result")
	}
	return r.Response.Result.StepResults, r.Response.Result.StepErrors, nil
}

// scrubURLError keeps the URL out of transport errors: it names the database host, which is fine, but a
// caller-supplied URL could carry credentials.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, Redact(ue.URL), ue.Err)
	}
	return err
}

func stepErr(e *hError) error {
	if e.Code != "" && !strings.Contains(e.Message, e.Code) {
		return fmt.Errorf("%s (%s)", e.Message, e.Code)
	}
	return errors.New(e.Message)
}

func convertResult(r *hStmtResult) (Result, error) {
	out := Result{RowsAffected: r.AffectedRowCount}
	for _, c := range r.Cols {
		n := ""
		if c.Name != nil {
			n = *c.Name
		}
		out.Columns = append(out.Columns, n)
	}
	for _, row := range r.Rows {
		vals := make([]any, len(row))
		for i, v := range row {
			d, err := decodeValue(v)
			if err != nil {
				return out, err
			}
			vals[i] = d
		}
		out.Rows = append(out.Rows, vals)
	}
	return out, nil
}

// Read sends BEGIN, the statements (each run whatever the others did), ROLLBACK: one snapshot, one request.
func (h *hranaClient) Read(ctx context.Context, stmts []Stmt) ([]Result, error) {
	steps := make([]hStep, 0, len(stmts)+2)
	steps = append(steps, hStep{Stmt: hStmt{SQL: "BEGIN DEFERRED"}})
	for _, s := range stmts {
		hs, err := toStmt(s)
		if err != nil {
			return nil, err
		}
		hs.WantRows = true
		steps = append(steps, hStep{Condition: okOf(0), Stmt: hs})
	}
	steps = append(steps, hStep{Stmt: hStmt{SQL: "ROLLBACK"}, Condition: okOf(0)})
	results, errs, err := h.send(ctx, steps)
	if err != nil {
		return nil, err
	}
	if errs[0] != nil {
		return nil, fmt.Errorf("begin read: %w", stepErr(errs[0]))
	}
	out := make([]Result, len(stmts))
	for i := range stmts {
		if e := errs[i+1]; e != nil {
			out[i].Err = stepErr(e)
			continue
		}
		if results[i+1] == nil {
			out[i].Err = errors.New("statement was not run")
			continue
		}
		if out[i], err = convertResult(results[i+1]); err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
	}
	return out, nil
}

// Write sends [PRAGMA foreign_keys=OFF], BEGIN IMMEDIATE, the statements chained on success, COMMIT, and a
// ROLLBACK that runs unless COMMIT succeeded: one transaction, one request.
func (h *hranaClient) Write(ctx context.Context, stmts []Stmt, opts WriteOptions) ([]Result, error) {
	steps := make([]hStep, 0, len(stmts)+4)
	if opts.ForeignKeysOff {
		// A fresh stream per batch, so the pragma needs no restoring: the close at the end drops the connection.
		steps = append(steps, hStep{Stmt: hStmt{SQL: "PRAGMA foreign_keys = OFF"}})
	}
	begin := len(steps)
	steps = append(steps, hStep{Stmt: hStmt{SQL: "BEGIN IMMEDIATE"}})
	if begin > 0 {
		steps[begin].Condition = okOf(begin - 1)
	}
	for _, s := range stmts {
		hs, err := toStmt(s)
		if err != nil {
			return nil, err
		}
		steps = append(steps, hStep{Condition: okOf(len(steps) - 1), Stmt: hs})
	}
	commit := len(steps)
	steps = append(steps, hStep{Condition: okOf(commit - 1), Stmt: hStmt{SQL: "COMMIT"}})
	steps = append(steps, hStep{Condition: &hCond{Type: "not", Cond: okOf(commit)}, Stmt: hStmt{SQL: "ROLLBACK"}})
	results, errs, err := h.send(ctx, steps)
	if err != nil {
		return nil, err
	}
	for i := 0; i < begin; i++ {
		if errs[i] != nil {
			return nil, fmt.Errorf("before begin: %w", stepErr(errs[i]))
		}
	}
	if errs[begin] != nil {
		return nil, fmt.Errorf("begin: %w", stepErr(errs[begin]))
	}
	out := make([]Result, 0, len(stmts))
	for i := range stmts {
		j := begin + 1 + i
		if errs[j] != nil {
			return out, &StepError{Step: i, Err: stepErr(errs[j])}
		}
		if results[j] == nil {
			return out, &StepError{Step: i, Err: errors.New("statement was not run")}
		}
		r, err := convertResult(results[j])
		if err != nil {
			return out, fmt.Errorf("statement %d: %w", i, err)
		}
		out = append(out, r)
	}
	if errs[commit] != nil {
		return out, &StepError{Step: len(stmts), Err: fmt.Errorf("commit: %w", stepErr(errs[commit]))}
	}
	if results[commit] == nil {
		return out, &StepError{Step: len(stmts), Err: errors.New("commit was not run")}
	}
	return out, nil
}
