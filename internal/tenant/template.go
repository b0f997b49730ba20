package tenant

// Template-seeded provisioning: a tenant created from a template database — one that already holds
// a bundle's schema and seed data — gets a copy of it from the platform (Turso seed type
// "database", a VACUUM INTO copy on the local backend and in objectstack dev) instead of running the
// bundle's DDL. The engine then verifies the copy against the bundle (its plan must be empty) and
// records the deployment, with the ownership marker, in one batch.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func validateSeedDatabase(name string) error {
	if name == "" {
		return nil
	}
	if err := platform.ValidateName(name); err != nil {
		return invalidf("seed.database", name, "%v", err)
	}
	return nil
}

func (p *pipeline) platformSeed() *platform.Seed {
	if p.req.SeedDatabase == "" {
		return nil
	}
	return &platform.Seed{Type: platform.SeedTypeDatabase, Database: p.req.SeedDatabase}
}

// claimStatements claim a copied database for tenant id: the template may carry another tenant's
// marker (a tenant used as a template), which the copy must not keep.
func claimStatements(id string) []database.Stmt {
	stmts := markerStatements(id)
	stmts[1] = database.Stmt{SQL: `INSERT INTO ` + markerTable + ` (id, tenant_id, claimed_at) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, claimed_at = excluded.claimed_at`, Args: []any{id, formatTime(time.Now())}}
	return stmts
}

// initSeeded finishes a database the platform has just created as a copy of the template: one read
// (the bundle owner's registry and schema), then one batch with the ownership marker and either the
// deployment record of the verified copy (the plan is empty) or, for a template behind the bundle,
// the additive changes that bring it up to date. A destructive difference is refused: the template
// is not a version of this bundle.
func (p *pipeline) initSeeded(ctx context.Context, db *sql.DB) (done bool, err error) {
	tmpl := p.req.SeedDatabase
	bd := p.req.Bundle
	if bd != nil {
		if done, err := p.initFromVerifiedTemplate(ctx, db); err != nil || done {
			return done, err
		}
	}
	var owners []schema.Owner
	if bd != nil {
		owners = []schema.Owner{schema.BundleOwner(bd.Manifest.Name)}
	}
	st, err := schema.ReadState(ctx, db, schema.ReadOptions{Owners: owners})
	if err != nil {
		return false, fmt.Errorf("read copy of template %s: %w", tmpl, err)
	}
	b := schema.NewBatch(st, "tenant-provision")
	b.Add("write ownership marker", claimStatements(p.r.ID)...)
	if bd != nil {
		owner := schema.BundleOwner(bd.Manifest.Name)
		plan, err := st.Plan(owner, bd.Objects)
		if err != nil {
			return false, fmt.Errorf("verify copy of template %s against bundle %s: %w", tmpl, bd.Manifest.Name, err)
		}
		opts := schema.ApplyOptions{Version: bd.Manifest.Version, Source: "tenant-provision:seed:" + tmpl}
		if plan.UpToDate {
			if _, err := b.AddVerified(plan, opts); err != nil {
				return false, fmt.Errorf("template %s: %w", tmpl, err)
			}
		} else {
			if err := plan.CheckAllowed(nil); err != nil {
				return false, fmt.Errorf("template %s does not match bundle %s %s: %w", tmpl, bd.Manifest.Name, bd.Manifest.Version, err)
			}
			if _, err := b.AddPlan(plan, opts); err != nil {
				return false, err
			}
		}
	}
	if _, err := b.Commit(ctx, db); err != nil {
		return false, fmt.Errorf("claim copy of template %s: %w", tmpl, err)
	}
	// The template holds the bundle's seed data already; the seed step has nothing to write.
	p.synced = bd != nil
	p.seeded = 0
	return true, nil
}

