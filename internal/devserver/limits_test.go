package devserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tinyPipeline is a pipeline body of n requests of the given JSON, as one attacker would send it.
func tinyPipeline(n int, request string) []byte {
	var b bytes.Buffer
	b.Grow(n*(len(request)+1) + 32)
	b.WriteString(`{"requests":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(request)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

const tinyExecute = `{"type":"execute","stmt":{"sql":"SELECT 1"}}`

// postPipeline posts body; chunked hides the length (no Content-Length), as a streaming client would.
func postPipeline(ctx context.Context, ts *testServer, db, tok string, body []byte, chunked bool) (int, string, error) {
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // not a *bytes.Reader: net/http cannot know the length
	}
	req, err := http.NewRequestWithContext(ctx, "POST", ts.url+"/db/"+db+"/v2/pipeline", rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, string(msg), nil
}

func TestCountPipeline(t *testing.T) {
	for _, tc := range []struct {
		body           string
		requests, vals int
	}{
		{`{"requests":[]}`, 0, 0},
		{`{"baton":null,"requests":[{"type":"close"},{"type":"get_autocommit"}]}`, 2, 2},
		// encoding/json matches keys case-insensitively, Unicode folding included, and decodes escapes.
		{`{"REQUESTS":[{},{},{}]}`, 3, 3},
		{`{"re\u0071uests":[{},{}]}`, 2, 2},
		{"{\"requeſts\":[{}]}", 1, 1},
		{`{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"[{,]}","args":[{"type":"null"},{"type":"integer","value":"1"}]}},{}]}}]}`, 3, 5},
		// Strings full of brackets and escaped quotes count as one value.
		{`{"requests":[{"type":"execute","stmt":{"sql":"\"[[[{{{,,,"}}]}`, 1, 1},
		// A nested "requests" key is not the pipeline's.
		{`{"requests":[{"x":{"requests":[1,2,3]}}]}`, 1, 4},
		{`{"requests":[1,2,`, 2, 2}, // truncated: counted as far as it goes
	} {
		r, v := countPipeline([]byte(tc.body))
		if r != tc.requests || v != tc.vals {
			t.Errorf("countPipeline(%s) = %d requests, %d values; want %d, %d", tc.body, r, v, tc.requests, tc.vals)
		}
	}
}

// TestPipelineLimits: the caps on body size, requests per pipeline and results per pipeline.
func TestPipelineLimits(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("caps")
	tok := ts.token("caps", "")
	ctx := t.Context()

	// A declared length over the cap is refused before the body is read: the server answers
	// although the client never sends a byte of it.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /db/caps/v2/pipeline HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 52000000\r\n\r\n", tok)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to an oversized declared body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("52 MB declared: status %d, want 413", resp.StatusCode)
	}

	for _, tc := range []struct {
		name    string
		body    []byte
		chunked bool
		status  int
	}{
		{"100,000 requests", tinyPipeline(100_000, `{"type":"get_autocommit"}`), false, 200},
		{"100,001 requests", tinyPipeline(100_001, `{"type":"get_autocommit"}`), false, 413},
		{"100,001 requests, key spelled in capitals", bytes.Replace(tinyPipeline(100_001, `{"type":"get_autocommit"}`), []byte("requests"), []byte("REQUESTS"), 1), false, 413},
		{"a batch of 100,001 steps", tinyPipeline(1, `{"type":"batch","batch":{"steps":[`+strings.Repeat(`{"stmt":{"sql":"SELECT 1"}},`, 100_000)+`{"stmt":{"sql":"SELECT 1"}}]}}`), false, 413},
		{"1,000,001 arguments", tinyPipeline(1, `{"type":"execute","stmt":{"sql":"SELECT 1","args":[`+strings.Repeat(`{"type":"null"},`, 1_000_000)+`{"type":"null"}]}}`), false, 413},
		{"17 MiB chunked", tinyPipeline(1, `{"type":"execute","stmt":{"sql":"SELECT '`+strings.Repeat("x", 17<<20)+`'"}}`), true, 413},
	} {
		st, msg, err := postPipeline(ctx, ts, "caps", tok, tc.body, tc.chunked)
		if err != nil || st != tc.status {
			t.Errorf("%s: status %d (%v) %s; want %d", tc.name, st, err, msg, tc.status)
		}
	}

	// Results: one pipeline's add up to 32 MiB at most; the statement that would cross fails.
	// One value is at most 16 MiB, however it is made.
	_, m := ts.pipeline("caps", tok, pipelineBody("",
		execReq("SELECT zeroblob(15000000)"), execReq("SELECT zeroblob(15000000)"), execReq("SELECT 1"),
		execReq("SELECT length(zeroblob(900000000))"), execReq("SELECT length(randomblob(17000000))")))
	rs := results(t, m)
	if rs[0]["type"] != "ok" {
		t.Fatalf("first 20 MB result: %.300v", rs[0])
	}
	for _, r := range rs[3:] {
		if msg := errorText(t, "a value over 16 MiB", r); !strings.Contains(msg, "too big") {
			t.Errorf("a value over 16 MiB: %s", msg)
		}
	}
	if msg := errorText(t, "a second 20 MB result in one pipeline", rs[1]); !strings.Contains(msg, "too large") {
		t.Errorf("second large result: %s", msg)
	}
	if rs[2]["type"] != "ok" {
		t.Errorf("a small result after the refused one: %.300v", rs[2])
	}
	if n := ts.run.Server.limits().respInUse.Load(); n != 0 {
		t.Errorf("%d response bytes still reserved after the pipelines finished", n)
	}
}

// TestDevServerChild is not a test: TestPipelineMemoryIsBounded runs the test binary again with
// this one selected to get a dev server in a process of its own, whose memory it can measure
// without counting the attack's own buffers. It serves until its stdin closes.
func TestDevServerChild(t *testing.T) {
	dir := os.Getenv("OBJECTSTACK_DEVSERVER_CHILD")
	if dir == "" {
		t.Skip("helper process for TestPipelineMemoryIsBounded")
	}
	r, err := Start(context.Background(), Options{DataDir: dir, APIToken: "child-api-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	fmt.Println("URL " + r.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// procStatus reads one kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// pipelineRSSBound is the memory bound stated for the Hrana endpoint with the default limits
// (limits.go, SECURITY.md): the dev server process stays under this resident size whatever any
// number of valid-token clients send.
const pipelineRSSBound = 512 << 20

// TestPipelineMemoryIsBounded replays the attack against a dev server in its own process
// — six clients at once sending 52 MB pipelines of two million tiny requests, with and without a
// Content-Length — followed by the largest pipelines the caps accept (100,000 requests; 16 MiB of
// SQL; results as large as allowed), while an ordinary client keeps querying. The server's resident memory must stay under the
// stated bound and the ordinary client must keep being answered. Before the caps one such
// pipeline took the server from 280 MB to 867 MB and six reached 4 GB.
func TestPipelineMemoryIsBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDevServerChild$")
	cmd.Env = append(os.Environ(), "OBJECTSTACK_DEVSERVER_CHILD="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatal("the dev server child did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid
	ts := &testServer{t: t, url: url, api: "child-api-token"}
	ts.createDB("mem")
	tok := ts.token("mem", "")

	idle, err := procStatus(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	var exceeded atomic.Bool
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if rss, err := procStatus(pid, "VmRSS"); err == nil && rss<<10 > pipelineRSSBound {
				exceeded.Store(true)
				cancel() // stop the attack (and the child) before it takes the machine down
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// The ordinary client: one small query at a time, through libsql-client-go.
	db := ts.client("mem", tok)
	var (
		mu       sync.Mutex
		queries  int
		slowest  time.Duration
		queryErr error
	)
	attackDone := make(chan struct{})
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		for {
			select {
			case <-attackDone:
				return
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			var n int
			err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n)
			mu.Lock()
			queries++
			slowest = max(slowest, time.Since(start))
			if err != nil && ctx.Err() == nil && queryErr == nil {
				queryErr = err
			}
			mu.Unlock()
		}
	}()

	huge := tinyPipeline(2_000_000, `{"type":"get_autocommit"}`) // 52 MB, as in the issue
	waves := []struct {
		name    string
		clients int
		body    []byte
		chunked bool
		status  int
	}{
		{"52 MB with Content-Length", 6, huge, false, 413},
		{"52 MB chunked", 6, huge, true, 413},
		{"100,000 requests", 4, tinyPipeline(100_000, `{"type":"get_autocommit"}`), false, 200},
		{"100,000 statements", 1, tinyPipeline(100_000, tinyExecute), false, 200},
		{"16 MiB of SQL", 2, tinyPipeline(1, `{"type":"execute","stmt":{"sql":"SELECT length('`+strings.Repeat("x", 16<<20-100)+`')"}}`), true, 200},
		// Results: small requests (no slot) asking for 20 MB each, more than the server-wide
		// budget together; those over it get RESPONSE_TOO_LARGE inside a 200.
		{"20 MB results", 8, tinyPipeline(1, `{"type":"execute","stmt":{"sql":"SELECT zeroblob(15000000)"}}`), false, 200},
	}
	for _, w := range waves {
		wstart := time.Now()
		var wg sync.WaitGroup
		for range w.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, msg, err := postPipeline(ctx, ts, "mem", tok, w.body, w.chunked)
				if ctx.Err() == nil && (err != nil || st != w.status) {
					t.Errorf("%s: status %d (%v) %.200s; want %d", w.name, st, err, msg, w.status)
				}
			}()
		}
		wg.Wait()
		rss, _ := procStatus(pid, "VmHWM")
		t.Logf("%s: %v, high-water so far %d MiB", w.name, time.Since(wstart), rss>>10)
	}
	close(attackDone)
	<-clientDone
	hwm, _ := procStatus(pid, "VmHWM")
	cancel()
	<-sampled
	t.Logf("dev server RSS: %d MiB idle, high-water %d MiB (bound %d MiB); ordinary client: %d queries, slowest %v",
		idle>>10, hwm>>10, pipelineRSSBound>>20, queries, slowest)
	if exceeded.Load() {
		t.Fatalf("the dev server's resident memory passed the stated bound of %d MiB", pipelineRSSBound>>20)
	}
	if queryErr != nil {
		t.Errorf("the ordinary client failed during the attack: %v", queryErr)
	}
	if queries < 3 || slowest > 5*time.Second {
		t.Errorf("the ordinary client was starved: %d queries, slowest %v", queries, slowest)
	}
}

// TestAppendJSONTextMatchesEncodingJSON: the copy-free encoder writes what json.Marshal writes.
func TestAppendJSONTextMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `quote " backslash \ slash /`, "<html>&amp;", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"é ü 日本 🙂", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate"}
	for i := range 256 {
		cases = append(cases, string([]byte{byte(i), 'a', byte(255 - i)}))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		var buf bytes.Buffer
		appendJSONText(&buf, []byte(s))
		if buf.String() != string(want) {
			t.Errorf("appendJSONText(%q) = %s, json.Marshal = %s", s, buf.String(), want)
		}
	}
}
