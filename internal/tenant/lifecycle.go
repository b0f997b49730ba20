package tenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// Suspend makes an active tenant read-only (protocol §6.10): rotate every database token, block
// writes, keep a freshly minted read-only token (encrypted), invalidate the router's handle. The
// status changes last, so a suspend interrupted half-way is completed by calling it again.
// Suspending a suspended tenant is a no-op.
func (s *Service) Suspend(ctx context.Context, id string) error {
	return s.transition(ctx, id, "suspend", func(r *row) error {
		switch r.Status {
		case StatusSuspended:
			return errNoop
		case StatusActive:
		default:
			return fmt.Errorf("%w: status %s (only active tenants can be suspended)", ErrState, r.Status)
		}
		if err := s.lockDown(ctx, r); err != nil {
			return err
		}
		r.Status = StatusSuspended
		return nil
	})
}

// lockDown rotates tokens, blocks writes and keeps a new read-only token. What block_writes was before
// is recorded first (and saved, so a lock-down interrupted after blocking and run again does not take its
// own block for the operator's): Resume unblocks only writes the lock-down blocked.
func (s *Service) lockDown(ctx context.Context, r *row) error {
	if r.writesBeforeLock == "" {
		r.writesBeforeLock = writesOpen
		if reader, ok := s.plat.(platform.ConfigurationReader); ok {
			c, err := reader.GetConfiguration(ctx, r.DatabaseName)
			if err != nil {
				return fmt.Errorf("read block_writes of database %s: %w", r.DatabaseName, err)
			}
			if c.BlockWrites {
				r.writesBeforeLock = writesBlocked
			}
		}
		if err := s.store.save(ctx, r); err != nil {
			return err
		}
	}
	// Evict first so no cached full-access handle outlives the rotation.
	s.router.Invalidate(r.ID)
	if err := s.plat.RotateTokens(ctx, r.DatabaseName); err != nil {
		return err
	}
	if err := s.plat.Configure(ctx, r.DatabaseName, platform.Configuration{BlockWrites: ptr(true)}); err != nil {
		return err
	}
	return s.remint(ctx, r, platform.ScopeReadOnly)
}

func (s *Service) remint(ctx context.Context, r *row, scope platform.TokenScope) error {
	tok, err := s.plat.CreateToken(ctx, r.DatabaseName, platform.TokenOptions{Scope: scope, Expiration: s.cfg.TokenExpiration})
	if err != nil {
		return fmt.Errorf("mint token: %w", err)
	}
	sealed, err := s.box.seal(r.ID, tok.JWT)
	if err != nil {
		return err
	}
	r.tokenEnc = sealed
	return nil
}

// Resume returns a suspended tenant — or one waiting out its deletion grace period — to active:
// writes unblocked, a new full-access token minted (the old ones were rotated away). Resuming an
// active tenant is a no-op.
func (s *Service) Resume(ctx context.Context, id string) error {
	return s.transition(ctx, id, "resume", func(r *row) error {
		switch r.Status {
		case StatusActive:
			return errNoop
		case StatusSuspended, StatusDestroying:
		default:
			return fmt.Errorf("%w: status %s (only suspended or destroying tenants can be resumed)", ErrState, r.Status)
		}
		// Writes the operator had blocked before the suspension stay blocked (tenant configure unblocks them).
		if r.writesBeforeLock != writesBlocked {
			if err := s.plat.Configure(ctx, r.DatabaseName, platform.Configuration{BlockWrites: ptr(false)}); err != nil {
				return err
			}
		}
		if err := s.remint(ctx, r, platform.ScopeFullAccess); err != nil {
			return err
		}
		r.Status, r.PurgeAfter, r.writesBeforeLock = StatusActive, nil, ""
		return nil
	})
}

// Destroy honours the onTenantDelete hook (protocol §1.6). With Immediate the database is backed
// up (if Backup) and deleted now and the tenant becomes archived. Otherwise it waits in status
// destroying — writes blocked, data intact, Resume cancels — until GracePeriod (default 72 h) has
// passed and PurgeExpired deletes it. The registry row stays, as archived. Destroying an archived
// tenant is a no-op. If the backup fails nothing is deleted.
func (s *Service) Destroy(ctx context.Context, id string, opts DestroyOptions) error {
	if opts.GracePeriod < 0 {
		return fmt.Errorf("destroy tenant %s: %w", id, invalidf("gracePeriod", opts.GracePeriod.String(), "must not be negative"))
	}
	grace := opts.GracePeriod
	if grace == 0 {
		grace = DefaultGracePeriod
	}
	var purgeNow bool
	err := s.transition(ctx, id, "destroy", func(r *row) error {
		if r.Status != StatusArchived {
			if err := s.refuseProtected(ctx, r); err != nil {
				return err
			}
		}
		switch r.Status {
		case StatusArchived:
			return errNoop
		case StatusActive, StatusSuspended:
			if err := s.lockDown(ctx, r); err != nil && !errors.Is(err, platform.ErrNotFound) {
				return err
			}
		case StatusDestroying, StatusProvisioning, StatusFailed:
		}
		at := s.now().Add(grace)
		if opts.Immediate {
			at = s.now()
			purgeNow = true
		}
		r.Status, r.PurgeAfter, r.destroyBackup = StatusDestroying, &at, opts.Backup
		return nil
	})
	if err != nil || !purgeNow {
		return err
	}
	return s.purgeOne(ctx, id, true)
}

