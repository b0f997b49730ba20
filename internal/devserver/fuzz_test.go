package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzHranaPipeline feeds arbitrary bodies to POST /v2/pipeline on a real dev server over loopback, with
// a full-access or a read-only token. The seeds (run by plain `go test`) cover every request type, batch
// conditions, arguments of every value type, stored SQL, the spellings encoding/json accepts for keys,
// statements the guard refuses and malformed JSON. For every input:
//   - the handler answers (no panic, no hang) with a JSON body and a status a Hrana client understands;
//   - the pre-decode scanner never counts fewer requests and batch steps than encoding/json decodes,
//     so no spelling slips past the request cap;
//   - a 200 carries one result per request;
//   - nothing appears in a folder outside the database that the seeds try to write to.
func FuzzHranaPipeline(f *testing.F) {
	outside := f.TempDir()
	target := strings.ReplaceAll(filepath.Join(outside, "x.db"), `\`, `\\`)
	for _, seed := range []string{
		`{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},{"type":"close"}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE IF NOT EXISTS t(a, b)"}},{"type":"execute","stmt":{"sql":"INSERT INTO t VALUES (?, :b)","args":[{"type":"integer","value":"7"}],"named_args":[]}}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?, ?, ?, ?, ?","args":[{"type":"null"},{"type":"integer","value":"-9223372036854775808"},{"type":"float","value":1.5e300},{"type":"text","value":"é\u0000x"},{"type":"blob","base64":"AAEC/w=="}]}}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"SELECT :a, @b, $c","named_args":[{"name":"a","value":{"type":"text","value":"x"}},{"name":":b","value":{"type":"integer","value":1}},{"name":"$c","value":{"type":"float"}}]}}]}`,
		`{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"BEGIN"}},{"condition":{"type":"ok","step":0},"stmt":{"sql":"SELECT 1"}},{"condition":{"type":"not","cond":{"type":"and","conds":[{"type":"error","step":1},{"type":"is_autocommit"}]}},"stmt":{"sql":"COMMIT"}},{"condition":{"type":"ok","step":9},"stmt":{"sql":"SELECT 2"}}]}}]}`,
		`{"requests":[{"type":"sequence","sql":"CREATE TABLE IF NOT EXISTS s(x); INSERT INTO s VALUES (1); SELECT * FROM s"}]}`,
		`{"requests":[{"type":"store_sql","sql_id":1,"sql":"SELECT 42"},{"type":"execute","stmt":{"sql_id":1}},{"type":"describe","sql_id":1},{"type":"close_sql","sql_id":1},{"type":"execute","stmt":{"sql_id":1}}]}`,
		`{"requests":[{"type":"get_autocommit"},{"type":"describe","sql":"SELECT * FROM sqlite_schema WHERE name = ?"}]}`,
		`{"REQUESTS":[{"TYPE":"execute","Stmt":{"SQL":"SELECT 1"}}],"re\u0071uests":[{"type":"close"}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"VACUUM INTO '` + target + `'"}},{"type":"execute","stmt":{"sql":"ATTACH '` + target + `' AS o"}},{"type":"execute","stmt":{"sql":"PRAGMA locking_mode = EXCLUSIVE"}}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1; SELECT 2"}},{"type":"execute","stmt":{}},{"type":"batch"},{"type":"nonsense"}]}`,
		`{"baton":"AAAA","requests":[]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1","args":[{"type":"integer","value":"x"}]}}]}`,
		`{"requests":[`,
		`[]`,
		``,
		`{"requests":[{"type":"execute","stmt":{"sql":"\"[{,"}}]}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	ts := startServer(f, Options{IdleTimeout: time.Second})
	ts.createDB("fuzz")
	tokens := map[bool]string{false: ts.token("fuzz", ""), true: ts.token("fuzz", "authorization=read-only")}
	client := &http.Client{Timeout: 20 * time.Second}

	f.Fuzz(func(t *testing.T, body []byte, readOnly bool) {
		var req pipelineRequest
		if json.Unmarshal(body, &req) == nil {
			decoded := len(req.Requests)
			for _, r := range req.Requests {
				if r.Batch != nil {
					decoded += len(r.Batch.Steps)
				}
			}
			if counted, _ := countPipeline(body); counted < decoded {
				t.Fatalf("the scanner counted %d requests and steps, encoding/json decoded %d", counted, decoded)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hreq, err := http.NewRequestWithContext(ctx, "POST", ts.url+"/db/fuzz/v2/pipeline", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		hreq.Header.Set("Authorization", "Bearer "+tokens[readOnly])
		resp, err := client.Do(hreq)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200, 400, 413, 500, 503:
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %q", resp.StatusCode, raw)
		}
		if resp.StatusCode == 200 {
			if rs, _ := out["results"].([]any); len(rs) != len(req.Requests) {
				t.Fatalf("%d results for %d requests", len(rs), len(req.Requests))
			}
			// Leave no stream open between inputs: the next one starts a fresh stream.
			if b, ok := out["baton"].(string); ok && b != "" {
				creq, _ := http.NewRequestWithContext(ctx, "POST", ts.url+"/db/fuzz/v2/pipeline",
					strings.NewReader(pipelineBody(b, map[string]any{"type": "close"})))
				creq.Header.Set("Authorization", "Bearer "+tokens[readOnly])
				if cresp, err := client.Do(creq); err == nil {
					_, _ = io.Copy(io.Discard, cresp.Body)
					cresp.Body.Close()
				}
			}
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("a statement wrote %s outside the database", entries[0].Name())
		}
	})
}