// unclaimedCopy reports whether db, found existing by a seeded run, is the platform's copy of the template
// that an earlier run made and then died (or lost its connection) before claiming: ObjectStack's registry
// is in it and it carries the template's marker — none for a template CreateTemplate made, a tenant's when
// a tenant's database is the template (the template is read only then). Anything else takes the careful
// path, which refuses a database that is not ours.
func (p *pipeline) unclaimedCopy(ctx context.Context, db *sql.DB) (bool, error) {
	owner, err := readMarker(ctx, db)
	if err != nil || owner == p.r.ID {
		return false, err
	}
	objs, err := schema.RegisteredObjects(ctx, db)
	if err != nil || len(objs) == 0 {
		return false, err
	}
	if owner == "" {
		return true, nil
	}
	tmpl := p.req.SeedDatabase
	tdb, err := p.s.openTemplate(ctx, tmpl)
	if err != nil {
		return false, fmt.Errorf("read template %s: %w", tmpl, err)
	}
	defer tdb.Close()
	tmplOwner, err := readMarker(ctx, tdb)
	if err != nil {
		return false, fmt.Errorf("read template %s: %w", tmpl, err)
	}
	return tmplOwner == owner, nil
}

// CreateTemplate creates the platform database name (no tenant, no prefix) holding bundle b's
// schema and its seed data for the service's environment, for tenants to be provisioned from with
// Request.SeedDatabase. An existing database of that name is an error wrapping
// platform.ErrAlreadyExists — a template is immutable; publish a new version under a new name
// (tmpl-crm-v2) — unless it is empty: what a run killed before its batch left, which is finished.
func (s *Service) CreateTemplate(ctx context.Context, name string, b *bundle.Bundle) (*platform.Database, error) {
	if err := platform.ValidateName(name); err != nil {
		return nil, fmt.Errorf("create template: %w: %v", ErrInvalid, err)
	}
	if b == nil {
		return nil, fmt.Errorf("create template %s: %w: a bundle is required", name, ErrInvalid)
	}
	if err := checkBundle(b); err != nil {
		return nil, fmt.Errorf("create template %s: %w", name, err)
	}
	group := s.groupFor(DefaultRegion)
	d, err := s.plat.CreateDatabase(ctx, platform.CreateOptions{Name: name, Group: group})
	// A database already there is finished only if it is empty — what a run killed before its one batch
	// leaves — and in the template's group; the batch itself checks it is empty (its guard), so a database
	// anybody filled meanwhile is refused untouched.
	existsErr := err
	resumed := errors.Is(err, platform.ErrAlreadyExists)
	immutable := func() (*platform.Database, error) {
		return nil, fmt.Errorf("create template %s: %w (templates are immutable: use a new name for a new version)", name, existsErr)
	}
	if err != nil && !resumed {
		return nil, fmt.Errorf("create template %s: %w", name, err)
	}
	if resumed && d == nil {
		if d, err = s.plat.GetDatabase(ctx, name); err != nil {
			return nil, fmt.Errorf("create template %s: %w", name, err)
		}
	}
	if resumed && d.Group != "" && group != "" && d.Group != group {
		return immutable()
	}
	fail := func(cause error) (*platform.Database, error) {
		if !resumed {
			dctx, cancel := detached(ctx)
			defer cancel()
			_ = s.plat.DeleteDatabase(dctx, name) // nothing half-made is left to seed tenants from
		}
		return nil, fmt.Errorf("create template %s: %w", name, cause)
	}
	tok, err := s.plat.CreateToken(ctx, name, platform.TokenOptions{Scope: platform.ScopeFullAccess, Expiration: "1d"})
	if err != nil {
		return fail(err)
	}
	db, err := platform.Open(s.plat, d, tok)
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	st := schema.EmptyState()
	batch := schema.NewBatch(st, "template")
	plan, err := st.Plan(schema.BundleOwner(b.Manifest.Name), b.Objects)
	if err != nil {
		return fail(err)
	}
	if _, err := batch.AddPlan(plan, schema.ApplyOptions{Version: b.Manifest.Version, Source: "template:" + name}); err != nil {
		return fail(err)
	}
	if len(b.SeedData) > 0 {
		stmts, err := apps.SeedStatements(b.Objects, b.SeedData, s.cfg.Environment, func(string) bool { return false })
		if err != nil {
			return fail(fmt.Errorf("seed: %w", err))
		}
		batch.Add("seed", stmts...)
	}
	// The ownership marker's table, empty: a tenant's copy then claims itself with an insert rather than a
	// schema change, which would rewrite the copy's schema table in the claim's transaction.
	batch.Add("marker table", markerStatements("")[0])
	if _, err := batch.Commit(ctx, db); err != nil {
		if resumed && errors.Is(err, schema.ErrStalePlan) {
			return immutable() // not empty: a template already, or not ours
		}
		return fail(err)
	}
	return d, nil
}

