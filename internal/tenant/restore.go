package tenant

// Undo by point-in-time restore. Every deployment with a destructive change records a restore point
// (internal/schema); `objectstack tenant restore <id> --before-deployment <dep>` creates a NEW database
// seeded from the tenant's database at that point (Turso: seed with timestamp; local and objectstack
// dev: the snapshot taken before the change), repoints the tenant's registry row at it with a new
// token, rotates the old database's tokens and blocks its writes, and keeps it for inspection until
// PurgeRestored deletes it. Nothing is overwritten: a failed restore leaves the tenant where it was.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// RestoreOptions says what to restore to.
type RestoreOptions struct {
	// BeforeDeployment is the id of the deployment to undo: the tenant's database comes back as it
	// was just before that deployment's transaction.
	BeforeDeployment string
}

// restoredSuffix matches the suffix a restore adds to a database name, so restoring a restored
// tenant again does not keep growing the name.
var restoredSuffix = regexp.MustCompile(`-r[0-9]{14}$`)

// restoredName is the new database's name: the tenant's database name with -r<UTC timestamp>,
// shortened to the platform's 64 characters.
func restoredName(current string, at string) string {
	base := restoredSuffix.ReplaceAllString(current, "")
	suffix := "-r" + at
	if len(base)+len(suffix) > platform.MaxNameLength {
		base = strings.TrimRight(base[:platform.MaxNameLength-len(suffix)], "-")
	}
	return base + suffix
}

// Restore undoes a deployment of tenant id by restoring its database to the deployment's restore
// point into a new database and repointing the tenant at it. Only an active tenant is restored.
func (s *Service) Restore(ctx context.Context, rawID string, opts RestoreOptions) (*RestoreRecord, error) {
	id, err := NormalizeID(rawID)
	if err != nil {
		return nil, fmt.Errorf("restore tenant: %w", err)
	}
	if opts.BeforeDeployment == "" {
		return nil, fmt.Errorf("restore tenant %s: %w", id, invalidf("before-deployment", "", "is required: the id of the deployment to undo"))
	}
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %s: %w", id, err)
	}
	if r.Status != StatusActive {
		return nil, fmt.Errorf("restore tenant %s: %w: it is %s (only an active tenant is restored)", id, ErrState, r.Status)
	}
	db, err := s.router.DB(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %s: %w", id, err)
	}
	dep, err := schema.DeploymentRestorePoint(ctx, db, opts.BeforeDeployment)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %s: %w", id, err)
	}
	at, err := platform.ParseRestorePoint(dep.RestorePoint)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %s: deployment %s: %w", id, dep.ID, err)
	}
	if _, err := s.removeAbandonedRestores(ctx, r); err != nil {
		return nil, fmt.Errorf("restore tenant %s: %w", id, err)
	}
	now := s.now()
	rec := RestoreRecord{TenantID: id, DeploymentID: dep.ID, RestorePoint: dep.RestorePoint, OldDatabase: r.DatabaseName,
		NewDatabase: restoredName(r.DatabaseName, now.Format("20060102150405")), RestoredAt: formatTime(now)}
	rs := restoreStore{db: s.ctl}
	// Recorded before the database exists: a run killed from here on leaves a record of what it may have made.
	if err := rs.start(ctx, rec, newClaimHolder()); err != nil {
		return nil, fmt.Errorf("restore tenant %s: %w", id, err)
	}
	// From here a failure deletes the new database — also when creating it failed: a create whose answer
	// was lost (a timeout, ctrl-C) may have made it — and the record: the tenant stays on its current one.
	undo := func(cause error) (*RestoreRecord, error) {
		dctx, cancel := detached(ctx)
		defer cancel()
		if derr := s.plat.DeleteDatabase(dctx, rec.NewDatabase); derr != nil && !errors.Is(derr, platform.ErrNotFound) {
			s.log.Warn("remove database of a failed restore", "tenant", id, "database", rec.NewDatabase, "error", derr)
		} else if ferr := rs.forget(dctx, id, rec.NewDatabase); ferr != nil {
			s.log.Warn("drop the record of a failed restore", "tenant", id, "database", rec.NewDatabase, "error", ferr)
		}
		return nil, fmt.Errorf("restore tenant %s: %w; the tenant still uses %s", id, cause, rec.OldDatabase)
	}

	var limit int64
	if r.Quotas.MaxStorageBytes != nil {
		limit = *r.Quotas.MaxStorageBytes
	}
	d, err := s.plat.CreateDatabase(ctx, platform.CreateOptions{Name: rec.NewDatabase, Group: r.Group, SizeLimitBytes: limit,
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: r.DatabaseName, Timestamp: &at}})
	if errors.Is(err, platform.ErrAlreadyExists) {
		// Somebody else's database: it is not ours to delete.
		if ferr := rs.forget(ctx, id, rec.NewDatabase); ferr != nil {
			s.log.Warn("drop the record of a failed restore", "tenant", id, "database", rec.NewDatabase, "error", ferr)
		}
		return nil, fmt.Errorf("restore tenant %s: database %s exists already (a restore in the same second?): %w", id, rec.NewDatabase, ErrConflict)
	}
	if err != nil {
		return undo(fmt.Errorf("to %s (before deployment %s): %w", dep.RestorePoint, dep.ID, err))
	}
	if s.afterRestoreCopy != nil {
		if err := s.afterRestoreCopy(rec.NewDatabase); err != nil {
			return nil, err // tests simulate a crash here: nothing is undone
		}
	}
	tok, err := s.plat.CreateToken(ctx, rec.NewDatabase, platform.TokenOptions{Scope: platform.ScopeFullAccess, Expiration: s.cfg.TokenExpiration})
	if err != nil {
		return undo(fmt.Errorf("mint token: %w", err))
	}
	// The copy must be this tenant's database as it was: its ownership marker says so.
	ndb, err := platform.Open(s.plat, d, tok)
	if err != nil {
		return undo(err)
	}
	owner, err := readMarker(ctx, ndb)
	ndb.Close()
	if err != nil {
		return undo(err)
	}
	if owner != id {
		return undo(fmt.Errorf("the restored copy belongs to tenant %q: %w", owner, ErrConflict))
	}
	sealed, err := s.box.seal(id, tok.JWT)
	if err != nil {
		return undo(err)
	}
	url := d.URL
	if url != "" && !database.IsRemote(url) && !strings.HasPrefix(url, "file:") {
		if abs, err := filepath.Abs(url); err == nil {
			url = abs
		}
	}
	if err := rs.finish(ctx, r, rec.NewDatabase, url, sealed); err != nil {
		return undo(err)
	}
	s.router.Invalidate(id)
	// The old database is kept for inspection, read-only: its tokens are rotated away (clients
	// still holding one must fetch a new token, which now names the new database) and writes blocked.
	if err := s.plat.RotateTokens(ctx, rec.OldDatabase); err != nil {
		s.log.Warn("rotate tokens of the database a restore replaced", "tenant", id, "database", rec.OldDatabase, "error", err)
	}
	if err := s.plat.Configure(ctx, rec.OldDatabase, platform.Configuration{BlockWrites: ptr(true)}); err != nil {
		s.log.Warn("block writes of the database a restore replaced", "tenant", id, "database", rec.OldDatabase, "error", err)
	}
	s.log.Info("tenant restored", "tenant", id, "deployment", dep.ID, "restorePoint", dep.RestorePoint, "from", rec.OldDatabase, "to", rec.NewDatabase)
	return &rec, nil
}

