package devserver

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"
)

// These tests drive the server with libsql-client-go, the client the Turso backend uses.

func TestClientValueTypesAndArgs(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("values")
	db := ts.client("values", ts.token("values", ""))
	ctx := context.Background()

	if _, err := db.ExecContext(ctx, `CREATE TABLE v(id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, at DATETIME)`); err != nil {
		t.Fatal(err)
	}
	blob := []byte{0, 1, 2, 250, 255}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	res, err := db.ExecContext(ctx, `INSERT INTO v(i, f, s, b, n, at) VALUES (?, ?, ?, ?, ?, ?)`, int64(-9007199254740993), 1.25, "héllo 'quoted'", blob, nil, "2024-05-06 07:08:09")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("RowsAffected = %d", n)
	}
	if id, _ := res.LastInsertId(); id != 1 {
		t.Fatalf("LastInsertId = %d", id)
	}
	// Named arguments with every prefix, plus an empty string and an empty blob.
	for i, q := range []string{
		`INSERT INTO v(i, s, b) VALUES (:i, :s, :b)`,
		`INSERT INTO v(i, s, b) VALUES (@i, @s, @b)`,
		`INSERT INTO v(i, s, b) VALUES ($i, $s, $b)`,
	} {
		if _, err := db.ExecContext(ctx, q, sql.Named("i", int64(100+i)), sql.Named("s", ""), sql.Named("b", []byte{})); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	var (
		i    int64
		f    float64
		s    string
		b    []byte
		n    sql.NullString
		when time.Time
	)
	if err := db.QueryRowContext(ctx, `SELECT i, f, s, b, n, at FROM v WHERE id = ?`, 1).Scan(&i, &f, &s, &b, &n, &when); err != nil {
		t.Fatal(err)
	}
	if i != -9007199254740993 || f != 1.25 || s != "héllo 'quoted'" || !bytes.Equal(b, blob) || n.Valid || !when.Equal(at) {
		t.Fatalf("round trip: %d %v %q %v %v %v", i, f, s, b, n, when)
	}
	rows, err := db.QueryContext(ctx, `SELECT i, s, b FROM v WHERE id > 1 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&i, &s, &b); err != nil {
			t.Fatal(err)
		}
		if s != "" || len(b) != 0 {
			t.Fatalf("empty values came back as %q %v", s, b)
		}
		got = append(got, i)
	}
	rows.Close()
	if fmt.Sprint(got) != "[100 101 102]" {
		t.Fatalf("named inserts: %v", got)
	}
	// A constraint violation surfaces as an error, not a broken connection.
	if _, err := db.ExecContext(ctx, `INSERT INTO v(id) VALUES (1)`); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("duplicate key: %v", err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClientMultiStatementExec(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("multi")
	db := ts.client("multi", ts.token("multi", ""))
	ctx := context.Background()
	res, err := db.ExecContext(ctx, `CREATE TABLE m(a INTEGER); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2), (3);`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 3 {
		t.Fatalf("RowsAffected = %d, want 3", n)
	}
	// The client's trailing ROLLBACK step only runs when a step failed; inside an explicit
	// transaction it undoes the earlier steps.
	_, err = db.ExecContext(ctx, `BEGIN; INSERT INTO m VALUES (4); INSERT INTO nope VALUES (5);`)
	if err == nil || !strings.Contains(err.Error(), "no such table: nope") {
		t.Fatalf("failing script: %v", err)
	}
	var count int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM m`).Scan(&count); err != nil || count != 3 {
		t.Fatalf("count = %d, %v (the failed script must have rolled back)", count, err)
	}
}

