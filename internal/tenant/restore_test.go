package tenant_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestTemplateSeededProvisioning: on both backends a tenant provisioned from a template gets the
// template's schema and seed rows by copy, its own ownership marker, an empty second plan and a
// recorded deployment; a missing template fails the run naming it.
func TestTemplateSeededProvisioning(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			b := testBundle(3, true)
			if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); !errors.Is(err, platform.ErrAlreadyExists) {
				t.Fatalf("second CreateTemplate: %v; want ErrAlreadyExists", err)
			}
			db := provisionFromTemplate(t, ctx, s, "acme", "tmpl-crm-v1", b)
			// The template is untouched by the tenant's writes.
			if _, err := db.ExecContext(ctx, `DELETE FROM obj_00`); err != nil {
				t.Fatal(err)
			}
			again := withBundle(req("beta"), b)
			again.SeedDatabase = "tmpl-crm-v1"
			mustProvision(t, ctx, s, again)
			db2, err := s.DB(ctx, "beta")
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, ctx, db2, "obj_00"); n != 2 {
				t.Fatalf("second tenant has %d rows, want 2", n)
			}

			missing := withBundle(req("gamma"), b)
			missing.SeedDatabase = "tmpl-crm-v9"
			res, err := s.Provision(ctx, missing)
			if err == nil || !strings.Contains(err.Error(), "tmpl-crm-v9") || res.Status != tenant.StatusFailed {
				t.Fatalf("provision from a missing template: %v (status %v); want a failure naming it", err, res)
			}
			if slices.Contains(databaseNames(t, ctx, e.plat), "gamma") {
				t.Fatal("a failed seeded provision left a database")
			}
		})
	}
}

// provisionFromTemplate provisions tenant id from template tmpl (made from bundle b, with testBundle's two
// seed rows) and checks what a seeded tenant must have: the template's rows by copy, its own ownership
// marker, an empty second plan and the verified copy's deployment after the template's. It returns the
// tenant's database.
func provisionFromTemplate(t *testing.T, ctx context.Context, s *tenant.Service, id, tmpl string, b *bundle.Bundle) *sql.DB {
	t.Helper()
	r := withBundle(req(id), b)
	r.SeedDatabase = tmpl
	mustProvision(t, ctx, s, r)
	db, err := s.DB(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, ctx, db, "obj_00"); n != 2 {
		t.Fatalf("seeded tenant %s has %d obj_00 rows, want the template's 2", id, n)
	}
	var owner string
	if err := db.QueryRowContext(ctx, `SELECT tenant_id FROM _objectstack_tenant`).Scan(&owner); err != nil || owner != id {
		t.Fatalf("marker = %q, %v; want %s", owner, err, id)
	}
	owned := schema.BundleOwner(b.Manifest.Name)
	p, err := schema.PlanOwner(ctx, db, owned, b.Objects, schema.PlanOptions{})
	if err != nil || !p.UpToDate {
		t.Fatalf("second plan not empty: %v %+v", err, p)
	}
	deps, err := schema.Deployments(ctx, db, owned)
	if err != nil || len(deps) != 2 || deps[1].Source != "tenant-provision:seed:"+tmpl || deps[1].Version != b.Manifest.Version {
		t.Fatalf("deployments = %+v, %v; want the template's and the verified copy's", deps, err)
	}
	return db
}

// TestCreateTemplateKilledBeforeItsBatchIsFinishedByARerun: `tenant create-template tmpl-crm-v1` was
// killed after the platform created the database and before its one batch gave it the bundle. Templates are
// immutable, so the re-run used to refuse the name for good ("already exists … use a new name") — leaving
// an empty template that every tenant seeded from it had to migrate in full, and no command to delete it.
// The re-run must finish the empty database; a database that holds anything is still refused, untouched.
func TestCreateTemplateKilledBeforeItsBatchIsFinishedByARerun(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			b := testBundle(3, true)
			foreignDatabase(t, ctx, e, "tmpl-crm-v1", "") // what the killed run left: an empty database
			if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); err != nil {
				t.Fatalf("re-run of create-template over the killed run's empty database: %v", err)
			}
			if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); !errors.Is(err, platform.ErrAlreadyExists) {
				t.Fatalf("CreateTemplate over a finished template: %v; want ErrAlreadyExists", err)
			}
			provisionFromTemplate(t, ctx, s, "acme", "tmpl-crm-v1", b)

			foreignDatabase(t, ctx, e, "tmpl-foreign", "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')")
			if _, err := s.CreateTemplate(ctx, "tmpl-foreign", b); !errors.Is(err, platform.ErrAlreadyExists) {
				t.Fatalf("CreateTemplate over a database holding data: %v; want ErrAlreadyExists", err)
			}
			d, err := e.plat.GetDatabase(ctx, "tmpl-foreign")
			if err != nil {
				t.Fatalf("the refused database is gone: %v", err)
			}
			fdb := openDirect(t, ctx, e, d)
			defer fdb.Close()
			if n := count(t, ctx, fdb, "notes"); n != 1 {
				t.Fatalf("the refused database holds %d notes, want its 1", n)
			}
		})
	}
}

