package tenant_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

// TestRegionGroupsAndProtection, on both backends: a tenant in a mapped region lands in that
// region's group; suspending names the other tenants of a shared group; a protected tenant's
// destroy fails naming delete_protection and changes nothing, and works once it is off.
func TestRegionGroupsAndProtection(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			groups, err := platform.GroupsOf(e.plat)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := groups.CreateGroup(ctx, platform.GroupOptions{Name: "eu", Location: "aws-eu-west-1"}); err != nil {
				t.Fatal(err)
			}
			s := e.service(t, func(c *tenant.Config) { c.Regions = map[string]string{"eu-west": "eu"} })
			if g := s.GroupFor("eu-west"); g != "eu" {
				t.Fatalf("GroupFor(eu-west) = %q", g)
			}
			for _, id := range []string{"paris", "dublin"} {
				r := req(id)
				r.Region = "eu-west"
				mustProvision(t, ctx, s, r)
			}
			mustProvision(t, ctx, s, req("boston"))
			db, err := e.plat.GetDatabase(ctx, "paris")
			if err != nil || db.Group != "eu" {
				t.Fatalf("paris database = %+v, %v; want group eu", db, err)
			}
			if db, err = e.plat.GetDatabase(ctx, "boston"); err != nil || db.Group == "eu" {
				t.Fatalf("boston database = %+v, %v; want outside eu", db, err)
			}

			group, others, err := s.RotationImpact(ctx, "paris")
			if err != nil || group != "eu" || !slices.Equal(others, []string{"dublin"}) {
				t.Fatalf("RotationImpact(paris) = %q %v %v, want eu [dublin]", group, others, err)
			}

			yes, no := true, false
			if err := s.SetAccess(ctx, "paris", tenant.Access{DeleteProtection: &yes}); err != nil {
				t.Fatal(err)
			}
			if c, err := s.AccessOf(ctx, "paris"); err != nil || !c.DeleteProtection {
				t.Fatalf("AccessOf = %+v, %v", c, err)
			}
			err = s.Destroy(ctx, "paris", tenant.DestroyOptions{Immediate: true})
			if !errors.Is(err, platform.ErrDeleteProtected) || !strings.Contains(err.Error(), "delete_protection") {
				t.Fatalf("destroy protected: %v, want an error naming delete_protection", err)
			}
			if tn, err := s.Get(ctx, "paris"); err != nil || tn.Status != tenant.StatusActive {
				t.Fatalf("after refused destroy: %+v, %v; want active and untouched", tn, err)
			}
			if c, _ := s.AccessOf(ctx, "paris"); c.BlockWrites {
				t.Fatal("refused destroy blocked writes (half-applied)")
			}
			if err := s.SetAccess(ctx, "paris", tenant.Access{DeleteProtection: &no}); err != nil {
				t.Fatal(err)
			}
			if err := s.Destroy(ctx, "paris", tenant.DestroyOptions{Immediate: true}); err != nil {
				t.Fatalf("destroy after protection off: %v", err)
			}
			if _, err := e.plat.GetDatabase(ctx, "paris"); !errors.Is(err, platform.ErrNotFound) {
				t.Fatalf("database after destroy: %v", err)
			}

			// Suspended tenants keep writes blocked.
			if err := s.Suspend(ctx, "dublin"); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAccess(ctx, "dublin", tenant.Access{BlockWrites: &no}); !errors.Is(err, tenant.ErrState) {
				t.Fatalf("unblock writes of a suspended tenant: %v, want ErrState", err)
			}
		})
	}
}

