package devserver

import (
	"context"
	"strings"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// The dev server runs SQL from anyone holding a database token, on the machine of the developer
// or CI job that started it, next to their other files and secrets. What a statement may reach is
// therefore decided by SQLite itself rather than by looking at SQL text (which comments, quoting,
// EXPLAIN, nested statements and pragma spellings make unreliable):
//
//   - an authorizer callback (sqlite3_set_authorizer) sees every operation while a statement is
//     compiled, including the ATTACH that VACUUM INTO runs internally, and refuses those that
//     touch files other than the database's own or change process-wide settings;
//   - SQLITE_LIMIT_ATTACHED is 0, so no ATTACH can succeed even if the policy missed a path;
//   - extension loading is disabled on the connection (SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION);
//   - defensive mode (SQLITE_DBCONFIG_DEFENSIVE) forbids writable_schema and raw page writes
//     that could corrupt a database file;
//   - a read-only token's statements run with PRAGMA query_only=1, which SQLite enforces at the
//     moment a statement would take a write lock (writes, BEGIN IMMEDIATE/EXCLUSIVE, ANALYZE run
//     by PRAGMA optimize), and the authorizer refuses its pragma assignments (locking_mode,
//     journal_mode, wal_checkpoint(…), query_only itself) that could hold locks or change the file.
//
// Server-internal SQL (size limits, query_only, ROLLBACK on release, seeding a copy with VACUUM
// INTO) runs "trusted" and is not checked.

// guardState is the policy of one connection. Only the goroutine that owns the connection (the
// one preparing or stepping a statement, during which SQLite calls the authorizer synchronously)
// reads or writes its fields; the registry map is what needs the lock.
type guardState struct {
	readOnly bool // the current statement runs for a read-only token
	trusted  int  // > 0 while server-internal SQL runs
	vacuum   bool // a client VACUUM statement is running: it may attach its own temporary database
	denied   string
	// deniedReadOnly says the refusal is the read-only token's, reported as SQLITE_READONLY.
	deniedReadOnly bool
}

var guards = struct {
	sync.RWMutex
	m map[uintptr]*guardState
}{m: map[uintptr]*guardState{}}

func guardFor(db uintptr) *guardState {
	guards.RLock()
	defer guards.RUnlock()
	return guards.m[db]
}

// authorizerPtr is authorize as a C function pointer. modernc's transpiled SQLite calls a Go
// function through this representation (see modernc.org/sqlite's cFuncPointer): a pointer to
// the func value, which for a top-level function lives in read-only data and never moves.
var authorizerPtr = *(*uintptr)(unsafe.Pointer(&struct {
	f func(*libc.TLS, uintptr, int32, uintptr, uintptr, uintptr, uintptr) int32
}{authorize}))

// installGuard applies the connection-level restrictions and registers the authorizer.
func (c *sqliteConn) installGuard() error {
	g := &guardState{}
	guards.Lock()
	guards.m[c.db] = g
	guards.Unlock()
	c.guard = g
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, 0)
	// One value (string, blob, row) may not be larger than a pipeline body: a tiny request such
	// as SELECT zeroblob(900000000) would otherwise allocate close to SQLite's 1 GB default,
	// several times over on its way into the JSON response (limits.go).
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_LENGTH, maxValueBytes)
	for _, op := range []struct {
		op int32
		on bool
	}{
		{sqlite3.SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, false},
		{sqlite3.SQLITE_DBCONFIG_DEFENSIVE, true},
	} {
		if rc := c.dbConfigBool(op.op, op.on); rc != sqlite3.SQLITE_OK {
			return c.errorFor(rc)
		}
	}
	if rc := sqlite3.Xsqlite3_set_authorizer(c.tls, c.db, authorizerPtr, c.db); rc != sqlite3.SQLITE_OK {
		return c.errorFor(rc)
	}
	return nil
}

// dropGuard forgets the connection's policy; call it before the handle is closed, since SQLite
// may hand the same address to a new connection.
func (c *sqliteConn) dropGuard() {
	if c.db == 0 {
		return
	}
	guards.Lock()
	delete(guards.m, c.db)
	guards.Unlock()
}

// dbConfigBool calls sqlite3_db_config(db, op, int onoff, int *pRes) with pRes NULL. modernc's
// varargs are a buffer of 8-byte slots, one per argument.
func (c *sqliteConn) dbConfigBool(op int32, on bool) int32 {
	v := int32(0)
	if on {
		v = 1
	}
	bp := libc.Xmalloc(c.tls, types.Size_t(16))
	if bp == 0 {
		return sqlite3.SQLITE_NOMEM
	}
	defer libc.Xfree(c.tls, bp)
	return sqlite3.Xsqlite3_db_config(c.tls, c.db, op, libc.VaList(bp, v, uintptr(0)))
}

// trusted runs server-internal SQL past the authorizer.
func (c *sqliteConn) trusted(f func() error) error {
	if c.guard == nil {
		return f()
	}
	if c.guard.trusted == 0 {
		// Seeding a database copies it with VACUUM INTO, which attaches the target.
		sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, 1)
		defer sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, 0)
	}
	c.guard.trusted++
	defer func() { c.guard.trusted-- }()
	return f()
}