// PurgeExpired archives every destroying tenant whose grace period has passed (backup first when
// the destroy asked for one, then delete the database). It returns how many were archived; one
// tenant failing does not stop the others.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	ids, err := s.store.expired(ctx, s.now())
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		if err := s.purgeOne(ctx, id, false); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// purgeOne backs up (when asked), deletes the database and archives the row.
func (s *Service) purgeOne(ctx context.Context, id string, force bool) error {
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.store.get(ctx, id)
	if err != nil {
		return fmt.Errorf("purge tenant %s: %w", id, err)
	}
	if r.Status != StatusDestroying {
		return nil // resumed or already archived meanwhile
	}
	if !force && (r.PurgeAfter == nil || r.PurgeAfter.After(s.now())) {
		return nil
	}
	s.router.Invalidate(id)
	d, err := s.plat.GetDatabase(ctx, r.DatabaseName)
	switch {
	case errors.Is(err, platform.ErrNotFound):
		d = nil
	case err != nil:
		return fmt.Errorf("purge tenant %s: %w", id, err)
	}
	if d != nil {
		if r.destroyBackup && r.DatabaseURL != "" {
			path, err := s.backup(ctx, r)
			if err != nil {
				return fmt.Errorf("purge tenant %s: nothing deleted: %w", id, err)
			}
			r.BackupPath = path
			s.log.Info("tenant backed up", "tenant", id, "path", path)
		}
		if err := s.plat.DeleteDatabase(ctx, r.DatabaseName); err != nil {
			return fmt.Errorf("purge tenant %s: %w", id, err)
		}
	}
	r.Status, r.PurgeAfter, r.tokenEnc = StatusArchived, nil, ""
	if err := s.store.save(ctx, r); err != nil {
		return fmt.Errorf("purge tenant %s: %w", id, err)
	}
	s.log.Debug("tenant archived", "tenant", id)
	return nil
}

// BackupDir is where Destroy keeps backups, under DataDir.
const BackupDir = "backups"

// backup copies the tenant database into DataDir/backups: the SQLite file itself via VACUUM INTO for
// the local backend, a SQL dump over the database connection for Turso.
func (s *Service) backup(ctx context.Context, r *row) (string, error) {
	dir := filepath.Join(s.cfg.DataDir, BackupDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	stamp := s.now().Format("20060102T150405.000000000Z")
	stamp = strings.Replace(stamp, ".", "", 1)
	if s.plat.Kind() == "local" && !database.IsRemote(r.DatabaseURL) {
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.db", r.ID, stamp))
		// Opened directly rather than through the platform: a blocked-writes handle is query_only.
		db, err := database.Open(r.DatabaseURL, "")
		if err != nil {
			return "", fmt.Errorf("backup: %w", err)
		}
		defer db.Close()
		if err := vacuumInto(ctx, db, path); err != nil {
			os.Remove(path)
			return "", err
		}
		return path, nil
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.sql", r.ID, stamp))
	// The stored token is read-only after lockDown, which is all a dump needs.
	db, err := s.openRow(r)
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if err := dumpSQL(ctx, db, path); err != nil {
		return "", err
	}
	return path, nil
}

// Update changes display name, plan, labels and quotas; the router cache is invalidated so new
// handles and contexts see the change. A storage quota is pushed to the platform's size limit.
func (s *Service) Update(ctx context.Context, id string, u Update) (*Tenant, error) {
	var out *Tenant
	err := s.transition(ctx, id, "update", func(r *row) error {
		if r.Status == StatusArchived {
			return fmt.Errorf("%w: status %s", ErrState, r.Status)
		}
		if u.DisplayName != nil {
			if len(*u.DisplayName) > 200 {
				return invalidf("displayName", "", "must be at most 200 characters")
			}
			r.DisplayName = *u.DisplayName
		}
		if u.Plan != nil {
			if !ValidPlan(*u.Plan) {
				return invalidf("plan", *u.Plan, "is not one of %s", strings.Join(Plans, ", "))
			}
			r.Plan = *u.Plan
		}
		if u.Labels != nil {
			if err := validateLabels(*u.Labels); err != nil {
				return err
			}
			r.Labels = *u.Labels
		}
		if u.Quotas != nil {
			if err := u.Quotas.Validate(); err != nil {
				return err
			}
			if !sameLimit(r.Quotas.MaxStorageBytes, u.Quotas.MaxStorageBytes) && r.DatabaseURL != "" {
				var limit int64 // 0 lifts the limit
				if u.Quotas.MaxStorageBytes != nil {
					limit = *u.Quotas.MaxStorageBytes
				}
				if err := s.plat.Configure(ctx, r.DatabaseName, platform.Configuration{SizeLimitBytes: &limit}); err != nil {
					return err
				}
			}
			r.Quotas = *u.Quotas
		}
		t := r.Tenant
		out = &t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sameLimit(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// errNoop ends a transition without writing anything.
var errNoop = errors.New("no change")

// transition runs fn on the locked, freshly read row, saves it and invalidates the router.
func (s *Service) transition(ctx context.Context, rawID, op string, fn func(*row) error) error {
	id, err := NormalizeID(rawID)
	if err != nil {
		return fmt.Errorf("%s tenant: %w", op, err)
	}
	unlock := s.locks.lock(id)
	defer unlock()
	r, err := s.store.get(ctx, id)
	if err != nil {
		return fmt.Errorf("%s tenant %s: %w", op, id, err)
	}
	from := r.Status
	if err := fn(r); err != nil {
		if errors.Is(err, errNoop) {
			return nil
		}
		return fmt.Errorf("%s tenant %s: %w", op, id, err)
	}
	if err := s.store.save(ctx, r); err != nil {
		return fmt.Errorf("%s tenant %s: %w", op, id, err)
	}
	s.router.Invalidate(id)
	s.log.Debug("tenant "+op, "tenant", id, "from", from, "to", r.Status)
	return nil
}

func ptr[T any](v T) *T { return &v }
