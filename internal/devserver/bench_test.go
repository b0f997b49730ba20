package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkHranaSelectOneRow measures Hrana pipeline requests per second on loopback for a
// one-row SELECT.
//
//   - libsql-client-go: db.QueryRow through the client, as the Turso backend runs it. Each
//     query is one execute pipeline on a fresh stream; the client also sends the previous
//     stream's close asynchronously, so the server handles ~2 HTTP requests per query.
//   - raw-http: one execute per pipeline on a single stream, chaining batons, over a
//     keep-alive connection (the server's cost per request without client overhead).
func BenchmarkHranaSelectOneRow(b *testing.B) {
	ts := startServer(b, Options{})
	ts.createDB("bench")
	tok := ts.token("bench", "")
	ts.pipeline("bench", tok, pipelineBody("",
		execReq("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)"),
		execReq("INSERT INTO kv VALUES (1, 'one')")))

	b.Run("libsql-client-go", func(b *testing.B) {
		db := ts.client("bench", tok)
		ctx := context.Background()
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, 1).Scan(&v); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, 1).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})

	b.Run("raw-http", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		url := DatabaseURL(ts.url, "bench") + "/v2/pipeline"
		send := func(baton string) string {
			body := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT v FROM kv WHERE k = ?","args":[{"type":"integer","value":"1"}]}}]}`
			if baton != "" {
				body = `{"baton":"` + baton + `",` + body[1:]
			}
			req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out struct {
				Baton   string `json:"baton"`
				Results []struct {
					Type string `json:"type"`
				} `json:"results"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || len(out.Results) != 1 || out.Results[0].Type != "ok" {
				b.Fatalf("pipeline: %d %s", resp.StatusCode, raw)
			}
			return out.Baton
		}
		baton := send("")
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			baton = send(baton)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}