// TestRestoreBeforeDestructiveDeployment: on both backends, dropping a column records a restore
// point; restoring before that deployment moves the tenant to a new database holding the column
// and its data, keeps the old one (writes blocked) until purged.
func TestRestoreBeforeDestructiveDeployment(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			b := testBundle(2, true)
			mustProvision(t, ctx, s, withBundle(req("acme"), b))
			tn, err := s.Get(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			db, err := s.DB(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			deps, _ := schema.Deployments(ctx, db, schema.BundleOwner("crm"))
			if _, err := s.Restore(ctx, "acme", tenant.RestoreOptions{BeforeDeployment: deps[0].ID}); !errors.Is(err, schema.ErrNoRestorePoint) {
				t.Fatalf("restore before an additive deployment: %v; want ErrNoRestorePoint", err)
			}
			res := dropAmount(t, ctx, s, tn, b)
			if _, err := db.ExecContext(ctx, `INSERT INTO obj_00 (id, name) VALUES ('late', 'after the drop')`); err != nil {
				t.Fatal(err)
			}

			rec, err := s.Restore(ctx, "acme", tenant.RestoreOptions{BeforeDeployment: res.DeploymentID})
			if err != nil {
				t.Fatal(err)
			}
			if rec.OldDatabase != tn.DatabaseName || rec.NewDatabase == tn.DatabaseName || rec.RestorePoint != res.RestorePoint {
				t.Fatalf("restore record %+v", rec)
			}
			after, err := s.Get(ctx, "acme")
			if err != nil || after.DatabaseName != rec.NewDatabase || after.Status != tenant.StatusActive {
				t.Fatalf("tenant after restore: %+v %v; want it on %s", after, err, rec.NewDatabase)
			}
			ndb, err := s.DB(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			if err := ndb.QueryRowContext(ctx, `SELECT SUM(amount) FROM obj_00`).Scan(&sum); err != nil || sum != 3.5 {
				t.Fatalf("restored amount column: sum %v, %v; want the seed rows' 3.5", sum, err)
			}
			if n := count(t, ctx, ndb, "obj_00"); n != 2 {
				t.Fatalf("restored database has %d rows, want 2 (as before the deployment)", n)
			}
			if _, err := ndb.ExecContext(ctx, `INSERT INTO obj_00 (id, name) VALUES ('new', 'written after restore')`); err != nil {
				t.Fatalf("restored tenant is not writable: %v", err)
			}
			if !slices.Contains(databaseNames(t, ctx, e.plat), rec.OldDatabase) {
				t.Fatal("the old database was not kept for inspection")
			}
			old, err := e.plat.GetDatabase(ctx, rec.OldDatabase)
			if err != nil || !old.BlockWrites {
				t.Fatalf("old database %+v, %v; want it kept with writes blocked", old, err)
			}
			recs, err := s.Restores(ctx, "acme")
			if err != nil || len(recs) != 1 {
				t.Fatalf("restores = %+v, %v", recs, err)
			}
			purged, err := s.PurgeRestored(ctx, "acme")
			if err != nil || len(purged) != 1 || purged[0] != rec.OldDatabase {
				t.Fatalf("purge = %v, %v", purged, err)
			}
			names := databaseNames(t, ctx, e.plat)
			if slices.Contains(names, rec.OldDatabase) || !slices.Contains(names, rec.NewDatabase) {
				t.Fatalf("after purge databases are %v", names)
			}
			if again, err := s.PurgeRestored(ctx, "acme"); err != nil || len(again) != 0 {
				t.Fatalf("second purge = %v, %v; want nothing", again, err)
			}
		})
	}
}

