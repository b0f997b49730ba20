// Package platform owns the database platform behind tenants: one interface, Platform, with a
// local implementation (SQLite files under a data folder, the embedded default) and a Turso
// implementation (a Platform API client that also talks to `objectstack dev`).
//
// Open a tenant database with Open(p, db, tok) rather than database.Open(db.URL, ...): the
// local backend enforces block_writes and size limits through the URL it opens with. The
// contract both backends meet is the suite in internal/platform/platformtest.
package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Errors every implementation returns (wrapped) so callers can branch with errors.Is.
var (
	ErrNotFound      = errors.New("database not found")
	ErrAlreadyExists = errors.New("database already exists")
	ErrInvalidName   = errors.New("invalid database name")
	// ErrDeleteProtected: the database (or group) has delete_protection on; turn it off first.
	ErrDeleteProtected = errors.New("delete_protection is enabled")
)

// MaxNameLength is Turso's limit on database names, which the local backend shares so a
// tenant can move between backends without renaming.
const MaxNameLength = 64

// ValidateName checks a database name against Turso's rule: lowercase letters, digits and
// dashes, at most 64 characters. Both backends apply it before touching anything.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%w %q: longer than %d characters", ErrInvalidName, name, MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("%w %q: only lowercase letters, digits and dashes are allowed", ErrInvalidName, name)
		}
	}
	return nil
}

// TokenScope is a database token's authorization, in Turso's hyphenated spelling.
type TokenScope string

// Token scopes.
const (
	ScopeFullAccess TokenScope = "full-access"
	ScopeReadOnly   TokenScope = "read-only"
)

// Database describes one tenant database (TursoDatabaseInfo plus the URL to open it with).
type Database struct {
	Name          string `json:"name"`
	DbID          string `json:"dbId"`
	Hostname      string `json:"hostname"`
	Group         string `json:"group"`
	PrimaryRegion string `json:"primaryRegion"`
	// URL opens the database through internal/database: libsql://<hostname> for Turso,
	// http://127.0.0.1:<port>/... for `objectstack dev`, a file path for the local backend.
	URL         string `json:"url"`
	BlockWrites bool   `json:"blockWrites"`
	BlockReads  bool   `json:"blockReads"`
	SizeLimit   string `json:"sizeLimit,omitempty"`
	// DeleteProtection: DeleteDatabase fails (ErrDeleteProtected) until it is turned off.
	DeleteProtection bool `json:"deleteProtection,omitempty"`
}

// CreateOptions names a database to create.
type CreateOptions struct {
	Name string
	// Group is the Turso group (the local backend records it); empty means the backend's default.
	Group string
	// SizeLimitBytes, when positive, is sent as Turso's size_limit (local: recorded like Configure).
	SizeLimitBytes int64
	// Seed, when set, creates the database as a copy of another one (see Seed); nil means empty.
	Seed *Seed
}

// TokenOptions asks for a database token.
type TokenOptions struct {
	Scope TokenScope
	// Expiration in Turso's form ("2w", "7d", "30m", "never"); empty means never.
	Expiration string
}

// Token is a database token. JWT is a secret: never log or print it.
type Token struct {
	JWT        string
	Expiration *time.Time
}

// String keeps the secret out of fmt output.
func (Token) String() string { return "Token(REDACTED)" }

// GoString keeps the secret out of %#v output.
func (Token) GoString() string { return "Token(REDACTED)" }

// LogValue keeps the secret out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Configuration is the subset of a database's configuration the tenant lifecycle changes.
// A nil field is left as it is.
type Configuration struct {
	BlockWrites    *bool
	BlockReads     *bool
	SizeLimitBytes *int64
	// DeleteProtection makes DeleteDatabase fail with ErrDeleteProtected while it is on.
	DeleteProtection *bool
}

// Platform creates, inspects and deletes tenant databases and mints their tokens.
// Every call takes a context; implementations retry only where that is safe.
type Platform interface {
	// Kind is "local" or "turso".
	Kind() string
	// CreateDatabase creates a database; if one with that name exists it returns the existing
	// one together with an error wrapping ErrAlreadyExists, so callers can decide to adopt it.
	CreateDatabase(ctx context.Context, opts CreateOptions) (*Database, error)
	// GetDatabase returns ErrNotFound (wrapped) when there is no such database.
	GetDatabase(ctx context.Context, name string) (*Database, error)
	ListDatabases(ctx context.Context, group string) ([]Database, error)
	// DeleteDatabase treats a database that is already gone as success.
	DeleteDatabase(ctx context.Context, name string) error
	CreateToken(ctx context.Context, name string, opts TokenOptions) (Token, error)
	// RotateTokens invalidates every token of the database.
	RotateTokens(ctx context.Context, name string) error
	Configure(ctx context.Context, name string, cfg Configuration) error
}

// Opener is implemented by backends whose access rules are enforced by whoever opens the
// database rather than by a server: the local backend, where block_writes can only be honoured
// by opening the file read-only. Turso enforces block_writes and tokens server-side.
type Opener interface {
	// OpenURL returns the URL to open the named database with and whether it is read-only.
	OpenURL(name string) (url string, readOnly bool, err error)
}

// Open opens db with tok the way its backend expects: through the backend's Opener when it has
// one (so local block_writes holds), otherwise db.URL with the token. Callers own the handle.
func Open(p Platform, db *Database, tok Token) (*sql.DB, error) {
	dsn := db.URL
	if o, ok := p.(Opener); ok {
		u, _, err := o.OpenURL(db.Name)
		if err != nil {
			return nil, err
		}
		dsn = u
	}
	return database.Open(dsn, tok.JWT)
}
