package platform

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// validateTokenOptions checks the scope and Turso's expiration syntax before any call, so a
// typo fails fast with a clear message instead of a 400 from the API.
func validateTokenOptions(opts TokenOptions) error {
	switch opts.Scope {
	case "", ScopeFullAccess, ScopeReadOnly:
	default:
		return fmt.Errorf("token scope %q: want %q or %q", opts.Scope, ScopeFullAccess, ScopeReadOnly)
	}
	_, err := ParseExpiration(opts.Expiration)
	return err
}

// ParseExpiration parses Turso's token expiration ("never", "", or unit groups such as
// "2w1d30m"; units w, d, h, m, s). Zero means the token never expires.
func ParseExpiration(s string) (time.Duration, error) {
	if s == "" || s == "never" {
		return 0, nil
	}
	var total time.Duration
	num := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if num < 0 {
				num = 0
			}
			num = num*10 + int(c-'0')
			if num > 1_000_000 {
				return 0, fmt.Errorf("token expiration %q: number too large", s)
			}
			continue
		}
		if num < 0 {
			return 0, fmt.Errorf("token expiration %q: want forms like 2w, 7d, 30m, 2w1d30m or never", s)
		}
		var unit time.Duration
		switch c {
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm':
			unit = time.Minute
		case 's':
			unit = time.Second
		default:
			return 0, fmt.Errorf("token expiration %q: unknown unit %q (want w, d, h, m or s)", s, string(c))
		}
		total += time.Duration(num) * unit
		num = -1
	}
	if num >= 0 {
		return 0, fmt.Errorf("token expiration %q: number without a unit", s)
	}
	if total <= 0 {
		return 0, fmt.Errorf("token expiration %q: must be positive", s)
	}
	return total, nil
}

// tokenExpiry reads the exp claim of a JWT without verifying it (we only report it; the server
// verifies), falling back to now+requested for tokens that are not JWTs.
func tokenExpiry(jwt string, requested time.Duration, now time.Time) *time.Time {
	parts := strings.Split(jwt, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var claims struct {
				Exp *float64 `json:"exp"`
			}
			if json.Unmarshal(payload, &claims) == nil && claims.Exp != nil && *claims.Exp > 0 {
				t := time.Unix(int64(*claims.Exp), 0).UTC()
				return &t
			}
		}
	}
	if requested <= 0 {
		return nil
	}
	t := now.Add(requested).UTC()
	return &t
}