func TestClientTransactionsSpanRequests(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("tx")
	db := ts.client("tx", ts.token("tx", ""))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	var inTx int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&inTx); err != nil || inTx != 3 {
		t.Fatalf("inside tx: %d %v", inTx, err)
	}
	if n := count(); n != 0 {
		t.Fatalf("another stream sees %d uncommitted rows", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("after commit: %d", n)
	}

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM t`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("after rollback: %d", n)
	}
}

func TestClientConcurrentStreams(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("conc")
	db := ts.client("conc", ts.token("conc", ""))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE c(w INTEGER, i INTEGER)`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if i%5 == 4 {
					// Every fifth write goes through a transaction on its own stream.
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						errs <- err
						return
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO c VALUES (?, ?)`, w, i); err != nil {
						tx.Rollback()
						errs <- err
						return
					}
					if err := tx.Commit(); err != nil {
						errs <- err
						return
					}
					continue
				}
				if _, err := db.ExecContext(ctx, `INSERT INTO c VALUES (?, ?)`, w, i); err != nil {
					errs <- err
					return
				}
				var n int
				if err := db.QueryRowContext(ctx, `SELECT count(*) FROM c WHERE w = ?`, w).Scan(&n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM c`).Scan(&n); err != nil || n != workers*each {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestClientTokenChecks(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("auth")
	ts.createDB("other")
	ctx := context.Background()
	full := ts.token("auth", "authorization=full-access&expiration=1d")
	if _, err := ts.client("auth", full).ExecContext(ctx, `CREATE TABLE a(x INTEGER)`); err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{
		"missing":        "",
		"garbage":        "not-a-jwt",
		"other database": ts.token("other", ""),
	} {
		err := ts.client("auth", tok).QueryRowContext(ctx, `SELECT 1`).Scan(new(int))
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("%s token: %v, want 401", name, err)
		}
	}

	// An expired token: minted directly with an expiry in the past.
	ts.run.Server.mu.RLock()
	e := ts.run.Server.dbs["auth"]
	past := time.Now().Add(-time.Minute)
	expired, err := ts.run.Server.tokens.mint(e, e.gen, false, &past)
	ts.run.Server.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.client("auth", expired).QueryRowContext(ctx, `SELECT 1`).Scan(new(int)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}

	ro := ts.client("auth", ts.token("auth", "authorization=read-only"))
	if err := ro.QueryRowContext(ctx, `SELECT count(*) FROM a`).Scan(new(int)); err != nil {
		t.Fatalf("read-only select: %v", err)
	}
	for _, q := range []string{`INSERT INTO a VALUES (1)`, `CREATE TABLE b(y)`, `DROP TABLE a`, `PRAGMA user_version = 7`} {
		if _, err := ro.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("read-only %q: %v", q, err)
		}
	}

	// Rotation invalidates every earlier token, including one already in use.
	rw := ts.client("auth", full)
	if err := rw.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, raw := ts.apiCall("POST", "/databases/auth/auth/rotate", nil); st != 200 {
		t.Fatalf("rotate: %d %s", st, raw)
	}
	if _, err := rw.ExecContext(ctx, `INSERT INTO a VALUES (1)`); err == nil || !strings.Contains(err.Error(), "rotated") {
		t.Errorf("rotated token: %v", err)
	}
	if _, err := ts.client("auth", ts.token("auth", "")).ExecContext(ctx, `INSERT INTO a VALUES (1)`); err != nil {
		t.Errorf("fresh token after rotate: %v", err)
	}
}

func TestClientBlockWritesAndReads(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("blocked")
	db := ts.client("blocked", ts.token("blocked", ""))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE b(x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	patch := func(body string) {
		t.Helper()
		if st, _, raw := ts.apiCall("PATCH", "/databases/blocked/configuration", body); st != 200 {
			t.Fatalf("patch %s: %d %s", body, st, raw)
		}
	}
	patch(`{"block_writes":true}`)
	if _, err := db.ExecContext(ctx, `INSERT INTO b VALUES (1)`); err == nil || !strings.Contains(err.Error(), "Writes are blocked") {
		t.Fatalf("blocked write: %v", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(new(int)); err != nil {
		t.Fatalf("read while writes blocked: %v", err)
	}
	patch(`{"block_writes":false}`)
	if _, err := db.ExecContext(ctx, `INSERT INTO b VALUES (1)`); err != nil {
		t.Fatalf("write after unblock: %v", err)
	}
	patch(`{"block_reads":true}`)
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(new(int)); err == nil || !strings.Contains(err.Error(), "Reads are blocked") {
		t.Fatalf("blocked read: %v", err)
	}
	patch(`{"block_reads":false}`)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after unblocking reads: %d %v", n, err)
	}
}

func TestClientStreamExpiry(t *testing.T) {
	ts := startServer(t, Options{IdleTimeout: 150 * time.Millisecond})
	ts.createDB("idle")
	db := ts.client("idle", ts.token("idle", ""))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE i(x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO i VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("commit after expiry: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM i`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("expired transaction must roll back: %d %v", n, err)
	}
}

func TestClientHostRouting(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createDB("hosted")
	tok := ts.token("hosted", "")
	// The Hostname the API hands out, sent as Host to this server (libsql-client-go WithProxy).
	c, err := libsql.NewConnector("http://hosted-acme.local:80", libsql.WithAuthToken(tok), libsql.WithTls(false), libsql.WithProxy(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var one int
	if err := db.QueryRowContext(context.Background(), `SELECT 1`).Scan(&one); err != nil || one != 1 {
		t.Fatalf("host-routed query: %d %v", one, err)
	}

	// A Host naming a database wins over the token: another database's token is refused there,
	// not quietly routed to the database it was minted for.
	ts.createDB("elsewhere")
	c, err = libsql.NewConnector("http://hosted-acme.local:80", libsql.WithAuthToken(ts.token("elsewhere", "")), libsql.WithTls(false), libsql.WithProxy(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	other := sql.OpenDB(c)
	defer other.Close()
	if err := other.QueryRowContext(context.Background(), `SELECT 1`).Scan(&one); err == nil || !strings.Contains(err.Error(), "not valid for this database") {
		t.Fatalf("legacy Host of one database with another's token: %v, want 401", err)
	}
}
