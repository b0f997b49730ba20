package devserver

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// dbClaims are the claims of a database token. a and id follow sqld's JWT strategy
// (auth/user_auth_strategies/jwt.rs); did and gen are this server's: the token names the
// database incarnation (a recreated database of the same name rejects old tokens) and the
// rotation generation (auth/rotate bumps it, invalidating every earlier token).
type dbClaims struct {
	Access string `json:"a"`
	DB     string `json:"id"`
	DBID   string `json:"did"`
	Gen    int64  `json:"gen"`
	// GroupID marks a group token (groups.go): the group's uuid; DB and DBID are then empty and
	// Gen is the group's token generation.
	GroupID string `json:"gid,omitempty"`
	jwt.RegisteredClaims
}

type tokenIssuer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey

	mu    sync.Mutex
	cache map[string]*dbClaims // verified signatures; exp/gen are re-checked on every use
}

func newTokenIssuer(seed []byte) *tokenIssuer {
	priv := ed25519.NewKeyFromSeed(seed)
	return &tokenIssuer{priv: priv, pub: priv.Public().(ed25519.PublicKey), cache: map[string]*dbClaims{}}
}

func (t *tokenIssuer) mint(e *dbEntry, gen int64, readOnly bool, exp *time.Time) (string, error) {
	return t.sign(dbClaims{DB: e.name, DBID: e.dbID, Gen: gen}, readOnly, exp)
}

// mintGroup signs a group token: valid for every database of the group while the group's gen holds.
func (t *tokenIssuer) mintGroup(groupID string, gen int64, readOnly bool, exp *time.Time) (string, error) {
	return t.sign(dbClaims{GroupID: groupID, Gen: gen}, readOnly, exp)
}

func (t *tokenIssuer) sign(c dbClaims, readOnly bool, exp *time.Time) (string, error) {
	c.Access = "rw"
	if readOnly {
		c.Access = "ro"
	}
	c.IssuedAt = jwt.NewNumericDate(time.Now())
	if exp != nil {
		c.ExpiresAt = jwt.NewNumericDate(*exp)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(t.priv)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// verify checks a token's signature (cached) and expiry; the caller checks database and gen.
func (t *tokenIssuer) verify(token string) (*dbClaims, error) {
	t.mu.Lock()
	c, ok := t.cache[token]
	t.mu.Unlock()
	if !ok {
		var parsed dbClaims
		_, err := jwt.ParseWithClaims(token, &parsed, func(*jwt.Token) (any, error) { return t.pub, nil },
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}))
		if err != nil {
			if errors.Is(err, jwt.ErrTokenExpired) {
				return nil, errors.New("the token has expired")
			}
			return nil, errors.New("the token is invalid")
		}
		c = &parsed
		t.mu.Lock()
		if len(t.cache) >= 4096 {
			clear(t.cache)
		}
		t.cache[token] = c
		t.mu.Unlock()
	}
	if c.ExpiresAt != nil && !time.Now().Before(c.ExpiresAt.Time) {
		return nil, errors.New("the token has expired")
	}
	return c, nil
}

var expirationPart = regexp.MustCompile(`^(\d+)(w|d|h|m|s)`)

// parseExpiration parses Turso's token expiration ("never", "7d", "2w1d30m"); nil means never.
func parseExpiration(s string, now time.Time) (*time.Time, error) {
	if s == "" || s == "never" {
		return nil, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		m := expirationPart.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("invalid expiration %q", s)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("invalid expiration %q", s)
		}
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second}[m[2]]
		total += time.Duration(n) * unit
		rest = rest[len(m[0]):]
	}
	if total <= 0 {
		return nil, fmt.Errorf("invalid expiration %q", s)
	}
	t := now.Add(total)
	return &t, nil
}
