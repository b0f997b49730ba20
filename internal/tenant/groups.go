package tenant

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// This file holds what the tenant lifecycle knows about groups and database protection: the
// region → group placement (a static map, so placing a tenant costs no Platform API call), the
// blast radius of rotating credentials in a shared group, and the delete_protection, block_reads,
// block_writes and size_limit settings of a tenant's database.

// GroupFor is the group a tenant in region is placed in: Config.Regions' entry, else Config.Group
// (empty: the platform's default group).
func (s *Service) GroupFor(region string) string { return s.groupFor(region) }

// RotationImpact names the group whose credentials rotating the tenant's database tokens also
// invalidates (on Turso a group's databases share signing keys, so suspending a tenant ends every
// group token of its group) and the other live tenants in that group: what a suspend's plan or
// CLI output must show before it happens. others is empty when the tenant is alone in its group.
func (s *Service) RotationImpact(ctx context.Context, id string) (group string, others []string, err error) {
	nid, err := NormalizeID(id)
	if err != nil {
		return "", nil, err
	}
	r, err := s.store.get(ctx, nid)
	if err != nil {
		return "", nil, err
	}
	group = r.Group
	if group == "" {
		return "", nil, nil
	}
	all, err := s.store.list(ctx, Filter{})
	if err != nil {
		return "", nil, err
	}
	for _, t := range all {
		if t.ID != nid && t.Group == group && t.Status != StatusArchived {
			others = append(others, t.ID)
		}
	}
	sort.Strings(others)
	return group, others, nil
}

// Access is the protection and access settings of a tenant's database; nil fields stay as they are.
type Access struct {
	DeleteProtection *bool
	BlockReads       *bool
	BlockWrites      *bool
	// SizeLimitBytes 0 lifts the limit.
	SizeLimitBytes *int64
}

// Empty reports whether a changes nothing.
func (a Access) Empty() bool {
	return a.DeleteProtection == nil && a.BlockReads == nil && a.BlockWrites == nil && a.SizeLimitBytes == nil
}

// AccessOf reads the tenant database's settings from the platform (one Platform API call).
func (s *Service) AccessOf(ctx context.Context, id string) (platform.DatabaseConfiguration, error) {
	nid, err := NormalizeID(id)
	if err != nil {
		return platform.DatabaseConfiguration{}, err
	}
	r, err := s.store.get(ctx, nid)
	if err != nil {
		return platform.DatabaseConfiguration{}, err
	}
	reader, ok := s.plat.(platform.ConfigurationReader)
	if !ok {
		return platform.DatabaseConfiguration{}, fmt.Errorf("tenant %s: the %s backend cannot report database settings", nid, s.plat.Kind())
	}
	c, err := reader.GetConfiguration(ctx, r.DatabaseName)
	if err != nil {
		return platform.DatabaseConfiguration{}, fmt.Errorf("tenant %s: %w", nid, err)
	}
	return c, nil
}

// SetAccess changes the tenant database's settings through the platform's configuration call.
// A suspended or destroying tenant keeps its writes blocked: unblocking them is refused with the
// reason rather than undoing the suspension behind its back.
func (s *Service) SetAccess(ctx context.Context, id string, a Access) error {
	if a.SizeLimitBytes != nil && *a.SizeLimitBytes < 0 {
		return invalidf("size_limit", fmt.Sprint(*a.SizeLimitBytes), "must not be negative")
	}
	if a.Empty() {
		return nil
	}
	return s.transition(ctx, id, "configure", func(r *row) error {
		switch r.Status {
		case StatusActive:
		case StatusSuspended, StatusDestroying:
			if a.BlockWrites != nil && !*a.BlockWrites {
				return fmt.Errorf("%w: block_writes cannot be turned off while the tenant is %s (resume it first)", ErrState, r.Status)
			}
			if a.BlockWrites != nil {
				r.writesBeforeLock = writesBlocked // asked for while suspended: it outlasts the resume
			}
		default:
			return fmt.Errorf("%w: status %s", ErrState, r.Status)
		}
		// Evict first: the local backend applies block_reads/block_writes when a handle is opened.
		s.router.Invalidate(r.ID)
		return s.plat.Configure(ctx, r.DatabaseName, platform.Configuration{
			DeleteProtection: a.DeleteProtection, BlockReads: a.BlockReads, BlockWrites: a.BlockWrites, SizeLimitBytes: a.SizeLimitBytes,
		})
	})
}

// refuseProtected fails when the tenant's database has delete_protection on, before a destroy
// changes anything (nothing half-applied: no rotation, no blocked writes). A database that is
// already gone is not protected.
func (s *Service) refuseProtected(ctx context.Context, r *row) error {
	if r.DatabaseName == "" {
		return nil
	}
	db, err := s.plat.GetDatabase(ctx, r.DatabaseName)
	if errors.Is(err, platform.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check delete_protection of database %s: %w", r.DatabaseName, err)
	}
	if db.DeleteProtection {
		return fmt.Errorf("%w on database %s: turn delete_protection off first (delete_protection = false, or objectstack tenant configure %s --delete-protection=false)",
			platform.ErrDeleteProtected, r.DatabaseName, r.ID)
	}
	return nil
}

// tokenFor is the token the router opens r with: the group token configured for r's group while
// r is active, else r's own sealed token.
func (s *Service) tokenFor(r *row) (string, error) {
	if g := s.cfg.GroupTokens[r.Group]; g != "" && r.Group != "" && r.Status == StatusActive {
		return g, nil
	}
	return s.box.open(r.ID, r.tokenEnc)
}