// TestRouterUsesGroupToken: with a group token configured, the router opens the group's active
// tenants with it (one credential for the group); a wrong group token is refused by the server.
func TestRouterUsesGroupToken(t *testing.T) {
	e := newEnv(t, "dev")
	ctx := testCtx(t)
	groups, _ := platform.GroupsOf(e.plat)
	if _, err := groups.CreateGroup(ctx, platform.GroupOptions{Name: "eu", Location: "aws-eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateGroup(ctx, platform.GroupOptions{Name: "us", Location: "aws-us-east-1"}); err != nil {
		t.Fatal(err)
	}
	regions := map[string]string{"eu-west": "eu", "us-east": "us"}
	setup := e.service(t, func(c *tenant.Config) { c.Regions = regions })
	r := req("lyon")
	r.Region = "eu-west"
	mustProvision(t, ctx, setup, r)
	setup.Close()

	euTok, err := groups.CreateGroupToken(ctx, "eu", platform.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	usTok, err := groups.CreateGroupToken(ctx, "us", platform.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := e.service(t, func(c *tenant.Config) {
		c.Regions, c.GroupTokens = regions, map[string]string{"eu": euTok.JWT}
	})
	db, err := good.DB(ctx, "lyon")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(x)`); err != nil {
		t.Fatalf("group token through the router: %v", err)
	}
	good.Close()
	// Proof the group token was used: the us group's token for an eu tenant is refused.
	bad := e.service(t, func(c *tenant.Config) {
		c.Regions, c.GroupTokens = regions, map[string]string{"eu": usTok.JWT}
	})
	db, err = bad.DB(ctx, "lyon")
	if err == nil {
		_, err = db.ExecContext(ctx, `SELECT 1`)
	}
	if err == nil {
		t.Fatal("another group's token opened the tenant")
	}
}

// TestResumeKeepsWritesTheUserBlocked: an operator blocks a tenant's writes for a data migration
// (`tenant configure acme --block-writes`), an incident suspends it, the incident ends and it is
// resumed. Resume used to unblock writes unconditionally, undoing the operator's setting without a
// word; it must unblock only what the suspension blocked — also for a resume out of the destroy grace
// period — and a tenant whose writes were open before is writable again.
func TestResumeKeepsWritesTheUserBlocked(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := testCtx(t)
			s := e.service(t)
			mustProvision(t, ctx, s, req("acme"))
			mustProvision(t, ctx, s, req("beta"))
			yes := true
			if err := s.SetAccess(ctx, "acme", tenant.Access{BlockWrites: &yes}); err != nil {
				t.Fatal(err)
			}
			for _, cycle := range []struct {
				name string
				stop func(id string) error
			}{
				{"suspend", func(id string) error { return s.Suspend(ctx, id) }},
				{"destroy", func(id string) error { return s.Destroy(ctx, id, tenant.DestroyOptions{}) }},
			} {
				for _, id := range []string{"acme", "beta"} {
					if err := cycle.stop(id); err != nil {
						t.Fatalf("%s %s: %v", cycle.name, id, err)
					}
					if c, err := s.AccessOf(ctx, id); err != nil || !c.BlockWrites {
						t.Fatalf("%s %s: block_writes = %+v, %v; want blocked", cycle.name, id, c, err)
					}
					if err := s.Resume(ctx, id); err != nil {
						t.Fatalf("resume %s after %s: %v", id, cycle.name, err)
					}
				}
				if c, err := s.AccessOf(ctx, "acme"); err != nil || !c.BlockWrites {
					t.Fatalf("after %s and resume, acme's block_writes = %+v, %v; the operator's setting was undone", cycle.name, c, err)
				}
				if c, err := s.AccessOf(ctx, "beta"); err != nil || c.BlockWrites {
					t.Fatalf("after %s and resume, beta's block_writes = %+v, %v; want writable again", cycle.name, c, err)
				}
			}
			// Blocking writes while suspended asks for them to stay blocked after the resume.
			if err := s.Suspend(ctx, "beta"); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAccess(ctx, "beta", tenant.Access{BlockWrites: &yes}); err != nil {
				t.Fatal(err)
			}
			if err := s.Resume(ctx, "beta"); err != nil {
				t.Fatal(err)
			}
			if c, err := s.AccessOf(ctx, "beta"); err != nil || !c.BlockWrites {
				t.Fatalf("block_writes set while suspended was undone by resume: %+v, %v", c, err)
			}
		})
	}
}