// verifiedTemplate is a template read once and found to hold a bundle exactly (its plan is empty).
// Templates are immutable, so every copy of one is verified by the batch that claims it: the
// batch's guards compare the copy's schema_version and registry digest with the template's State,
// and a copy that differs makes the batch stale (then the copy is read and planned in full).
type verifiedTemplate struct {
	st   *schema.State
	plan *schema.Plan
}

// templateKey is the template and the bundle's content (not its version: a bundle edited without a
// version bump must not ride on the old content's verification).
func templateKey(tmpl string, b *bundle.Bundle) string {
	sum := b.Checksum
	if sum == "" {
		sum = bundle.Checksum(b)
	}
	return tmpl + "\x00" + b.Manifest.Name + "\x00" + sum
}

// verified reads template tmpl and plans b on it once per service; nil (no error) when the template
// does not hold b exactly.
func (s *Service) verified(ctx context.Context, tmpl string, b *bundle.Bundle) (*verifiedTemplate, error) {
	key := templateKey(tmpl, b)
	if v, ok := s.templates.Load(key); ok {
		return v.(*verifiedTemplate), nil
	}
	db, err := s.openTemplate(ctx, tmpl)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	owner := schema.BundleOwner(b.Manifest.Name)
	st, err := schema.ReadState(ctx, db, schema.ReadOptions{Owners: []schema.Owner{owner}})
	if err != nil {
		return nil, err
	}
	plan, err := st.Plan(owner, b.Objects)
	if err != nil {
		return nil, err
	}
	var v *verifiedTemplate
	if plan.UpToDate {
		v = &verifiedTemplate{st: st, plan: plan}
	}
	s.templates.Store(key, v)
	return v, nil
}

// openTemplate opens template tmpl to be read, with a read-only token of its own.
func (s *Service) openTemplate(ctx context.Context, tmpl string) (*sql.DB, error) {
	d, err := s.plat.GetDatabase(ctx, tmpl)
	if err != nil {
		return nil, err
	}
	tok, err := s.plat.CreateToken(ctx, tmpl, platform.TokenOptions{Scope: platform.ScopeReadOnly, Expiration: "1h"})
	if err != nil {
		return nil, err
	}
	return platform.Open(s.plat, d, tok)
}

// initFromVerifiedTemplate claims a copy of a verified template in ONE request: the ownership marker
// and the verified deployment's record, behind the guards that the copy is the template. done is
// false when the template does not hold the bundle or the copy is not the template.
func (p *pipeline) initFromVerifiedTemplate(ctx context.Context, db *sql.DB) (bool, error) {
	bd, tmpl := p.req.Bundle, p.req.SeedDatabase
	v, err := p.s.verified(ctx, tmpl, bd)
	if err != nil || v == nil {
		if err != nil {
			p.s.log.Debug("template not verified up front; reading the copy", "template", tmpl, "error", err)
		}
		return false, nil
	}
	b := schema.NewBatch(v.st, "tenant-provision")
	b.Add("write ownership marker", claimStatements(p.r.ID)...)
	if _, err := b.AddVerified(v.plan, schema.ApplyOptions{Version: bd.Manifest.Version, Source: "tenant-provision:seed:" + tmpl}); err != nil {
		return false, nil
	}
	if _, err := b.Commit(ctx, db); err != nil {
		if errors.Is(err, schema.ErrStalePlan) {
			return false, nil
		}
		return false, fmt.Errorf("claim copy of template %s: %w", tmpl, err)
	}
	p.synced, p.seeded = true, 0
	return true, nil
}