// dropAmount deploys bundle b without obj_00.amount to tenant tn (the drop allowed), recording a restore
// point, and returns the deployment.
func dropAmount(t *testing.T, ctx context.Context, s *tenant.Service, tn *tenant.Tenant, b *bundle.Bundle) *schema.DeployExecutionResult {
	t.Helper()
	db, err := s.DB(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	owner := schema.BundleOwner(b.Manifest.Name)
	shrunk := slices.Clone(b.Objects)
	shrunk[0].Fields = slices.DeleteFunc(slices.Clone(shrunk[0].Fields), func(f bundle.Field) bool { return f.Key == "amount" })
	p, err := schema.PlanOwner(ctx, db, owner, shrunk, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Allow: []schema.DestructiveKind{schema.DropColumn}, RestorePoint: s.RestorePointFunc(tn)})
	if err != nil {
		t.Fatal(err)
	}
	if res.RestorePoint == "" {
		t.Fatal("a destructive deployment recorded no restore point")
	}
	return res
}

// TestRestoreKilledMidWayIsCleanedUp: `tenant restore` is killed after its new database was made and
// before the tenant was repointed (the OOM killer, a preempted CI runner). The tenant stays where it was,
// and the copy must not stay behind for good — a database nobody knows about, on Turso a billed one: the
// tenant's next restore or purge removes it once the killed run is provably gone (a process of this host
// that no longer runs, or a day old), and never while that run may still be going.
func TestRestoreKilledMidWayIsCleanedUp(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			b := testBundle(2, true)
			mustProvision(t, ctx, s, withBundle(req("acme"), b))
			tn, err := s.Get(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			res := dropAmount(t, ctx, s, tn, b)
			errKilled := errors.New("killed")
			restoreKilled := func() string {
				t.Helper()
				e.clock.advance(2 * time.Second) // a new second: a new database name
				tenant.SetAfterRestoreCopy(s, func(string) error { return errKilled })
				defer tenant.SetAfterRestoreCopy(s, nil)
				if _, err := s.Restore(ctx, "acme", tenant.RestoreOptions{BeforeDeployment: res.DeploymentID}); !errors.Is(err, errKilled) {
					t.Fatalf("restore = %v; want the simulated kill", err)
				}
				recs, err := s.Restores(ctx, "acme")
				if err != nil || len(recs) != 1 || !recs[0].Unfinished || recs[0].Holder == "" {
					t.Fatalf("restores after the kill = %+v, %v; want one unfinished, naming its run", recs, err)
				}
				if now, err := s.Get(ctx, "acme"); err != nil || now.DatabaseName != tn.DatabaseName {
					t.Fatalf("tenant after the kill: %+v %v; want it still on %s", now, err, tn.DatabaseName)
				}
				if !slices.Contains(databaseNames(t, ctx, e.plat), recs[0].NewDatabase) {
					t.Fatalf("the killed restore made no database %s", recs[0].NewDatabase)
				}
				return recs[0].NewDatabase
			}
			purgeRemoves := func(want ...string) {
				t.Helper()
				purged, err := s.PurgeRestored(ctx, "acme")
				if err != nil || !slices.Equal(purged, want) {
					t.Fatalf("purge = %v, %v; want %v", purged, err, want)
				}
				names := databaseNames(t, ctx, e.plat)
				for _, n := range want {
					if slices.Contains(names, n) {
						t.Fatalf("%s is still there after the purge: %v", n, names)
					}
				}
			}

			// Killed, its run this live process: nothing is removed (it may still be running).
			orphan := restoreKilled()
			purgeRemoves()
			// The same restore handed to a process of another host: still left alone, until a day has passed.
			if err := tenant.HandRestoresTo(ctx, s, "acme", "elsewhere:1:0a1b2c"); err != nil {
				t.Fatal(err)
			}
			purgeRemoves()
			e.clock.advance(25 * time.Hour)
			purgeRemoves(orphan)

			// Killed again, its run a process of this host that is gone: the next restore removes the copy
			// first, then restores.
			orphan = restoreKilled()
			if err := tenant.HandRestoresTo(ctx, s, "acme", tenant.GoneProcessHolder(t)); err != nil {
				t.Fatal(err)
			}
			e.clock.advance(2 * time.Second)
			rec, err := s.Restore(ctx, "acme", tenant.RestoreOptions{BeforeDeployment: res.DeploymentID})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(databaseNames(t, ctx, e.plat), orphan) {
				t.Fatalf("the killed restore's %s outlived the next restore", orphan)
			}
			recs, err := s.Restores(ctx, "acme")
			if err != nil || len(recs) != 1 || recs[0].Unfinished || recs[0].NewDatabase != rec.NewDatabase {
				t.Fatalf("restores = %+v, %v; want only the finished one", recs, err)
			}
			if now, err := s.Get(ctx, "acme"); err != nil || now.DatabaseName != rec.NewDatabase {
				t.Fatalf("tenant after the restore: %+v %v; want it on %s", now, err, rec.NewDatabase)
			}
		})
	}
}