// beginClient sets the policy for the client statement about to be prepared and run: whether
// its token is read-only (and so query_only), and whether it is a VACUUM, whose internal
// temporary ATTACH is the one ATTACH allowed. It clears the reason of an earlier refusal.
func (c *sqliteConn) beginClient(ctx context.Context, readOnly, vacuum bool) error {
	if c.guard == nil {
		return nil
	}
	c.guard.denied, c.guard.deniedReadOnly = "", false
	c.guard.readOnly = readOnly
	c.guard.vacuum = vacuum
	if readOnly != c.queryOnly {
		q := "PRAGMA query_only = 0"
		if readOnly {
			q = "PRAGMA query_only = 1"
		}
		if err := c.execScript(ctx, q); err != nil {
			return err
		}
		c.queryOnly = readOnly
	}
	limit := int32(0)
	if vacuum {
		limit = 1
	}
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, limit)
	return nil
}

// endClient restores the connection-wide limits a client statement may have relaxed.
func (c *sqliteConn) endClient() {
	if c.guard == nil || !c.guard.vacuum {
		return
	}
	c.guard.vacuum = false
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, 0)
}

// deniedReason is why the authorizer refused the last client statement ("" if it did not), and
// whether the refusal is because the token is read-only.
func (c *sqliteConn) deniedReason() (string, bool) {
	if c.guard == nil {
		return "", false
	}
	return c.guard.denied, c.guard.deniedReadOnly
}

// Reasons the authorizer gives; they end up in the client's error message.
const (
	denyFiles       = "it would read or write files outside the database (ATTACH, VACUUM INTO, extensions and file pragmas are refused by the development server)"
	denyProcess     = "PRAGMA %s changes process-wide settings shared by every database of the development server"
	denyManaged     = "PRAGMA %s is managed by the server"
	denyReadOnly    = "PRAGMA %s cannot be changed with a read-only token"
	denyReadOnlyRun = "PRAGMA %s writes or locks the database, which a read-only token may not"
)

// Pragmas a client may not set at all, and why.
var refusedPragmas = map[string]string{
	"temp_store_directory": denyFiles,
	"data_store_directory": denyFiles,
	"soft_heap_limit":      denyProcess,
	"hard_heap_limit":      denyProcess,
	"max_page_count":       denyManaged + " (size_limit)",
}

// Pragmas a read-only token may not run even without a value: each writes to the database file
// or waits holding the writer lock.
var writingPragmas = map[string]bool{"optimize": true, "wal_checkpoint": true, "incremental_vacuum": true}

// Functions that reach outside the database: extension loading and the CLI's file helpers (not
// compiled into this SQLite today; refused in case a future build has them).
var refusedFunctions = map[string]bool{"load_extension": true, "readfile": true, "writefile": true, "edit": true}

// authorize is SQLite's authorizer callback (see the comment at the top of this file). It runs
// on the goroutine preparing the statement, so it must not block or touch the connection.
func authorize(_ *libc.TLS, db uintptr, action int32, z1, z2, _, _ uintptr) int32 {
	switch action {
	case sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE,
		sqlite3.SQLITE_DELETE, sqlite3.SQLITE_RECURSIVE:
		return sqlite3.SQLITE_OK // the hot path: every column read comes through here
	}
	g := guardFor(db)
	if g == nil {
		return sqlite3.SQLITE_DENY // fail closed: a connection without a policy runs nothing risky
	}
	if g.trusted > 0 {
		return sqlite3.SQLITE_OK
	}
	deny := func(reason string) int32 {
		g.denied = reason
		return sqlite3.SQLITE_DENY
	}
	switch action {
	case sqlite3.SQLITE_ATTACH:
		// VACUUM copies the database through a temporary database it attaches under the empty
		// file name; VACUUM INTO names a real file, and plain ATTACH is a client's.
		if g.vacuum && z1 != 0 && libc.GoString(z1) == "" {
			return sqlite3.SQLITE_OK
		}
		return deny(denyFiles)
	case sqlite3.SQLITE_DETACH:
		if g.vacuum {
			return sqlite3.SQLITE_OK
		}
		return deny(denyFiles)
	case sqlite3.SQLITE_FUNCTION:
		if refusedFunctions[strings.ToLower(cString(z2))] {
			return deny(denyFiles)
		}
	case sqlite3.SQLITE_PRAGMA:
		name := strings.ToLower(cString(z1))
		assigns := z2 != 0
		if reason, ok := refusedPragmas[name]; ok && assigns {
			if strings.Contains(reason, "%s") {
				reason = strings.Replace(reason, "%s", name, 1)
			}
			return deny(reason)
		}
		if g.readOnly {
			// Function-form schema queries (table_info(t)) carry an argument but change nothing.
			if writingPragmas[name] || assigns && !queryPragmas[name] {
				g.deniedReadOnly = true
				if writingPragmas[name] {
					return deny(strings.Replace(denyReadOnlyRun, "%s", name, 1))
				}
				return deny(strings.Replace(denyReadOnly, "%s", name, 1))
			}
		}
	}
	return sqlite3.SQLITE_OK
}

func cString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return libc.GoString(p)
}
