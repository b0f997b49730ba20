package database

import (
	"context"
	"path/filepath"
	"strings"
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

// TestOpenTLSQueryParameter checks the "?tls=" forms Turso's clients accept. Opening makes no
// request, so what is asserted is what the URL is turned into; the devserver tests connect with
// "libsql://<Hostname>?tls=0" for real.
func TestOpenTLSQueryParameter(t *testing.T) {
	for _, dsn := range []string{"libsql://127.0.0.1:8080?tls=0", "libsql://db.example?tls=1", "http://127.0.0.1:8080?tls=0", "https://db.example?tls=1"} {
		db, err := Open(dsn, "tok")
		if err != nil {
			t.Errorf("Open(%q): %v", dsn, err)
			continue
		}
		db.Close()
	}
	for dsn, want := range map[string]string{
		"libsql://127.0.0.1?tls=0":                         "explicit port",
		"libsql://127.0.0.1:8080?tls=yes":                  "valid values are 0 and 1",
		"http://127.0.0.1:8080?tls=1":                      "cannot opt in to TLS",
		"https://db.example?tls=0":                         "cannot opt out of TLS",
		"libsql://127.0.0.1:8080?tls=0&authToken=s3cr3t-x": "WithAuthToken",
	} {
		_, err := Open(dsn, "tok-s3cr3t")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", dsn, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Open(%q) error leaks a secret: %v", dsn, err)
		}
	}
}
