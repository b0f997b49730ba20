package database

import (
	"context"
	"path/filepath"
	"testing"
)

func TestOpenFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, 7); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT a FROM t`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("got %d, %v", n, err)
	}
}

func TestRedact(t *testing.T) {
	got := Redact("libsql://u:secret@db.example/x?authToken=abc&x=1")
	if got != "libsql://db.example/x?authToken=REDACTED&x=1" {
		t.Fatal(got)
	}
}
