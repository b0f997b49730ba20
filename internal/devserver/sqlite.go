package devserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The Hrana server talks to SQLite through modernc's C API rather than database/sql because
// the protocol needs what database/sql hides: the declared column type exactly as written
// (modernc's driver upper-cases it and turns TEXT in DATETIME columns into time.Time, losing
// the stored text), sqlite3_stmt_readonly to classify writes before running them,
// sqlite3_changes64/last_insert_rowid per statement, the unparsed tail of a multi-statement
// string, and bind-parameter lookup by name with and without its prefix.

// sqlValue is one SQLite value; kind is a SQLITE_* fundamental type.
type sqlValue struct {
	kind int32
	i    int64
	f    float64
	s    string
	b    []byte
}

// sqliteError is a failed SQLite call: the primary/extended result code and sqlite3_errmsg.
type sqliteError struct {
	code int32
	msg  string
}

func (e *sqliteError) Error() string { return e.msg }

// codeName returns "SQLITE_<PRIMARY>" for a result code, the form Hrana error codes use.
func codeName(rc int32) string {
	if n, ok := primaryCodeNames[rc&0xff]; ok {
		return n
	}
	return fmt.Sprintf("SQLITE_UNKNOWN_%d", rc&0xff)
}

var primaryCodeNames = map[int32]string{
	sqlite3.SQLITE_ERROR: "SQLITE_ERROR", sqlite3.SQLITE_INTERNAL: "SQLITE_INTERNAL", sqlite3.SQLITE_PERM: "SQLITE_PERM",
	sqlite3.SQLITE_ABORT: "SQLITE_ABORT", sqlite3.SQLITE_BUSY: "SQLITE_BUSY", sqlite3.SQLITE_LOCKED: "SQLITE_LOCKED",
	sqlite3.SQLITE_NOMEM: "SQLITE_NOMEM", sqlite3.SQLITE_READONLY: "SQLITE_READONLY", sqlite3.SQLITE_INTERRUPT: "SQLITE_INTERRUPT",
	sqlite3.SQLITE_IOERR: "SQLITE_IOERR", sqlite3.SQLITE_CORRUPT: "SQLITE_CORRUPT", sqlite3.SQLITE_NOTFOUND: "SQLITE_NOTFOUND",
	sqlite3.SQLITE_FULL: "SQLITE_FULL", sqlite3.SQLITE_CANTOPEN: "SQLITE_CANTOPEN", sqlite3.SQLITE_PROTOCOL: "SQLITE_PROTOCOL",
	sqlite3.SQLITE_EMPTY: "SQLITE_EMPTY", sqlite3.SQLITE_SCHEMA: "SQLITE_SCHEMA", sqlite3.SQLITE_TOOBIG: "SQLITE_TOOBIG",
	sqlite3.SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT", sqlite3.SQLITE_MISMATCH: "SQLITE_MISMATCH", sqlite3.SQLITE_MISUSE: "SQLITE_MISUSE",
	sqlite3.SQLITE_NOLFS: "SQLITE_NOLFS", sqlite3.SQLITE_AUTH: "SQLITE_AUTH", sqlite3.SQLITE_FORMAT: "SQLITE_FORMAT",
	sqlite3.SQLITE_RANGE: "SQLITE_RANGE", sqlite3.SQLITE_NOTADB: "SQLITE_NOTADB",
}

// interruptTLS is used only to call sqlite3_interrupt from a goroutine other than the one
// running the statement; sqlite3_interrupt is safe to call from any thread.
var interruptMu sync.Mutex
var interruptTLS *libc.TLS

// sqliteConn is one SQLite connection. It is not safe for concurrent use: a stream owns it.
type sqliteConn struct {
	tls *libc.TLS
	db  uintptr
	// appliedPages is the max_page_count last applied for the database's size limit (0 = none).
	appliedPages int64
	// dirty is set when a statement may have changed connection state (PRAGMA, ATTACH, TEMP
	// objects); such a connection is closed instead of going back to the pool.
	dirty bool
	// resetForeignKeys is set when a client assigned foreign_keys; release restores foreignKeys.
	resetForeignKeys bool
	foreignKeys      int64 // the connection's foreign_keys setting when opened
	// guard is the authorizer policy of this connection (guard.go).
	guard *guardState
	// queryOnly is whether the server last set PRAGMA query_only = 1 for a read-only token.
	queryOnly bool
}

