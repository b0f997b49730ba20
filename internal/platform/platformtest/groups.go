package platformtest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// Locations every backend offers (the local backend accepts Turso's ids so configurations move).
const (
	primaryLocation = "aws-eu-west-1"
	extraLocation   = "aws-us-west-2"
)

// RunGroups runs the group and database-configuration part of the contract: groups with their
// locations, delete protection and tokens, and the configuration endpoint round trip.
func RunGroups(t *testing.T, newPlatform func(t *testing.T) platform.Platform, opts Options) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("GroupLifecycle", func(t *testing.T) { groupLifecycle(ctxFor(t), t, newPlatform(t)) })
	t.Run("GroupTokens", func(t *testing.T) { groupTokens(ctxFor(t), t, newPlatform(t), opts) })
	t.Run("Configuration", func(t *testing.T) { configuration(ctxFor(t), t, newPlatform(t)) })
}

func groupsOf(t *testing.T, p platform.Platform) platform.Groups {
	t.Helper()
	g, err := platform.GroupsOf(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func groupListed(ctx context.Context, t *testing.T, g platform.Groups, name string) bool {
	t.Helper()
	all, err := g.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	return slices.ContainsFunc(all, func(x platform.Group) bool { return x.Name == name })
}

func groupLifecycle(ctx context.Context, t *testing.T, p platform.Platform) {
	g := groupsOf(t, p)
	locs, err := g.Locations(ctx)
	if err != nil {
		t.Fatalf("locations: %v", err)
	}
	for _, l := range []string{primaryLocation, extraLocation} {
		if locs[l] == "" {
			t.Fatalf("locations %v lack %s", locs, l)
		}
	}
	if !groupListed(ctx, t, g, platform.DefaultGroup) {
		t.Fatal("the default group is not listed")
	}
	if _, err := g.GetGroup(ctx, "contract-nogroup"); !errors.Is(err, platform.ErrGroupNotFound) {
		t.Fatalf("get missing group: %v, want ErrGroupNotFound", err)
	}
	if _, err := g.CreateGroup(ctx, platform.GroupOptions{Name: "contract-bad", Location: "mars-1"}); !errors.Is(err, platform.ErrInvalidLocation) {
		t.Fatalf("create group in mars-1: %v, want ErrInvalidLocation", err)
	}
	if groupListed(ctx, t, g, "contract-bad") {
		t.Fatal("a refused group was created")
	}
	if _, err := g.CreateGroup(ctx, platform.GroupOptions{Name: "Bad_Name", Location: primaryLocation}); !errors.Is(err, platform.ErrInvalidName) {
		t.Fatalf("create group Bad_Name: %v, want ErrInvalidName", err)
	}

	const name = "contract-eu"
	created, err := g.CreateGroup(ctx, platform.GroupOptions{Name: name, Location: primaryLocation})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if created.Name != name || created.Primary != primaryLocation || !slices.Equal(created.Locations, []string{primaryLocation}) || created.UUID == "" {
		t.Fatalf("created group = %+v", created)
	}
	again, err := g.CreateGroup(ctx, platform.GroupOptions{Name: name, Location: primaryLocation})
	if !errors.Is(err, platform.ErrGroupExists) || again == nil || again.UUID != created.UUID {
		t.Fatalf("second create = %+v, %v; want the existing group and ErrGroupExists", again, err)
	}
	if !groupListed(ctx, t, g, name) {
		t.Fatal("new group not listed")
	}

	// Locations.
	if _, err := g.AddLocation(ctx, name, "mars-1"); !errors.Is(err, platform.ErrInvalidLocation) {
		t.Fatalf("add mars-1: %v, want ErrInvalidLocation", err)
	}
	got, err := g.AddLocation(ctx, name, extraLocation)
	if err != nil || !slices.Equal(got.Locations, []string{primaryLocation, extraLocation}) {
		t.Fatalf("add location: %+v, %v", got, err)
	}
	if got, err = g.GetGroup(ctx, name); err != nil || !slices.Equal(got.Locations, []string{primaryLocation, extraLocation}) {
		t.Fatalf("get after add location: %+v, %v", got, err)
	}
	if _, err := g.RemoveLocation(ctx, name, primaryLocation); !errors.Is(err, platform.ErrPrimaryLocation) {
		t.Fatalf("remove primary: %v, want ErrPrimaryLocation", err)
	}
	if got, err = g.RemoveLocation(ctx, name, extraLocation); err != nil || !slices.Equal(got.Locations, []string{primaryLocation}) {
		t.Fatalf("remove location: %+v, %v", got, err)
	}

	// Databases go only into groups that exist, and land in the one asked for.
	if db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-orphan", Group: "contract-nogroup"}); err == nil {
		t.Fatalf("created %+v in a missing group", db)
	}
	if _, err := p.GetDatabase(ctx, "contract-orphan"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("database in a missing group exists: %v", err)
	}
	db, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-member", Group: name})
	if err != nil {
		t.Fatalf("create database in group: %v", err)
	}
	if db.Group != name {
		t.Fatalf("database group = %q, want %q", db.Group, name)
	}
	if db, err = p.GetDatabase(ctx, "contract-member"); err != nil || db.Group != name || db.PrimaryRegion != primaryLocation {
		t.Fatalf("get member = %+v, %v; want group %s in %s", db, err, name, primaryLocation)
	}
	if !listed(ctx, t, p, name, "contract-member") || listed(ctx, t, p, platform.DefaultGroup, "contract-member") {
		t.Fatal("list by group does not show the member in its group only")
	}

	// A group with databases, or with delete protection, is not deleted.
	if err := g.DeleteGroup(ctx, name); !errors.Is(err, platform.ErrGroupNotEmpty) {
		t.Fatalf("delete non-empty group: %v, want ErrGroupNotEmpty", err)
	}
	if !groupListed(ctx, t, g, name) {
		t.Fatal("refused delete removed the group")
	}
	if err := p.DeleteDatabase(ctx, "contract-member"); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if got, err = g.ConfigureGroup(ctx, name, platform.GroupConfiguration{DeleteProtection: &yes}); err != nil || !got.DeleteProtection {
		t.Fatalf("protect group: %+v, %v", got, err)
	}
	if err := g.DeleteGroup(ctx, name); !errors.Is(err, platform.ErrDeleteProtected) {
		t.Fatalf("delete protected group: %v, want ErrDeleteProtected", err)
	}
	if got, err = g.ConfigureGroup(ctx, name, platform.GroupConfiguration{DeleteProtection: &no}); err != nil || got.DeleteProtection {
		t.Fatalf("unprotect group: %+v, %v", got, err)
	}
	if err := g.DeleteGroup(ctx, name); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := g.GetGroup(ctx, name); !errors.Is(err, platform.ErrGroupNotFound) {
		t.Fatalf("get deleted group: %v", err)
	}
	if err := g.DeleteGroup(ctx, name); err != nil {
		t.Fatalf("second delete: %v, want success", err)
	}
	if err := g.DeleteGroup(ctx, platform.DefaultGroup); err == nil {
		t.Fatal("the default group was deleted")
	}
}

// groupTokens: one group token opens every database of its group and nothing outside it; rotating
// the group's tokens, or any member database's, invalidates it (the blast radius is the group).
func groupTokens(ctx context.Context, t *testing.T, p platform.Platform, opts Options) {
	g := groupsOf(t, p)
	if _, err := g.CreateGroup(ctx, platform.GroupOptions{Name: "contract-shared", Location: primaryLocation}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateGroupToken(ctx, "contract-nogroup", platform.TokenOptions{}); !errors.Is(err, platform.ErrGroupNotFound) {
		t.Fatalf("token of a missing group: %v, want ErrGroupNotFound", err)
	}
	if _, err := g.CreateGroupToken(ctx, "contract-shared", platform.TokenOptions{Expiration: "soon"}); err == nil {
		t.Fatal("bad expiration accepted")
	}
	a, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-ga", Group: "contract-shared"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: "contract-gb", Group: "contract-shared"})
	if err != nil {
		t.Fatal(err)
	}
	outside := mustCreate(ctx, t, p, "contract-gout")
	tok, err := g.CreateGroupToken(ctx, "contract-shared", platform.TokenOptions{Scope: platform.ScopeFullAccess})
	if err != nil {
		t.Fatal(err)
	}
	if opts.TokensEnforced && tok.JWT == "" {
		t.Fatal("group token is empty on a backend that enforces tokens")
	}
	for _, db := range []*platform.Database{a, b} {
		h := open(t, p, db, tok)
		if _, err := h.ExecContext(ctx, `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
			t.Fatalf("group token on %s: %v", db.Name, err)
		}
		h.Close()
	}
	if opts.TokensEnforced {
		h := open(t, p, outside, tok)
		if _, err := h.ExecContext(ctx, `SELECT 1`); err == nil {
			t.Fatal("group token opened a database outside its group")
		}
		h.Close()
		ro, err := g.CreateGroupToken(ctx, "contract-shared", platform.TokenOptions{Scope: platform.ScopeReadOnly})
		if err != nil {
			t.Fatal(err)
		}
		h = open(t, p, a, ro)
		if n := count(ctx, t, h); n != 0 {
			t.Fatalf("read-only group token count = %d", n)
		}
		if _, err := h.ExecContext(ctx, `INSERT INTO notes(body) VALUES ('no')`); err == nil {
			t.Fatal("read-only group token could write")
		}
		h.Close()

		// Rotating one member database's tokens invalidates the group token too.
		if err := p.RotateTokens(ctx, b.Name); err != nil {
			t.Fatal(err)
		}
		h = open(t, p, a, tok)
		if _, err := h.ExecContext(ctx, `SELECT 1`); err == nil {
			t.Fatal("group token still accepted after a member database's tokens were rotated")
		}
		h.Close()

		// Rotating the group invalidates group tokens and the members' database tokens.
		tok, err = g.CreateGroupToken(ctx, "contract-shared", platform.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dbTok, err := p.CreateToken(ctx, a.Name, platform.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		outTok, err := p.CreateToken(ctx, outside.Name, platform.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.RotateGroupTokens(ctx, "contract-shared"); err != nil {
			t.Fatal(err)
		}
		for what, c := range map[string]struct {
			db  *platform.Database
			tok platform.Token
			ok  bool
		}{
			"group token":                {a, tok, false},
			"member database token":      {a, dbTok, false},
			"outside-the-group db token": {outside, outTok, true},
		} {
			h := open(t, p, c.db, c.tok)
			_, err := h.ExecContext(ctx, `SELECT 1`)
			h.Close()
			if (err == nil) != c.ok {
				t.Errorf("after group rotate, %s: err = %v, want accepted = %v", what, err, c.ok)
			}
		}
	}
	if err := g.RotateGroupTokens(ctx, "contract-nogroup"); !errors.Is(err, platform.ErrGroupNotFound) {
		t.Fatalf("rotate missing group: %v", err)
	}
	for _, n := range []string{a.Name, b.Name, outside.Name} {
		if err := p.DeleteDatabase(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.DeleteGroup(ctx, "contract-shared"); err != nil {
		t.Fatal(err)
	}
}

// configuration: block_reads, block_writes, size_limit and delete_protection round-trip through
// the configuration endpoint, and delete protection stops a delete until it is turned off.
func configuration(ctx context.Context, t *testing.T, p platform.Platform) {
	reader, ok := p.(platform.ConfigurationReader)
	if !ok {
		t.Fatalf("%s backend cannot read a database's configuration", p.Kind())
	}
	const name = "contract-config"
	db := mustCreate(ctx, t, p, name)
	read := func() platform.DatabaseConfiguration {
		t.Helper()
		c, err := reader.GetConfiguration(ctx, name)
		if err != nil {
			t.Fatalf("get configuration: %v", err)
		}
		return c
	}
	if c := read(); c != (platform.DatabaseConfiguration{}) {
		t.Fatalf("new database configuration = %+v, want all off", c)
	}
	yes, no := true, false
	limit := int64(8 << 20)
	if err := p.Configure(ctx, name, platform.Configuration{DeleteProtection: &yes, BlockReads: &yes, BlockWrites: &yes, SizeLimitBytes: &limit}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	want := platform.DatabaseConfiguration{BlockReads: true, BlockWrites: true, DeleteProtection: true, SizeLimitBytes: limit}
	if c := read(); c != want {
		t.Fatalf("configuration = %+v, want %+v", c, want)
	}
	if got, err := p.GetDatabase(ctx, name); err != nil || !got.DeleteProtection || !got.BlockReads || !got.BlockWrites {
		t.Fatalf("get database after configure = %+v, %v", got, err)
	}
	tok, err := p.CreateToken(ctx, name, platform.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := platform.Open(p, db, tok); err == nil {
		_, qerr := h.ExecContext(ctx, `SELECT count(*) FROM sqlite_master`)
		h.Close()
		if qerr == nil {
			t.Fatal("read succeeded while reads are blocked")
		}
	}
	err = p.DeleteDatabase(ctx, name)
	if !errors.Is(err, platform.ErrDeleteProtected) {
		t.Fatalf("delete protected database: %v, want ErrDeleteProtected", err)
	}
	if _, err := p.GetDatabase(ctx, name); err != nil {
		t.Fatalf("refused delete removed the database: %v", err)
	}
	zero := int64(0)
	if err := p.Configure(ctx, name, platform.Configuration{DeleteProtection: &no, BlockReads: &no, BlockWrites: &no, SizeLimitBytes: &zero}); err != nil {
		t.Fatal(err)
	}
	if c := read(); c != (platform.DatabaseConfiguration{}) {
		t.Fatalf("configuration after turning everything off = %+v", c)
	}
	h := open(t, p, db, tok)
	if _, err := h.ExecContext(ctx, `CREATE TABLE notes(id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatalf("write after unblocking: %v", err)
	}
	h.Close()
	if err := p.DeleteDatabase(ctx, name); err != nil {
		t.Fatalf("delete after turning protection off: %v", err)
	}
	if _, err := reader.GetConfiguration(ctx, name); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("configuration of a deleted database: %v, want ErrNotFound", err)
	}
}
