package platform

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Mon, 02 Jan 2026 03:05:35 GMT", 90 * time.Second, true},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoffExponentialWithJitterAndCap(t *testing.T) {
	tc := &Turso{maxRetryAfter: 3 * time.Second}
	minW, maxW := 100*time.Millisecond, 2*time.Second
	for attempt := 0; attempt < 40; attempt++ {
		want := minW << attempt
		if attempt >= 5 || want > maxW {
			want = maxW
		}
		for range 50 {
			d := tc.backoff(minW, maxW, attempt, nil)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"2"}}}
	if d := tc.backoff(minW, maxW, 0, resp); d != 2*time.Second {
		t.Fatalf("Retry-After 2: %s", d)
	}
	resp.Header.Set("Retry-After", "86400")
	if d := tc.backoff(minW, maxW, 0, resp); d != 3*time.Second {
		t.Fatalf("Retry-After capped: %s", d)
	}
}

func TestAPIErrorClassification(t *testing.T) {
	cases := []struct {
		status        int
		msg           string
		exists, found bool
	}{
		{409, "database with name x already exists", true, false},
		{409, "", true, false},
		{400, "database with same name already exists", true, false},
		{422, "Database Already Exists", true, false},
		{400, "group not found", false, true},
		{404, "", false, true},
		{404, "could not find database with name x: record not found", false, true},
		{404, "organization not found", false, false},
		{400, "organization acme not found", false, false},
		{401, "token not found", false, false},
		{403, "already exists", false, false},
		{500, "not found", false, false},
	}
	for _, c := range cases {
		e := &APIError{Status: c.status, Message: c.msg}
		if errors.Is(e, ErrAlreadyExists) != c.exists || errors.Is(e, ErrNotFound) != c.found {
			t.Errorf("%d %q: exists=%v notfound=%v", c.status, c.msg, errors.Is(e, ErrAlreadyExists), errors.Is(e, ErrNotFound))
		}
	}
}

func TestRedactorScrubs(t *testing.T) {
	r := &redactor{}
	r.add("sk-api-token-123456")
	r.add("short") // too short to be a secret; never scrubbed
	in := "tok sk-api-token-123456 hdr Authorization: Bearer abc.def-ghi jwt eyJhbGciOi.eyJzdWIiOjF9.c2lnbmF0dXJl short"
	got := r.scrub(in)
	for _, s := range []string{"sk-api-token", "abc.def-ghi", "eyJ"} {
		if strings.Contains(got, s) {
			t.Fatalf("%q survived: %s", s, got)
		}
	}
	if !strings.Contains(got, "short") {
		t.Fatalf("over-scrubbed: %s", got)
	}
	for i := range 2 * maxRememberedSecrets {
		r.add(strings.Repeat("x", 10) + string(rune('a'+i%26)) + strings.Repeat("y", i%50))
	}
	if len(r.secrets) > maxRememberedSecrets || r.secrets[0] != "sk-api-token-123456" {
		t.Fatalf("secrets list %d long, first %q", len(r.secrets), r.secrets[0])
	}
}

func TestParseExpiration(t *testing.T) {
	good := map[string]time.Duration{"": 0, "never": 0, "7d": 7 * 24 * time.Hour, "2w1d30m": 15*24*time.Hour + 30*time.Minute, "90s": 90 * time.Second, "1h": time.Hour}
	for in, want := range good {
		if got, err := ParseExpiration(in); err != nil || got != want {
			t.Errorf("%q = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"7", "d", "1y", "-1d", "0d", "1.5h", "99999999d"} {
		if _, err := ParseExpiration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "tenant-1", "0abc", strings.Repeat("z", 64)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "a_b", "a.b", "a b", "a/b", strings.Repeat("z", 65)} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