// TestSeededRunThatDiedBeforeItsClaimResumes: `tenant create --seed-database tmpl` died (or lost its
// connection) after the platform had copied the template but before the run's one batch claimed the
// copy. Running the same command again used to fail for good — "database already holds N tables and
// no ObjectStack tenant marker; refusing to adopt it" — leaving the user to delete the database by
// hand. The re-run must recognise the unclaimed copy, verify it and finish, also when the template is
// a tenant's database (its marker travels with the copy); a database that is no copy is still refused.
func TestSeededRunThatDiedBeforeItsClaimResumes(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			b := testBundle(3, true)
			if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); err != nil {
				t.Fatal(err)
			}
			mustProvision(t, ctx, s, withBundle(req("acme"), b))
			for _, tc := range []struct{ id, template string }{{"beta", "tmpl-crm-v1"}, {"gamma", s.DatabaseName("acme")}} {
				// What the dead run left: the platform's copy, unclaimed.
				if _, err := e.plat.CreateDatabase(ctx, platform.CreateOptions{Name: s.DatabaseName(tc.id),
					Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: tc.template}}); err != nil {
					t.Fatal(err)
				}
				r := withBundle(req(tc.id), b)
				r.SeedDatabase = tc.template
				res, err := s.Provision(ctx, r)
				if err != nil || res.Status != tenant.StatusActive {
					t.Fatalf("%s: re-run of a seeded provisioning: %v (%+v)", tc.id, err, res)
				}
				db, err := s.DB(ctx, tc.id)
				if err != nil {
					t.Fatal(err)
				}
				var owner string
				if err := db.QueryRowContext(ctx, `SELECT tenant_id FROM _objectstack_tenant`).Scan(&owner); err != nil || owner != tc.id {
					t.Fatalf("%s: marker = %q, %v", tc.id, owner, err)
				}
				if p, err := schema.PlanOwner(ctx, db, schema.BundleOwner("crm"), b.Objects, schema.PlanOptions{}); err != nil || !p.UpToDate {
					t.Fatalf("%s: second plan not empty: %v %+v", tc.id, err, p)
				}
				if n := count(t, ctx, db, "obj_00"); n != 2 {
					t.Fatalf("%s: %d obj_00 rows, want the template's 2", tc.id, n)
				}
			}
			// A database that is not a copy of the template (someone else's tables) is still not adopted.
			foreignDatabase(t, ctx, e, s.DatabaseName("delta"), `CREATE TABLE invoices (id INTEGER PRIMARY KEY)`)
			r := withBundle(req("delta"), b)
			r.SeedDatabase = "tmpl-crm-v1"
			if _, err := s.Provision(ctx, r); !errors.Is(err, tenant.ErrConflict) {
				t.Fatalf("seeded provisioning onto a foreign database: %v; want ErrConflict", err)
			}
		})
	}
}

// TestTemplateVerificationFollowsBundleContent: a bundle edited without a version bump (a field
// added, still 1.0.0) must not ride on the verification the service cached for the template and the
// old content: the tenant seeded from that template gets the new field, and its second plan is empty.
func TestTemplateVerificationFollowsBundleContent(t *testing.T) {
	e := newEnv(t, "local")
	ctx := testCtx(t)
	s := e.service(t)
	b := testBundle(2, false)
	if _, err := s.CreateTemplate(ctx, "tmpl-crm-v1", b); err != nil {
		t.Fatal(err)
	}
	r := withBundle(req("acme"), b)
	r.SeedDatabase = "tmpl-crm-v1"
	mustProvision(t, ctx, s, r)

	edited := *b
	edited.Objects = slices.Clone(b.Objects)
	edited.Objects[0].Fields = append(slices.Clone(b.Objects[0].Fields), bundle.Field{Key: "notes", Name: "notes", Type: "textarea", Label: "Notes"})
	edited.Checksum = ""
	r = withBundle(req("beta"), &edited)
	r.SeedDatabase = "tmpl-crm-v1"
	mustProvision(t, ctx, s, r)
	db, err := s.DB(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := schema.PlanOwner(ctx, db, schema.BundleOwner("crm"), edited.Objects, schema.PlanOptions{}); err != nil || !p.UpToDate {
		t.Fatalf("the edited bundle's second plan is not empty (the cached verification of the old content was used): %v", errors.Join(err, fmt.Errorf("%+v", p.Migration.Statements)))
	}
}