func openSQLite(path string, busyTimeoutMS int) (*sqliteConn, error) {
	// SQLite creates files with mode 0644 (and VACUUM INTO copies the same way); every database
	// of the dev server is its owner's only, and its WAL and shared memory inherit the mode.
	if err := database.PrivateFile(path); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	tls := libc.NewTLS()
	c := &sqliteConn{tls: tls}
	name, err := libc.CString(path)
	if err != nil {
		tls.Close()
		return nil, err
	}
	pdb := tls.Alloc(8)
	rc := sqlite3.Xsqlite3_open_v2(tls, name, pdb, sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_CREATE|sqlite3.SQLITE_OPEN_FULLMUTEX, 0)
	c.db = readPtr(pdb)
	// Free the scratch memory before any path can close the TLS it belongs to.
	tls.Free(8)
	libc.Xfree(tls, name)
	if rc != sqlite3.SQLITE_OK {
		err := c.errorFor(rc)
		c.close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlite3.Xsqlite3_busy_timeout(tls, c.db, int32(busyTimeoutMS))
	if err := c.installGuard(); err != nil {
		c.close()
		return nil, fmt.Errorf("open sqlite %s: restrict connection: %w", path, err)
	}
	if err := c.execScript(context.Background(), "PRAGMA synchronous=NORMAL"); err != nil {
		c.close()
		return nil, err
	}
	fk, err := c.queryInt64("PRAGMA foreign_keys")
	if err != nil {
		c.close()
		return nil, err
	}
	c.foreignKeys = fk
	return c, nil
}

func (c *sqliteConn) close() {
	c.dropGuard()
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
}

// readPtr reads a C pointer stored at p without converting uintptr to unsafe.Pointer.
func readPtr(p uintptr) uintptr {
	return uintptr(binary.NativeEndian.Uint64(libc.GoBytes(p, 8)))
}

func (c *sqliteConn) errorFor(rc int32) *sqliteError {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
		if ext := sqlite3.Xsqlite3_extended_errcode(c.tls, c.db); ext&0xff == rc&0xff {
			rc = ext
		}
	}
	if msg == "" {
		msg = libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	}
	return &sqliteError{code: rc, msg: msg}
}

// watch interrupts the running statement when ctx ends; call the returned stop when done.
// stop waits for an interrupt already under way, so the connection can be closed after it.
func (c *sqliteConn) watch(ctx context.Context) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	db := c.db
	done := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		defer close(done)
		interruptMu.Lock()
		defer interruptMu.Unlock()
		if interruptTLS == nil {
			interruptTLS = libc.NewTLS()
		}
		sqlite3.Xsqlite3_interrupt(interruptTLS, db)
	})
	return func() {
		if !cancel() {
			<-done
		}
	}
}

// prepared is one compiled statement with the byte offset where the rest of the SQL starts.
type prepared struct {
	stmt uintptr
	tail int // bytes of the input consumed
}

// prepare compiles the first statement of sql. stmt is 0 when sql holds only whitespace/comments.
func (c *sqliteConn) prepare(sql string) (prepared, error) {
	if len(sql) > math.MaxInt32-1 {
		return prepared{}, &sqliteError{code: sqlite3.SQLITE_TOOBIG, msg: "SQL text too large"}
	}
	z, err := libc.CString(sql)
	if err != nil {
		return prepared{}, err
	}
	defer libc.Xfree(c.tls, z)
	out := c.tls.Alloc(16)
	defer c.tls.Free(16)
	rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, z, int32(len(sql)), out, out+8)
	if rc != sqlite3.SQLITE_OK {
		return prepared{}, c.errorFor(rc)
	}
	stmt := readPtr(out)
	tail := int(readPtr(out+8) - z)
	if tail < 0 || tail > len(sql) {
		tail = len(sql)
	}
	return prepared{stmt: stmt, tail: tail}, nil
}

func (c *sqliteConn) finalize(stmt uintptr) {
	if stmt != 0 {
		sqlite3.Xsqlite3_finalize(c.tls, stmt)
	}
}

func (c *sqliteConn) readonly(stmt uintptr) bool {
	return sqlite3.Xsqlite3_stmt_readonly(c.tls, stmt) != 0
}

func (c *sqliteConn) isExplain(stmt uintptr) bool {
	return sqlite3.Xsqlite3_stmt_isexplain(c.tls, stmt) != 0
}

func (c *sqliteConn) autocommit() bool {
	return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) != 0
}

func (c *sqliteConn) paramCount(stmt uintptr) int {
	return int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, stmt))
}

