// Package platform owns the database platform behind tenants: one interface, Platform, with a
// local implementation (SQLite files under a data folder, the embedded default) and a Turso
// implementation (a Platform API client that also talks to `objectstack dev`).
package platform

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped) so callers can branch with errors.Is.
var (
	ErrNotFound      = errors.New("database not found")
	ErrAlreadyExists = errors.New("database already exists")
)

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
}

// CreateOptions names a database to create.
type CreateOptions struct {
	Name  string
	Group string
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

// Configuration is the subset of a database's configuration the tenant lifecycle changes.
// A nil field is left as it is.
type Configuration struct {
	BlockWrites    *bool
	BlockReads     *bool
	SizeLimitBytes *int64
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
