// Package platformtest owns the contract every platform.Platform implementation must meet: one
// suite of assertions that runs unchanged against the local backend and against the Turso
// backend talking to `objectstack dev`, so the two cannot drift apart.
package platformtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// Options says what the backend under test enforces beyond the common contract.
type Options struct {
	// TokensEnforced: a rotated token is refused and read-only tokens cannot write (Turso and
	// objectstack dev). Local files have no server to check a token, so their tokens are empty.
	TokensEnforced bool
	// Timeout bounds each subtest (default 30s).
	Timeout time.Duration
}

// Run runs the contract against platforms made by newPlatform; each subtest gets a fresh one.
func Run(t *testing.T, newPlatform func(t *testing.T) platform.Platform, opts Options) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("Lifecycle", func(t *testing.T) { lifecycle(ctxFor(t), t, newPlatform(t), opts) })
	t.Run("CreateExistingReturnsItWithErrAlreadyExists", func(t *testing.T) { createExisting(ctxFor(t), t, newPlatform(t)) })
	t.Run("ConcurrentCreateHasOneWinner", func(t *testing.T) { concurrentCreate(ctxFor(t), t, newPlatform(t)) })
	t.Run("InvalidNamesCreateNothing", func(t *testing.T) { invalidNames(ctxFor(t), t, newPlatform(t)) })
	t.Run("MissingDatabase", func(t *testing.T) { missing(ctxFor(t), t, newPlatform(t)) })
	t.Run("TokenOptions", func(t *testing.T) { tokenOptions(ctxFor(t), t, newPlatform(t), opts) })
	t.Run("SeedFromTemplate", func(t *testing.T) { seedFromTemplate(ctxFor(t), t, newPlatform(t)) })
	t.Run("SeedFromMissingDatabase", func(t *testing.T) { seedMissingSource(ctxFor(t), t, newPlatform(t)) })
	t.Run("RestoreToPointInTime", func(t *testing.T) { restoreToPoint(ctxFor(t), t, newPlatform(t)) })
}

func mustCreate(ctx context.Context, t *testing.T, p platform.Platform, name string) *platform.Database {
	t.Helper()
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: name})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if db == nil || db.Name != name || db.URL == "" {
		t.Fatalf("create %s returned %+v; want its name and a URL", name, db)
	}
	return db
}

