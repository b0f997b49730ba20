package platformtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// The seeding and point-in-time restore part of the contract: a database created from a template
// is an independent copy; one created from a database at a restore point holds what it held then;
// a missing source or a time without history is refused and creates nothing.

func fill(ctx context.Context, t *testing.T, p platform.Platform, name string) (*platform.Database, platform.Token) {
	t.Helper()
	db := mustCreate(ctx, t, p, name)
	tok, err := p.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatalf("token %s: %v", name, err)
	}
	h := open(t, p, db, tok)
	if _, err := h.ExecContext(ctx, `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL, tag TEXT)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body, tag) VALUES ('a', 'x'), ('b', 'y')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	return db, tok
}

func openNew(ctx context.Context, t *testing.T, p platform.Platform, db *platform.Database) platform.Token {
	t.Helper()
	tok, err := p.CreateToken(ctx, db.Name, platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatalf("token %s: %v", db.Name, err)
	}
	return tok
}

func seedFromTemplate(ctx context.Context, t *testing.T, p platform.Platform) {
	tmpl, tmplTok := fill(ctx, t, p, "contract-tmpl")
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-seeded",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: tmpl.Name}})
	if err != nil {
		t.Fatalf("create seeded: %v", err)
	}
	if db.Name != "contract-seeded" || db.URL == "" || db.URL == tmpl.URL {
		t.Fatalf("seeded database = %+v; want its own name and URL", db)
	}
	h := open(t, p, db, openNew(ctx, t, p, db))
	if n := count(ctx, t, h); n != 2 {
		t.Fatalf("seeded copy has %d notes, want the template's 2", n)
	}
	// An independent copy: writing to it leaves the template as it was.
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('c')`); err != nil {
		t.Fatalf("write copy: %v", err)
	}
	if n := count(ctx, t, open(t, p, tmpl, tmplTok)); n != 2 {
		t.Fatalf("template has %d notes after writing the copy, want 2", n)
	}
	// Creating it again reports the existing database; nothing is copied over it.
	again, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-seeded",
		Seed: &platform.Seed{Database: tmpl.Name}})
	if !errors.Is(err, platform.ErrAlreadyExists) || again == nil {
		t.Fatalf("create seeded again: %v, %+v; want the existing one with ErrAlreadyExists", err, again)
	}
	if n := count(ctx, t, h); n != 3 {
		t.Fatalf("copy has %d notes after a second create, want 3 (untouched)", n)
	}
}

func seedMissingSource(ctx context.Context, t *testing.T, p platform.Platform) {
	_, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-orphan",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: "contract-no-such-db"}})
	if err == nil || !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("seed from a missing database: %v; want an error wrapping ErrNotFound", err)
	}
	if !contains(err.Error(), "contract-no-such-db") {
		t.Fatalf("error %q does not name the missing source", err)
	}
	if _, err := p.GetDatabase(ctx, "contract-orphan"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("a refused seeded create left a database behind: %v", err)
	}
	if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-orphan",
		Seed: &platform.Seed{Type: "dump", Database: "x"}}); err == nil {
		t.Fatal("an unsupported seed type was accepted")
	}
}

func restoreToPoint(ctx context.Context, t *testing.T, p platform.Platform) {
	src, tok := fill(ctx, t, p, "contract-pitr")
	h := open(t, p, src, tok)
	at, err := platform.RestorePoint(ctx, p, src.Name)
	if err != nil {
		t.Fatalf("restore point: %v", err)
	}
	// The destructive change the restore point is for, and a write after it.
	if _, err := h.ExecContext(ctx, `ALTER TABLE notes DROP COLUMN tag`); err != nil {
		t.Fatalf("drop column: %v", err)
	}
	if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('after')`); err != nil {
		t.Fatalf("insert after: %v", err)
	}
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-pitr-restored",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: src.Name, Timestamp: &at}})
	if err != nil {
		t.Fatalf("create from %s at %s: %v", src.Name, platform.FormatRestorePoint(at), err)
	}
	r := open(t, p, db, openNew(ctx, t, p, db))
	rows, err := r.QueryContext(ctx, `SELECT body, tag FROM notes ORDER BY id`)
	if err != nil {
		t.Fatalf("the restored copy lacks the dropped column: %v", err)
	}
	var got []string
	for rows.Next() {
		var b, tag string
		if err := rows.Scan(&b, &tag); err != nil {
			t.Fatal(err)
		}
		got = append(got, b+"/"+tag)
	}
	rows.Close()
	if len(got) != 2 || got[0] != "a/x" || got[1] != "b/y" {
		t.Fatalf("restored rows = %v, want [a/x b/y] (as before the drop, without the later write)", got)
	}
	// The source is kept as it is now, for inspection.
	if n := count(ctx, t, h); n != 3 {
		t.Fatalf("source has %d notes after the restore, want 3", n)
	}

	// A moment outside the history: refused with ErrNoRestorePoint, nothing created.
	old := time.Now().Add(-30 * 24 * time.Hour)
	_, err = p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-pitr-too-old",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: src.Name, Timestamp: &old}})
	if !errors.Is(err, platform.ErrNoRestorePoint) {
		t.Fatalf("seed 30 days back: %v; want an error wrapping ErrNoRestorePoint", err)
	}
	if _, err := p.GetDatabase(ctx, "contract-pitr-too-old"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("a refused restore left a database behind: %v", err)
	}

	// Deleting the database deletes its history: nothing can be restored from it any more.
	h.Close()
	if err := p.DeleteDatabase(ctx, src.Name); err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-pitr-after-delete",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: src.Name, Timestamp: &at}})
	if err == nil {
		t.Fatal("restored from a deleted database's history")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