// Restores lists the restores of tenant id, oldest first.
func (s *Service) Restores(ctx context.Context, rawID string) ([]RestoreRecord, error) {
	id, err := NormalizeID(rawID)
	if err != nil {
		return nil, err
	}
	return restoreStore{db: s.ctl}.list(ctx, id)
}

// PurgeRestored deletes the databases restores of tenant id replaced and kept for inspection, and
// returns their names. The database the tenant uses now is never deleted.
func (s *Service) PurgeRestored(ctx context.Context, rawID string) ([]string, error) {
	id, err := NormalizeID(rawID)
	if err != nil {
		return nil, fmt.Errorf("purge restored databases: %w", err)
	}
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("purge restored databases of %s: %w", id, err)
	}
	purged, err := s.removeAbandonedRestores(ctx, r)
	if err != nil {
		return purged, fmt.Errorf("purge restored databases of %s: %w", id, err)
	}
	rs := restoreStore{db: s.ctl}
	recs, err := rs.list(ctx, id)
	if err != nil {
		return purged, err
	}
	for _, rec := range recs {
		if rec.Unfinished || rec.PurgedAt != "" || rec.OldDatabase == r.DatabaseName {
			continue
		}
		if err := s.plat.DeleteDatabase(ctx, rec.OldDatabase); err != nil {
			return purged, fmt.Errorf("purge restored databases of %s: %w", id, err)
		}
		if err := rs.markPurged(ctx, id, rec.OldDatabase, s.now()); err != nil {
			return purged, err
		}
		purged = append(purged, rec.OldDatabase)
	}
	return purged, nil
}

// removeAbandonedRestores removes what the restores of tenant r that will never finish left behind (their run
// was killed between recording the restore and repointing the tenant): the database each may have made —
// never the one the tenant uses — and its record. It returns the databases it deleted. An unfinished restore
// whose run may still be going is left alone.
func (s *Service) removeAbandonedRestores(ctx context.Context, r *row) ([]string, error) {
	rs := restoreStore{db: s.ctl}
	recs, err := rs.list(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var removed []string
	for _, rec := range recs {
		if !rec.Unfinished || rec.NewDatabase == r.DatabaseName || !rec.abandoned(now) {
			continue
		}
		switch err := s.plat.DeleteDatabase(ctx, rec.NewDatabase); {
		case err == nil:
			removed = append(removed, rec.NewDatabase)
		case errors.Is(err, platform.ErrNotFound): // the run died before its database was made
		default:
			return removed, fmt.Errorf("remove database %s of an unfinished restore: %w", rec.NewDatabase, err)
		}
		if err := rs.forget(ctx, r.ID, rec.NewDatabase); err != nil {
			return removed, err
		}
		s.log.Warn("removed what an unfinished restore left behind; its run is gone", "tenant", r.ID,
			"database", rec.NewDatabase, "holder", rec.Holder)
	}
	return removed, nil
}

// RestorePointFunc returns the ApplyOptions.RestorePoint hook for tenant t's database: a snapshot on
// the local backend (which keeps no history of its own), the current time elsewhere.
func (s *Service) RestorePointFunc(t *Tenant) func(ctx context.Context) (time.Time, error) {
	name := t.DatabaseName
	return func(ctx context.Context) (time.Time, error) {
		return platform.RestorePoint(ctx, s.plat, name)
	}
}