func open(t *testing.T, p platform.Platform, db *platform.Database, tok platform.Token) *sql.DB {
	t.Helper()
	h, err := platform.Open(p, db, tok)
	if err != nil {
		t.Fatalf("open %s: %v", db.Name, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func count(ctx context.Context, t *testing.T, h *sql.DB) int {
	t.Helper()
	var n int
	if err := h.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil {
		t.Fatalf("select: %v", err)
	}
	return n
}

func listed(ctx context.Context, t *testing.T, p platform.Platform, group, name string) bool {
	t.Helper()
	dbs, err := p.ListDatabases(ctx, group)
	if err != nil {
		t.Fatalf("list %q: %v", group, err)
	}
	for _, d := range dbs {
		if d.Name == name {
			return true
		}
	}
	return false
}

func lifecycle(ctx context.Context, t *testing.T, p platform.Platform, opts Options) {
	if p.Kind() == "" {
		t.Fatal("Kind is empty")
	}
	const name = "contract-lifecycle"
	created := mustCreate(ctx, t, p, name)

	got, err := p.GetDatabase(ctx, name)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Name != name || got.URL != created.URL || got.DbID != created.DbID || got.BlockWrites {
		t.Fatalf("get = %+v, created = %+v", got, created)
	}
	if !listed(ctx, t, p, "", name) || !listed(ctx, t, p, got.Group, name) {
		t.Fatalf("list does not show %s (group %q)", name, got.Group)
	}

	tok, err := p.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if opts.TokensEnforced && tok.JWT == "" {
		t.Fatal("token is empty on a backend that enforces tokens")
	}
	h := open(t, p, got, tok)
	if _, err := h.ExecContext(ctx, `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES (?), (?)`, "a", "b"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if n := count(ctx, t, h); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	h.Close()

	if err := p.RotateTokens(ctx, name); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if opts.TokensEnforced {
		old := open(t, p, got, tok)
		if _, err := old.ExecContext(ctx, `SELECT 1`); err == nil {
			t.Fatal("old token still accepted after rotate")
		}
		old.Close()
	}
	tok, err = p.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeFullAccess, Expiration: "1h"})
	if err != nil {
		t.Fatalf("token after rotate: %v", err)
	}
	h = open(t, p, got, tok)
	if n := count(ctx, t, h); n != 2 {
		t.Fatalf("data after rotate: count = %d, want 2", n)
	}
	h.Close()

	if opts.TokensEnforced {
		ro, err := p.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeReadOnly})
		if err != nil {
			t.Fatalf("read-only token: %v", err)
		}
		rh := open(t, p, got, ro)
		if n := count(ctx, t, rh); n != 2 {
			t.Fatalf("read-only count = %d", n)
		}
		if _, err := rh.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('no')`); err == nil {
			t.Fatal("read-only token could write")
		}
		rh.Close()
	}

	yes, no := true, false
	if err := p.Configure(ctx, name, platform.Configuration{BlockWrites: &yes}); err != nil {
		t.Fatalf("block writes: %v", err)
	}
	if got, err = p.GetDatabase(ctx, name); err != nil || !got.BlockWrites {
		t.Fatalf("after block_writes: %+v, %v", got, err)
	}
	h = open(t, p, got, tok)
	if n := count(ctx, t, h); n != 2 {
		t.Fatalf("blocked database: count = %d, want reads to work", n)
	}
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('blocked')`); err == nil {
		t.Fatal("write succeeded while writes are blocked")
	}
	h.Close()
	if err := p.Configure(ctx, name, platform.Configuration{BlockWrites: &no}); err != nil {
		t.Fatalf("unblock writes: %v", err)
	}
	if got, err = p.GetDatabase(ctx, name); err != nil || got.BlockWrites {
		t.Fatalf("after unblock: %+v, %v", got, err)
	}
	h = open(t, p, got, tok)
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('c')`); err != nil {
		t.Fatalf("write after unblock: %v", err)
	}
	if n := count(ctx, t, h); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	h.Close()

	if err := p.DeleteDatabase(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := p.GetDatabase(ctx, name); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if listed(ctx, t, p, "", name) {
		t.Fatal("deleted database still listed")
	}
	if err := p.DeleteDatabase(ctx, name); err != nil {
		t.Fatalf("second delete: %v, want success", err)
	}
	// The name is free again, and the new database starts empty.
	again := mustCreate(ctx, t, p, name)
	tok, err = p.CreateToken(ctx, name, platform.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h = open(t, p, again, tok)
	var tables int
	if err := h.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'notes'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("recreated database has notes table: %d, %v", tables, err)
	}
	h.Close()
	if err := p.DeleteDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func createExisting(ctx context.Context, t *testing.T, p platform.Platform) {
	first := mustCreate(ctx, t, p, "contract-existing")
	second, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-existing"})
	if !errors.Is(err, platform.ErrAlreadyExists) {
		t.Fatalf("second create: err = %v, want ErrAlreadyExists", err)
	}
	if second == nil || second.Name != first.Name || second.DbID != first.DbID || second.URL != first.URL {
		t.Fatalf("second create returned %+v, want the existing %+v", second, first)
	}
	if err := p.DeleteDatabase(ctx, "contract-existing"); err != nil {
		t.Fatal(err)
	}
}

func concurrentCreate(ctx context.Context, t *testing.T, p platform.Platform) {
	const n = 6
	var wg sync.WaitGroup
	dbs := make([]*platform.Database, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-race"})
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			winners++
		case !errors.Is(errs[i], platform.ErrAlreadyExists):
			t.Fatalf("creator %d: %v", i, errs[i])
		}
		if dbs[i] == nil || dbs[i].DbID != dbs[0].DbID {
			t.Fatalf("creator %d got %+v, creator 0 got %+v", i, dbs[i], dbs[0])
		}
	}
	if winners != 1 {
		t.Fatalf("%d creators succeeded, want exactly 1", winners)
	}
	if err := p.DeleteDatabase(ctx, "contract-race"); err != nil {
		t.Fatal(err)
	}
}

func invalidNames(ctx context.Context, t *testing.T, p platform.Platform) {
	bad := []string{"", "Upper", "under_score", "dot.name", "slash/name", "../escape", "space name", "ünïcode", strings.Repeat("a", platform.MaxNameLength+1)}
	for _, name := range bad {
		db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: name})
		if !errors.Is(err, platform.ErrInvalidName) || db != nil {
			t.Errorf("create %q: %+v, %v; want ErrInvalidName", name, db, err)
		}
		if _, err := p.GetDatabase(ctx, name); !errors.Is(err, platform.ErrInvalidName) {
			t.Errorf("get %q: %v; want ErrInvalidName", name, err)
		}
		if err := p.DeleteDatabase(ctx, name); !errors.Is(err, platform.ErrInvalidName) {
			t.Errorf("delete %q: %v; want ErrInvalidName", name, err)
		}
	}
	dbs, err := p.ListDatabases(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 0 {
		t.Fatalf("invalid names created %+v", dbs)
	}
	// The longest valid name works.
	long := strings.Repeat("a", platform.MaxNameLength)
	mustCreate(ctx, t, p, long)
	if err := p.DeleteDatabase(ctx, long); err != nil {
		t.Fatal(err)
	}
}

func missing(ctx context.Context, t *testing.T, p platform.Platform) {
	const name = "contract-missing"
	if _, err := p.GetDatabase(ctx, name); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("get: %v, want ErrNotFound", err)
	}
	if err := p.DeleteDatabase(ctx, name); err != nil {
		t.Errorf("delete: %v, want success", err)
	}
	if _, err := p.CreateToken(ctx, name, platform.TokenOptions{}); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("token: %v, want ErrNotFound", err)
	}
	if err := p.RotateTokens(ctx, name); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("rotate: %v, want ErrNotFound", err)
	}
	yes := true
	if err := p.Configure(ctx, name, platform.Configuration{BlockWrites: &yes}); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("configure: %v, want ErrNotFound", err)
	}
	if listed(ctx, t, p, "", name) {
		t.Error("a call on a missing database created it")
	}
}

func tokenOptions(ctx context.Context, t *testing.T, p platform.Platform, opts Options) {
	const name = "contract-tokens"
	mustCreate(ctx, t, p, name)
	defer func() {
		if err := p.DeleteDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	}()
	for _, bad := range []platform.TokenOptions{
		{Scope: "full_access"},
		{Scope: "admin"},
		{Expiration: "soon"},
		{Expiration: "7"},
		{Expiration: "-1d"},
	} {
		if _, err := p.CreateToken(ctx, name, bad); err == nil {
			t.Errorf("token %+v accepted", bad)
		}
	}
	before := time.Now()
	tok, err := p.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeReadOnly, Expiration: "7d"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.TokensEnforced {
		if tok.Expiration == nil {
			t.Fatal("7d token has no expiration")
		}
		want := before.Add(7 * 24 * time.Hour)
		if d := tok.Expiration.Sub(want); d < -time.Minute || d > time.Minute {
			t.Fatalf("expiration %s, want about %s", tok.Expiration, want)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok); tok.JWT != "" && strings.Contains(s, tok.JWT) {
		t.Fatal("token printed by fmt")
	}
	never, err := p.CreateToken(ctx, name, platform.TokenOptions{Expiration: "never"})
	if err != nil {
		t.Fatal(err)
	}
	if never.Expiration != nil {
		t.Fatalf("never-expiring token has expiration %s", never.Expiration)
	}
}
