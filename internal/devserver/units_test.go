package devserver

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseExpiration(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"1s": time.Second, "30m": 30 * time.Minute, "7d": 7 * 24 * time.Hour,
		"2w1d30m": (15*24)*time.Hour + 30*time.Minute, "1h": time.Hour,
	} {
		got, err := parseExpiration(in, now)
		if err != nil || got == nil || got.Sub(now) != want {
			t.Errorf("%q: %v %v, want +%v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "never"} {
		if got, err := parseExpiration(in, now); got != nil || err != nil {
			t.Errorf("%q: %v %v, want never", in, got, err)
		}
	}
	for _, in := range []string{"soon", "7", "d7", "7x", "0d", "-1d", "7d ", "1d1"} {
		if _, err := parseExpiration(in, now); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestParseSizeLimit(t *testing.T) {
	for in, want := range map[string]int64{
		`"10000"`: 10000, `"1mb"`: 1e6, `"256MB"`: 256e6, `"1gb"`: 1e9, `"2kb"`: 2000, `12345`: 12345,
		`""`: 0, `null`: 0, `"0"`: 0,
	} {
		got, err := parseSizeLimit(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`"lots"`, `"1 parsec"`, `-5`, `true`, `"-1mb"`, `"99999999999999999999gb"`} {
		if _, err := parseSizeLimit(json.RawMessage(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestLeadingKeyword(t *testing.T) {
	for in, want := range map[string]string{
		"select 1":                         "SELECT",
		"  -- c\n /* x */ attach 'a' as b": "ATTACH",
		";;PRAGMA x":                       "PRAGMA",
		"/* unterminated":                  "",
		"":                                 "",
	} {
		if got := leadingKeyword(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestIdleConnectionsAreReaped(t *testing.T) {
	e := &dbEntry{path: filepath.Join(t.TempDir(), "r.db")}
	old, fresh := time.Now().Add(-time.Hour), time.Now()
	for _, since := range []time.Time{old, old, fresh} {
		c, err := openSQLite(e.path, 1000)
		if err != nil {
			t.Fatal(err)
		}
		e.idle = append(e.idle, idleConn{conn: c, since: since})
	}
	e.reapIdle(time.Now().Add(-time.Minute))
	if len(e.idle) != 1 || !e.idle[0].since.Equal(fresh) {
		t.Fatalf("after reaping: %d idle", len(e.idle))
	}
	e.closeIdle()
	if len(e.idle) != 0 {
		t.Fatal("closeIdle left connections")
	}
}

func TestOpenSQLiteFailure(t *testing.T) {
	// A directory that does not exist cannot hold the file: the error names the path.
	_, err := openSQLite(filepath.Join(t.TempDir(), "missing", "x.db"), 1000)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open in a missing directory: %v", err)
	}
}
