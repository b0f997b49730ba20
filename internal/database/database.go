// Package database opens libSQL databases — local SQLite files and remote Turso/libSQL servers —
// through libsql-client-go, with a pure-Go SQLite driver behind its file: URLs so builds stay CGO_ENABLED=0.
// It owns the connection settings every other package relies on (busy timeout, WAL, immediate transactions).
package database

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tursodatabase/libsql-client-go/libsql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver that libsql-client-go delegates file: URLs to
)

// FileURL returns the file: URL for a SQLite database at path, with the pragmas every local
// database is opened with: a busy timeout so concurrent writers wait instead of failing,
// WAL so readers never block the migrator, and BEGIN IMMEDIATE so a transaction that will
// write takes its lock up front instead of failing with SQLITE_BUSY half-way.
func FileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("database path %s: %w", path, err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// IsRemote reports whether dsn names a remote libSQL server rather than a local file.
func IsRemote(dsn string) bool {
	for _, p := range []string{"libsql://", "https://", "http://", "wss://", "ws://"} {
		if strings.HasPrefix(dsn, p) {
			return true
		}
	}
	return false
}

// Open opens dsn, which is a libsql://, https://, http:// URL (with token as its auth token),
// a file: URL, or a plain filesystem path. A remote URL may carry "?tls=0" or "?tls=1", as
// Turso's clients accept: "libsql://<host:port>?tls=0" is how a Turso-style Hostname of a
// plain-HTTP server (objectstack dev) is written. The token is never part of any error message.
func Open(dsn, token string) (*sql.DB, error) {
	if !IsRemote(dsn) && !strings.HasPrefix(dsn, "file:") {
		// SQLite would create a missing file with mode 0644; a database holds tenant data and
		// sealed tokens, so it starts readable by its owner only (its WAL and shared-memory
		// files inherit the mode).
		if err := createPrivate(dsn); err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		u, err := FileURL(dsn)
		if err != nil {
			return nil, err
		}
		dsn = u
	}
	var opts []libsql.Option
	if token != "" && IsRemote(dsn) {
		opts = append(opts, libsql.WithAuthToken(token))
	}
	connectURL := dsn
	if IsRemote(dsn) {
		var tls *bool
		var err error
		if connectURL, tls, err = splitTLS(dsn); err != nil {
			return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
		}
		if tls == nil && strings.HasPrefix(dsn, "http://") {
			tls = new(false)
		}
		if tls != nil {
			opts = append(opts, libsql.WithTls(*tls))
		}
	}
	c, err := libsql.NewConnector(connectURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	db := sql.OpenDB(c)
	if strings.HasPrefix(dsn, "http://") || strings.HasPrefix(dsn, "https://") || strings.HasPrefix(dsn, "libsql://") {
		h, err := newHranaClient(dsn, token)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		registerRemote(db, &remoteInfo{hrana: h})
	}
	if !IsRemote(dsn) {
		// SQLite allows one writer; one connection for writes avoids lock upgrades between
		// our own connections while still letting database/sql reuse it.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// splitTLS removes a "tls" query parameter from a remote URL and returns what it asked for:
// libsql-client-go's connector refuses every query parameter (only its sql.Open DSN form reads
// "tls"), while @libsql/client and Turso's docs write "libsql://host:port?tls=0" for a server
// without TLS. Any other parameter is left for the connector to refuse.
func splitTLS(dsn string) (string, *bool, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, errors.New("the URL cannot be parsed")
	}
	q := u.Query()
	if !q.Has("tls") {
		return dsn, nil, nil
	}
	var tls bool
	switch v := q.Get("tls"); v {
	case "0":
	case "1":
		tls = true
	default:
		return "", nil, fmt.Errorf("unknown value %q of the tls query parameter: valid values are 0 and 1", v)
	}
	q.Del("tls")
	u.RawQuery = q.Encode()
	return u.String(), &tls, nil
}

// Redact returns dsn without any credentials in its user info or query string.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparseable database URL>"
	}
	u.User = nil
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") || lk == "jwt" || strings.Contains(lk, "key") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// createPrivate creates path as an empty file with mode 0600 unless something exists there.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// PrivateFile makes the SQLite database at path, and the journal, WAL and shared-memory files
// SQLite keeps beside it, readable and writable by the owner only: a missing database file is
// created empty with mode 0600, existing files lose every group and other permission bit. Use
// it for files under a data folder this program owns (a control plane, a dev server registry),
// not for a database a user pointed a command at.
func PrivateFile(path string) error {
	if err := createPrivate(path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check mode of %s: %w", p, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s private: %w", p, err)
			}
		}
	}
	return nil
}

// PrivateDir creates dir (and missing parents) with mode 0700, and takes every group and other
// permission away from dir itself when it already existed.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check mode of %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}
