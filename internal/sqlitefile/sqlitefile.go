// Package sqlitefile owns consistent copies of SQLite database files and folders of point-in-time
// snapshots with retention, for the two backends that keep one SQLite file per database: the local
// platform backend and the dev server. How a source database is opened for VACUUM INTO stays with
// each backend (each owns its connections and their settings); this package owns the files.
package sqlitefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Copy writes a consistent copy of the SQLite database src to dst (which must not exist or be
// empty): byte for byte when src is quiescent, else through vacuumInto, which runs VACUUM INTO dst
// on a connection to src; either way dst is flushed to disk when Copy returns. dst is always created owner-only (the byte copy creates it so; before
// VACUUM INTO, which would create it 0644, it is created here). On failure dst and its companion
// files are removed.
func Copy(ctx context.Context, src, dst string, vacuumInto func(ctx context.Context, dst string) error) error {
	if ok, err := copyQuiescent(src, dst); err != nil {
		_ = Remove(dst)
		return err
	} else if ok {
		return nil
	}
	if f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o600); err != nil {
		return err
	} else if err := f.Close(); err != nil {
		_ = Remove(dst)
		return err
	}
	if err := vacuumInto(ctx, dst); err != nil {
		_ = Remove(dst)
		return err
	}
	// Flushed like the byte copy, whatever synchronous setting the caller's connection ran VACUUM INTO with.
	if err := syncFile(dst); err != nil {
		_ = Remove(dst)
		return err
	}
	return nil
}

// StagingSuffix ends the hidden name (".…"+StagingSuffix) a copy, or another file, is written under before
// it is renamed or linked into place; such a file older than an hour was left by a process that died.
const StagingSuffix = ".tmp"

// staleStaging is that hour: a file being written has a newer modification time.
const staleStaging = time.Hour

// RemoveStaleStaging removes, among the entries of dir, the staging files that processes which died left
// behind. It is best effort: a file it cannot remove is tried again next time.
func RemoveStaleStaging(dir string, entries []fs.DirEntry) {
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, StagingSuffix) || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleStaging {
			_ = Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// syncFile flushes the file at path to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Remove deletes a database file and its companions; one already gone is no error. The companions
// go first: a log or journal that an interrupted removal left beside no database could be taken up
// by the next database created under the same name.
func Remove(path string) error {
	var errs []error
	for _, p := range []string{path + "-wal", path + "-shm", path + "-journal", path} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyQuiescent copies the database file byte for byte when that is a consistent copy: the source
// has no write-ahead log content (a template or snapshot nobody writes: every write in WAL mode goes
// to the -wal file first) and neither the file nor the log changed while it was copied. ok is false
// when that could not be established, with dst left empty for VACUUM INTO. A byte copy of a
// 50-table template takes a fraction of the VACUUM INTO, which rebuilds every table and index.
func copyQuiescent(src, dst string) (ok bool, err error) {
	before, ok := quiescentStamp(src)
	if !ok {
		return false, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return false, nil
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return false, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return false, err
	}
	if err := out.Close(); err != nil {
		return false, err
	}
	if after, ok := quiescentStamp(src); !ok || after != before {
		// Written while copied: the copy may be torn; start over empty for VACUUM INTO.
		return false, os.Truncate(dst, 0)
	}
	return true, nil
}

// HasLog reports whether the SQLite database src may have content in its write-ahead log: its -wal
// file is not empty, or could not be examined.
func HasLog(src string) bool {
	fi, err := os.Stat(src + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return err != nil || fi.Size() > 0
}

// WALMode reports whether the SQLite database file at path is in write-ahead-log mode, as its header
// says (file format read and write versions 2). An empty file — a database not yet written — is not.
func WALMode(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return string(h[:16]) == "SQLite format 3\x00" && h[18] == 2 && h[19] == 2, nil
}

// quiescentStamp is the source file's size and modification time, when its -wal holds nothing.
func quiescentStamp(src string) (string, bool) {
	if fi, err := os.Stat(src + "-wal"); err == nil && fi.Size() > 0 {
		return "", false
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if _, err := os.Stat(src + "-journal"); err == nil {
		return "", false // a rollback-journal transaction is in progress
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano()), true
}