func (c *sqliteConn) paramName(stmt uintptr, i int) string {
	return libc.GoString(sqlite3.Xsqlite3_bind_parameter_name(c.tls, stmt, int32(i)))
}

// paramIndex finds a named parameter: by the exact name, else by name with each prefix
// (sqld Params::bind), so "v" binds ":v", "@v" and "$v".
func (c *sqliteConn) paramIndex(stmt uintptr, name string) int {
	try := func(n string) int {
		z, err := libc.CString(n)
		if err != nil {
			return 0
		}
		defer libc.Xfree(c.tls, z)
		return int(sqlite3.Xsqlite3_bind_parameter_index(c.tls, stmt, z))
	}
	if i := try(name); i > 0 {
		return i
	}
	for _, p := range []string{":", "@", "$"} {
		if i := try(p + name); i > 0 {
			return i
		}
	}
	return 0
}

func (c *sqliteConn) bind(stmt uintptr, i int, v sqlValue) error {
	var rc int32
	switch v.kind {
	case sqlite3.SQLITE_NULL:
		rc = sqlite3.Xsqlite3_bind_null(c.tls, stmt, int32(i))
	case sqlite3.SQLITE_INTEGER:
		rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, int32(i), v.i)
	case sqlite3.SQLITE_FLOAT:
		rc = sqlite3.Xsqlite3_bind_double(c.tls, stmt, int32(i), v.f)
	case sqlite3.SQLITE_TEXT, sqlite3.SQLITE_BLOB:
		data := v.s
		if v.kind == sqlite3.SQLITE_BLOB {
			data = string(v.b)
		}
		if len(data) > math.MaxInt32-1 {
			return &sqliteError{code: sqlite3.SQLITE_TOOBIG, msg: "string or blob too big"}
		}
		// CString always returns a non-NULL buffer, so an empty value binds as ''/x'' not NULL.
		p, err := libc.CString(data)
		if err != nil {
			return err
		}
		if v.kind == sqlite3.SQLITE_TEXT {
			rc = sqlite3.Xsqlite3_bind_text(c.tls, stmt, int32(i), p, int32(len(data)), sqlite3.SQLITE_TRANSIENT)
		} else {
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, stmt, int32(i), p, int32(len(data)), sqlite3.SQLITE_TRANSIENT)
		}
		libc.Xfree(c.tls, p)
	default:
		return fmt.Errorf("unknown value kind %d", v.kind)
	}
	if rc != sqlite3.SQLITE_OK {
		return c.errorFor(rc)
	}
	return nil
}

type column struct {
	name     string
	decltype *string
}

func (c *sqliteConn) columns(stmt uintptr) []column {
	n := int(sqlite3.Xsqlite3_column_count(c.tls, stmt))
	cols := make([]column, n)
	for i := range n {
		cols[i].name = libc.GoString(sqlite3.Xsqlite3_column_name(c.tls, stmt, int32(i)))
		if p := sqlite3.Xsqlite3_column_decltype(c.tls, stmt, int32(i)); p != 0 {
			d := libc.GoString(p)
			cols[i].decltype = &d
		}
	}
	return cols
}

// step advances stmt; it reports whether a row is available.
func (c *sqliteConn) step(stmt uintptr) (bool, error) {
	switch rc := sqlite3.Xsqlite3_step(c.tls, stmt); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, c.errorFor(rc)
	}
}

func (c *sqliteConn) column(stmt uintptr, i int) sqlValue {
	idx := int32(i)
	switch t := sqlite3.Xsqlite3_column_type(c.tls, stmt, idx); t {
	case sqlite3.SQLITE_INTEGER:
		return sqlValue{kind: t, i: sqlite3.Xsqlite3_column_int64(c.tls, stmt, idx)}
	case sqlite3.SQLITE_FLOAT:
		return sqlValue{kind: t, f: sqlite3.Xsqlite3_column_double(c.tls, stmt, idx)}
	case sqlite3.SQLITE_TEXT:
		p := sqlite3.Xsqlite3_column_text(c.tls, stmt, idx)
		n := int(sqlite3.Xsqlite3_column_bytes(c.tls, stmt, idx))
		if p == 0 || n == 0 {
			return sqlValue{kind: t}
		}
		return sqlValue{kind: t, s: string(libc.GoBytes(p, n))}
	case sqlite3.SQLITE_BLOB:
		p := sqlite3.Xsqlite3_column_blob(c.tls, stmt, idx)
		n := int(sqlite3.Xsqlite3_column_bytes(c.tls, stmt, idx))
		b := make([]byte, n)
		if p != 0 && n > 0 {
			copy(b, libc.GoBytes(p, n))
		}
		return sqlValue{kind: t, b: b}
	default:
		return sqlValue{kind: sqlite3.SQLITE_NULL}
	}
}

