package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/sqlitefile"
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

// snapshots is the folder of name's restore-point snapshots.
func (l *Local) snapshots(name string) sqlitefile.Snapshots {
	return sqlitefile.Snapshots{Dir: l.SnapshotDir(name), Retention: l.snapshotRetention()}
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
	at, err := l.snapshots(name).Take(ctx, l.Path(name), time.Time{}, copyDatabase)
	if err != nil {
		return time.Time{}, fmt.Errorf("snapshot %s: %w", name, err)
	}
	return at, nil
}

// snapshotAt returns the newest snapshot of name taken at or before t, within the retention.
func (l *Local) snapshotAt(name string, t time.Time) (string, error) {
	sn, ok, err := l.snapshots(name).AtOrBefore(t)
	if err != nil {
		return "", fmt.Errorf("list snapshots of %s: %w", name, err)
	}
	if ok {
		return sn.Path, nil
	}
	return "", fmt.Errorf("%w: database %s has no snapshot taken at or before %s within the retention of %s (the local backend keeps one per destructive deployment)",
		ErrNoRestorePoint, name, FormatRestorePoint(t), l.snapshotRetention())
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
// be empty).
func copyDatabase(ctx context.Context, src, dst string) error {
	return sqlitefile.Copy(ctx, src, dst, func(ctx context.Context, dst string) error {
		db, err := database.Open(src, "")
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
			return fmt.Errorf("copy %s (VACUUM INTO): %w", filepath.Base(src), err)
		}
		return nil
	})
}

// createSeeded creates database name as a copy of the database file src, with meta as its sidecar. The copy
// is made under a hidden temporary name and linked into place only once it is complete and synced: a creator
// killed half-way through leaves no torn database under the name — which a re-run would adopt as an empty
// one, losing the template's data — only a temporary file, which NewLocal removes once it is stale. The
// sidecar is written meanwhile. created is false, with nothing changed, when name exists (another creator
// linked it first).
func (l *Local) createSeeded(ctx context.Context, name, src string, meta localMeta) (created bool, err error) {
	stage, err := os.CreateTemp(l.dir, "."+name+".db.*"+sqlitefile.StagingSuffix)
	if err != nil {
		return false, err
	}
	stagePath := stage.Name()
	if err := stage.Close(); err != nil {
		_ = os.Remove(stagePath)
		return false, err
	}
	defer func() { _ = sqlitefile.Remove(stagePath) }() // once linked, this drops only the temporary name
	var metaTmp string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return copyDatabase(gctx, src, stagePath) })
	g.Go(func() (err error) { metaTmp, err = l.tempMeta(name, meta); return err })
	err = g.Wait()
	if metaTmp != "" {
		defer os.Remove(metaTmp)
	}
	if err != nil {
		return false, err
	}
	if err := os.Link(stagePath, l.Path(name)); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := l.linkMeta(metaTmp, name); err != nil {
		_ = os.Remove(l.Path(name)) // nothing half-created
		return false, err
	}
	return true, nil
}
