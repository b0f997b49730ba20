package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The local backend's seeded creation and restore-point snapshots. Snapshots live outside the
// databases folder (<dataDir>/snapshots/<name>/<unix nanoseconds>.db) so they are never listed as
// databases, and are kept for the retention (SetSnapshotRetention, default a week): every new
// snapshot prunes the expired ones of the same database.

// SetSnapshotRetention sets how long restore-point snapshots are kept; zero or less restores the
// default.
func (l *Local) SetSnapshotRetention(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retention = d
}

func (l *Local) snapshotRetention() time.Duration {
	if l.retention <= 0 {
		return DefaultSnapshotRetention
	}
	return l.retention
}

// SnapshotDir is the folder holding the restore-point snapshots of database name.
func (l *Local) SnapshotDir(name string) string {
	return filepath.Join(filepath.Dir(l.dir), "snapshots", name)
}

// Snapshot copies the database as it is now (VACUUM INTO: a consistent copy even while another
// connection writes) and returns the time it stands for: taken before the copy starts, so a
// transaction that begins after Snapshot returns is never part of it.
func (l *Local) Snapshot(ctx context.Context, name string) (time.Time, error) {
	if err := ValidateName(name); err != nil {
		return time.Time{}, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := os.Stat(l.Path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, fmt.Errorf("snapshot %s: %w", name, ErrNotFound)
		}
		return time.Time{}, fmt.Errorf("snapshot %s: %w", name, err)
	}
	dir := l.SnapshotDir(name)
	if err := database.PrivateDir(dir); err != nil {
		return time.Time{}, fmt.Errorf("snapshot %s: %w", name, err)
	}
	at := time.Now().UTC()
	target := filepath.Join(dir, strconv.FormatInt(at.UnixNano(), 10)+".db")
	if err := copyDatabase(ctx, l.Path(name), target); err != nil {
		return time.Time{}, fmt.Errorf("snapshot %s: %w", name, err)
	}
	l.pruneSnapshots(name, at)
	return at, nil
}

// snapshotAt returns the newest snapshot of name taken at or before t, within the retention.
func (l *Local) snapshotAt(name string, t time.Time) (string, error) {
	snaps, err := l.snapshots(name)
	if err != nil {
		return "", err
	}
	oldest := time.Now().Add(-l.snapshotRetention())
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if s.at.After(t) {
			continue
		}
		if s.at.Before(oldest) {
			break
		}
		return s.path, nil
	}
	return "", fmt.Errorf("%w: database %s has no snapshot taken at or before %s within the retention of %s (the local backend keeps one per destructive deployment)",
		ErrNoRestorePoint, name, FormatRestorePoint(t), l.snapshotRetention())
}

type snapshotFile struct {
	at   time.Time
	path string
}

// snapshots lists name's snapshots, oldest first.
func (l *Local) snapshots(name string) ([]snapshotFile, error) {
	dir := l.SnapshotDir(name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", name, err)
	}
	var out []snapshotFile
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".db")
		if !ok || e.IsDir() {
			continue
		}
		ns, err := strconv.ParseInt(base, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, snapshotFile{at: time.Unix(0, ns).UTC(), path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

// pruneSnapshots removes name's snapshots older than the retention; failures only leave files for
// the next prune.
func (l *Local) pruneSnapshots(name string, now time.Time) {
	snaps, err := l.snapshots(name)
	if err != nil {
		return
	}
	oldest := now.Add(-l.snapshotRetention())
	for _, s := range snaps {
		if s.at.Before(oldest) {
			removeDatabaseFiles(s.path)
		}
	}
}

// seedSource resolves a seed to the file to copy: the source database itself, or its snapshot for
// the timestamp. It fails before anything is created.
func (l *Local) seedSource(s *Seed) (string, error) {
	if _, err := os.Stat(l.Path(s.Database)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("seed database %s: %w", s.Database, ErrNotFound)
		}
		return "", fmt.Errorf("seed database %s: %w", s.Database, err)
	}
	if s.Timestamp == nil {
		return l.Path(s.Database), nil
	}
	return l.snapshotAt(s.Database, *s.Timestamp)
}

// copyDatabase writes a consistent copy of the SQLite database src to dst (which must not exist or
// be empty) with VACUUM INTO, created owner-only first since VACUUM INTO would create it 0644.
func copyDatabase(ctx context.Context, src, dst string) error {
	if f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o600); err != nil {
		return err
	} else if err := f.Close(); err != nil {
		return err
	}
	if ok, err := copyQuiescent(src, dst); err != nil {
		removeDatabaseFiles(dst)
		return err
	} else if ok {
		return nil
	}
	db, err := database.Open(src, "")
	if err != nil {
		removeDatabaseFiles(dst)
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		removeDatabaseFiles(dst)
		return fmt.Errorf("copy %s (VACUUM INTO): %w", filepath.Base(src), err)
	}
	return nil
}

func removeDatabaseFiles(p string) {
	for _, f := range []string{p + "-wal", p + "-shm", p + "-journal", p} {
		_ = os.Remove(f)
	}
}

// copyQuiescent copies the database file byte for byte when that is a consistent copy: the source
// has no write-ahead log content (a template or snapshot nobody writes: every write in WAL mode goes
// to the -wal file first) and neither the file nor the log changed while it was copied. ok is false
// when that could not be established; the caller then copies with VACUUM INTO. A byte copy of a
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
	after, ok := quiescentStamp(src)
	if !ok || after != before {
		// Written while copied: the copy may be torn; start over empty for VACUUM INTO.
		if err := os.Truncate(dst, 0); err != nil {
			return false, err
		}
		return false, nil
	}
	return true, nil
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