func (c *sqliteConn) changes() int64 { return sqlite3.Xsqlite3_changes64(c.tls, c.db) }

func (c *sqliteConn) totalChanges() int64 { return sqlite3.Xsqlite3_total_changes64(c.tls, c.db) }

func (c *sqliteConn) lastInsertRowID() int64 { return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db) }

// execScript runs every statement of sql, discarding rows (internal use: pragmas, ROLLBACK).
// It is trusted: the authorizer does not check it, so it must never carry client SQL.
func (c *sqliteConn) execScript(ctx context.Context, sql string) error {
	return c.trusted(func() error { return c.execScriptUnchecked(ctx, sql) })
}

func (c *sqliteConn) execScriptUnchecked(ctx context.Context, sql string) error {
	stop := c.watch(ctx)
	defer stop()
	for strings.TrimSpace(sql) != "" {
		p, err := c.prepare(sql)
		if err != nil {
			return err
		}
		sql = sql[p.tail:]
		if p.stmt == 0 {
			continue
		}
		for {
			row, err := c.step(p.stmt)
			if err != nil {
				c.finalize(p.stmt)
				return err
			}
			if !row {
				break
			}
		}
		c.finalize(p.stmt)
	}
	return nil
}

// queryInt64 runs a one-value query (internal use, trusted like execScript).
func (c *sqliteConn) queryInt64(sql string) (n int64, err error) {
	err = c.trusted(func() error {
		n, err = c.queryInt64Unchecked(sql)
		return err
	})
	return n, err
}

func (c *sqliteConn) queryInt64Unchecked(sql string) (int64, error) {
	p, err := c.prepare(sql)
	if err != nil {
		return 0, err
	}
	if p.stmt == 0 {
		return 0, errors.New("no statement")
	}
	defer c.finalize(p.stmt)
	row, err := c.step(p.stmt)
	if err != nil {
		return 0, err
	}
	if !row {
		return 0, nil
	}
	return sqlite3.Xsqlite3_column_int64(c.tls, p.stmt, 0), nil
}

// appendColumn writes column i of the current row in Hrana JSON form, like
// appendValue(buf, c.column(stmt, i)), but encodes text and blobs straight from SQLite's memory:
// a 16 MiB value is then copied once (into buf) rather than three times (limits.go).
func (c *sqliteConn) appendColumn(buf *bytes.Buffer, stmt uintptr, i int) {
	idx := int32(i)
	switch sqlite3.Xsqlite3_column_type(c.tls, stmt, idx) {
	case sqlite3.SQLITE_TEXT:
		p := sqlite3.Xsqlite3_column_text(c.tls, stmt, idx)
		n := int(sqlite3.Xsqlite3_column_bytes(c.tls, stmt, idx))
		buf.WriteString(`{"type":"text","value":`)
		if p == 0 || n == 0 {
			buf.WriteString(`""}`)
			return
		}
		appendJSONText(buf, libc.GoBytes(p, n))
		buf.WriteByte('}')
	case sqlite3.SQLITE_BLOB:
		p := sqlite3.Xsqlite3_column_blob(c.tls, stmt, idx)
		n := int(sqlite3.Xsqlite3_column_bytes(c.tls, stmt, idx))
		buf.WriteString(`{"type":"blob","base64":"`)
		if p != 0 && n > 0 {
			buf.Grow(base64.RawStdEncoding.EncodedLen(n))
			buf.Write(base64.RawStdEncoding.AppendEncode(buf.AvailableBuffer(), libc.GoBytes(p, n)))
		}
		buf.WriteString(`"}`)
	default:
		appendValue(buf, c.column(stmt, i))
	}
}

// appendJSONText writes s as a JSON string exactly as encoding/json.Marshal would (HTML-safe
// escapes, invalid UTF-8 as U+FFFD, U+2028/2029 escaped) without building an intermediate copy.
func appendJSONText(buf *bytes.Buffer, s []byte) {
	const hex = "0123456789abcdef"
	buf.Grow(len(s) + 2)
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf.Write(s[start:i])
			switch b {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(b)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[b>>4])
				buf.WriteByte(hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.Write(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.Write(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.Write(s[start:])
	buf.WriteByte('"')
}
