package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
)

// openBoth opens one local file and one database on a loopback dev server (Hrana over HTTP).
func openBoth(t *testing.T) map[string]*sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	local, err := database.Open(filepath.Join(t.TempDir(), "t.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	base, stop, err := devserver.StartLocal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	call := func(method, url string, out any) {
		req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(`{"name":"b1","group":"default"}`)))
		req.Header.Set("Authorization", "Bearer dev")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %s", method, url, resp.Status)
		}
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
	}
	call("POST", base+"/v1/organizations/acme/databases", nil)
	var tok struct{ JWT string }
	call("POST", base+"/v1/organizations/acme/databases/b1/auth/tokens", &tok)
	remote, err := database.Open(devserver.DatabaseURL(base, "b1"), tok.JWT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	return map[string]*sql.DB{"local": local, "hrana": remote}
}

// TestBatcher: a write batch is one transaction — a failing statement names its index and leaves nothing
// behind — and a read batch answers every statement, failures included, from one snapshot.
func TestBatcher(t *testing.T) {
	for name, db := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := database.For(db)
			if b.Remote() != (name == "hrana") {
				t.Fatalf("Remote() = %v", b.Remote())
			}
			_, err := b.Write(ctx, []database.Stmt{
				{SQL: `CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL, d BLOB)`},
				{SQL: `INSERT INTO t VALUES (?, ?, ?, ?)`, Args: []any{int64(1), "x'y", 1.5, []byte{0, 1, 2}}},
				{SQL: `INSERT INTO t VALUES (?, ?, ?, ?)`, Args: []any{2, nil, nil, nil}},
			}, database.WriteOptions{ForeignKeysOff: true})
			if err != nil {
				t.Fatal(err)
			}
			// Statement 2 fails: statement 1's insert must be rolled back with it.
			_, err = b.Write(ctx, []database.Stmt{
				{SQL: `INSERT INTO t (a, b) VALUES (3, 'three')`},
				{SQL: `UPDATE t SET b = 'changed' WHERE a = 1`},
				{SQL: `INSERT INTO t (a) VALUES (1)`},
				{SQL: `INSERT INTO t (a) VALUES (4)`},
			}, database.WriteOptions{})
			var se *database.StepError
			if !errors.As(err, &se) || se.Step != 2 || !strings.Contains(err.Error(), "UNIQUE") {
				t.Fatalf("want a UNIQUE failure at statement 2, got %v", err)
			}
			res, err := b.Read(ctx, []database.Stmt{
				{SQL: `SELECT a, b, c, d FROM t ORDER BY a`},
				{SQL: `SELECT * FROM missing_table`},
				{SQL: `SELECT count(*) FROM t`},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "no such table") {
				t.Fatalf("missing table: %v", res[1].Err)
			}
			if res[0].Err != nil || len(res[0].Rows) != 2 || res[2].Rows[0][0] != int64(2) {
				t.Fatalf("rows after the failed batch: %#v %v", res[0].Rows, res[2].Rows)
			}
			r := res[0].Rows[0]
			if r[0] != int64(1) || r[1] != "x'y" || r[2] != 1.5 || !bytes.Equal(r[3].([]byte), []byte{0, 1, 2}) {
				t.Fatalf("row 1 = %#v", r)
			}
			if res[0].Rows[1][1] != nil {
				t.Fatalf("NULL came back as %#v", res[0].Rows[1][1])
			}
			// Write can return rows (RETURNING) and counts.
			out, err := b.Write(ctx, []database.Stmt{
				{SQL: `UPDATE t SET b = 'y' WHERE a IN (1, 2)`},
				{SQL: `SELECT group_concat(b) FROM t`, Query: true},
			}, database.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if out[0].RowsAffected != 2 || out[1].Rows[0][0] != "y,y" {
				t.Fatalf("write results: %#v", out)
			}
		})
	}
}

// TestRowScan: a batched row scans into the destinations database/sql code uses, the same over Hrana (where
// integers travel as strings) as on a file, and a NULL into a string is an error, not an empty string.
func TestRowScan(t *testing.T) {
	for name, db := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			res, err := database.For(db).Read(context.Background(), []database.Stmt{
				{SQL: `SELECT 'txt', 42, 1, 2.5, x'0102', NULL, NULL`},
			})
			if err != nil || res[0].Err != nil {
				t.Fatalf("%v %v", err, res[0].Err)
			}
			var (
				s  string
				n  int64
				b  bool
				f  float64
				bl []byte
				a  any
				i  int
			)
			row := database.Row(res[0].Rows[0])
			if err := row.Scan(&s, &n, &b, &f, &bl, &a, new([]byte)); err != nil {
				t.Fatal(err)
			}
			if s != "txt" || n != 42 || !b || f != 2.5 || !bytes.Equal(bl, []byte{1, 2}) || a != nil {
				t.Fatalf("scanned %q %d %v %v %v %v", s, n, b, f, bl, a)
			}
			if err := row.Scan(&s, &i, &b, &f, &bl, &s, &a); err == nil || !strings.Contains(err.Error(), "column 5: NULL into *string") {
				t.Fatalf("NULL into a string: %v", err)
			}
			if err := row.Scan(&s); err == nil {
				t.Fatal("a destination count that does not match the columns must fail")
			}
		})
	}
}
