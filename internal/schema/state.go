package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// State is everything a plan needs from one tenant database, read in ONE round trip (ReadState): the schema,
// every owner's registry rows, the migration lease, and the values a later write batch re-checks to detect
// that the database moved since (schema_version, a digest of the registry, and any guards a caller added).
// Plans made from a State do no I/O, and After chains plans of several owners in one revision.
type State struct {
	cur *dbSchema
	reg []registryRow

	schemaVersion int64
	regDigest     any  // the registry digest as read: text, or nil for an empty registry
	hasRegDigest  bool // false when the registry table does not exist
	hasLockTable  bool
	leaseHolder   string
	leaseExpires  time.Time

	guards []guardValue
	extra  map[string]database.Result

	// expectEmpty is set on EmptyState: a batch checks the database has no schema at all.
	expectEmpty bool
	// base is the State as read, for states returned by After: a batch re-checks the database against it.
	base *State
}

type guardValue struct {
	sql   string
	value any
	ok    bool // the guard's query ran (a missing table leaves it to schema_version)
}

// ReadOptions adds a caller's reads to the one round trip.
type ReadOptions struct {
	// Owners limits the registry definitions read to these owners (nil reads every owner's): only the planning
	// owners' stored definitions are ever decoded.
	Owners []Owner
	// Guards are scalar queries whose answers a write batch made from this State must see unchanged, e.g. a
	// digest of a table another package owns. A guard that fails to run (its table is missing) is covered by
	// schema_version, which any CREATE bumps.
	Guards []string
	// Extra statements run in the same snapshot, by a key of the caller's; State.Extra returns their results.
	Extra map[string]database.Stmt
	// Deployments asks for the latest successful deployment of each owner (State.LatestDeployment).
	Deployments []Owner
}

// Extra returns the result of the ReadOptions.Extra statement under key (with its own Err).
func (s *State) Extra(key string) (database.Result, bool) {
	r, ok := s.read().extra[key]
	return r, ok
}

// registryDigestSQL summarises every registry row; the same text runs in the read and in the batch guard.
const registryDigestSQL = `SELECT group_concat(owner || char(31) || name || char(31) || table_name || char(31) || checksum, char(30))
FROM (SELECT owner, name, table_name, checksum FROM _objectstack_objects ORDER BY name)`

const (
	readIntrospect = iota
	readRegistryRows
	readVersion
	readDigest
	readLease
	readFixed // statements before the caller's guards
)

// EmptyState is the State of a database known to be empty — one the platform created a moment ago — without
// reading it: a batch made from it first checks that the database really has no schema object at all, and
// fails with ErrStalePlan otherwise (then read it and plan again).
func EmptyState() *State {
	return &State{cur: &dbSchema{Tables: map[string]*table{}}, expectEmpty: true, extra: map[string]database.Result{}}
}

// ReadState reads one tenant database's State in one round trip.
func ReadState(ctx context.Context, db *sql.DB, opts ReadOptions) (*State, error) {
	owners := make([]string, 0, len(opts.Owners))
	for _, o := range opts.Owners {
		owners = append(owners, string(o))
	}
	ownersJSON, _ := json.Marshal(owners)
	all := opts.Owners == nil
	stmts := []database.Stmt{
		readIntrospect: {SQL: introspectQuery},
		readRegistryRows: {SQL: `SELECT owner, name, table_name, checksum,
  CASE WHEN ? OR owner IN (SELECT value FROM json_each(?)) THEN definition END
FROM _objectstack_objects ORDER BY name`, Args: []any{all, string(ownersJSON)}},
		readVersion: {SQL: `SELECT schema_version FROM pragma_schema_version`},
		readDigest:  {SQL: registryDigestSQL},
		readLease:   {SQL: `SELECT holder, expires_at FROM _objectstack_lock WHERE name = ?`, Args: []any{leaseName}},
	}
	for _, g := range opts.Guards {
		stmts = append(stmts, database.Stmt{SQL: "SELECT (" + g + ")"})
	}
	if len(opts.Deployments) > 0 {
		extra := map[string]database.Stmt{}
		for k, v := range opts.Extra {
			extra[k] = v
		}
		for _, o := range opts.Deployments {
			extra[deploymentKey(o)] = database.Stmt{SQL: `SELECT ` + deploymentColumns + ` FROM _objectstack_deployments
WHERE owner = ? AND status = 'ready' ORDER BY completed_at DESC, seq DESC LIMIT 1`, Args: []any{string(o)}}
		}
		opts.Extra = extra
	}
	extraKeys := make([]string, 0, len(opts.Extra))
	for k := range opts.Extra {
		extraKeys = append(extraKeys, k)
	}
	sort.Strings(extraKeys)
	for _, k := range extraKeys {
		stmts = append(stmts, opts.Extra[k])
	}
	res, err := database.For(db).Read(ctx, stmts)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st := &State{}
	if res[readIntrospect].Err != nil {
		return nil, fmt.Errorf("introspect: %w", res[readIntrospect].Err)
	}
	if st.cur, err = introspectRows(res[readIntrospect].Rows); err != nil {
		return nil, err
	}
	if st.cur.HasRegistry {
		r := res[readRegistryRows]
		if r.Err != nil {
			return nil, fmt.Errorf("read object registry: %w", r.Err)
		}
		for _, row := range r.Rows {
			rr := registryRow{Owner: asString(row[0]), Name: asString(row[1]), Table: asString(row[2]), Checksum: asString(row[3])}
			if row[4] != nil {
				rr.Definition = []byte(asString(row[4]))
			}
			st.reg = append(st.reg, rr)
		}
		if d := res[readDigest]; d.Err == nil && len(d.Rows) == 1 {
			st.regDigest, st.hasRegDigest = d.Rows[0][0], true
		} else if d.Err != nil {
			return nil, fmt.Errorf("read object registry: %w", d.Err)
		}
	}
	if v := res[readVersion]; v.Err != nil || len(v.Rows) != 1 {
		return nil, fmt.Errorf("read schema_version: %v", v.Err)
	} else {
		st.schemaVersion = asInt(v.Rows[0][0])
	}
	if l := res[readLease]; l.Err == nil {
		st.hasLockTable = true
		if len(l.Rows) == 1 {
			st.leaseHolder = asString(l.Rows[0][0])
			st.leaseExpires = time.UnixMilli(asInt(l.Rows[0][1]))
		}
	} else if !isNoSuchTable(l.Err) {
		return nil, fmt.Errorf("read migration lock: %w", l.Err)
	}
	for i, g := range opts.Guards {
		r := res[readFixed+i]
		gv := guardValue{sql: g}
		if r.Err == nil && len(r.Rows) == 1 {
			gv.value, gv.ok = r.Rows[0][0], true
		} else if r.Err != nil && !isNoSuchTable(r.Err) {
			return nil, fmt.Errorf("read guard: %w", r.Err)
		}
		st.guards = append(st.guards, gv)
	}
	st.extra = map[string]database.Result{}
	for i, k := range extraKeys {
		st.extra[k] = res[readFixed+len(opts.Guards)+i]
	}
	return st, nil
}

func isNoSuchTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case string:
		var n int64
		_, _ = fmt.Sscan(x, &n)
		return n
	}
	return 0
}

// Registered returns every registered object of every owner whose definition was read (see ReadOptions.Owners).
func (s *State) Registered() ([]RegisteredObject, error) {
	out := make([]RegisteredObject, 0, len(s.reg))
	for _, r := range s.reg {
		ro := RegisteredObject{Owner: Owner(r.Owner), Name: r.Name, Table: r.Table, Checksum: r.Checksum}
		if r.Definition != nil {
			d, err := decodeObject(r.Definition)
			if err != nil {
				return nil, fmt.Errorf("registered object %s: %w", r.Name, err)
			}
			ro.Definition = d
		}
		out = append(out, ro)
	}
	return out, nil
}

// OwnerChecksum is the checksum of the object set registered for owner ("" when it has none); see
// the package-level OwnerChecksum.
func (s *State) OwnerChecksum(owner Owner) string {
	pairs := map[string]string{}
	for _, r := range s.reg {
		if r.Owner == string(owner) {
			pairs[r.Name] = r.Checksum
		}
	}
	return setChecksum(pairs)
}

// TableExists reports whether the database (as of this State, including plans chained with After) has table.
func (s *State) TableExists(name string) bool {
	_, ok := s.cur.Tables[name]
	return ok
}

// ExistedAtRead reports whether table existed when the State was read (before any plan chained with After).
func (s *State) ExistedAtRead(name string) bool {
	_, ok := s.read().cur.Tables[name]
	return ok
}

// MergeReads combines what several callers need from one read.
func MergeReads(a, b ReadOptions) ReadOptions {
	out := ReadOptions{Extra: map[string]database.Stmt{}}
	if a.Owners != nil && b.Owners != nil {
		out.Owners = append(append([]Owner{}, a.Owners...), b.Owners...)
	}
	seen := map[string]bool{}
	for _, g := range append(append([]string{}, a.Guards...), b.Guards...) {
		if !seen[g] {
			seen[g] = true
			out.Guards = append(out.Guards, g)
		}
	}
	for k, v := range a.Extra {
		out.Extra[k] = v
	}
	for k, v := range b.Extra {
		out.Extra[k] = v
	}
	out.Deployments = append(append([]Owner{}, a.Deployments...), b.Deployments...)
	return out
}

func deploymentKey(o Owner) string { return "schema:deployment:" + string(o) }

// LatestDeployment returns the owner's latest successful deployment, when ReadOptions.Deployments asked for it.
func (s *State) LatestDeployment(owner Owner) (*Deployment, error) {
	r, ok := s.read().extra[deploymentKey(owner)]
	if !ok {
		return nil, fmt.Errorf("the state was read without the deployments of %s", owner)
	}
	if r.Err != nil {
		if isNoSuchTable(r.Err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read deployments of %s: %w", owner, r.Err)
	}
	if len(r.Rows) == 0 {
		return nil, nil
	}
	d, err := scanDeployment(database.Row(r.Rows[0]))
	if err != nil {
		return nil, fmt.Errorf("read deployments of %s: %w", owner, err)
	}
	return &d, nil
}

// OwnerReport is what refresh learns about one owner from one read: its registered objects and checksum,
// whether the live schema drifted from them, and its latest successful deployment.
type OwnerReport struct {
	State      *State
	Objects    []bundle.Object
	Checksum   string
	Drift      bool
	Deployment *Deployment
}

// InspectOwner reads owner's report in one round trip (plus what extra asks for, merged into the same read).
// found is false when the owner has nothing registered.
func InspectOwner(ctx context.Context, db *sql.DB, owner Owner, extra ReadOptions) (*OwnerReport, bool, error) {
	ro := MergeReads(ReadOptions{Owners: []Owner{owner}, Deployments: []Owner{owner}}, extra)
	st, err := ReadState(ctx, db, ro)
	if err != nil {
		return nil, false, err
	}
	return st.Report(owner)
}

// Report is InspectOwner's answer from a State already read (with owner's definitions and deployments).
func (s *State) Report(owner Owner) (*OwnerReport, bool, error) {
	rep := &OwnerReport{State: s, Checksum: s.OwnerChecksum(owner)}
	regs, err := s.Registered()
	if err != nil {
		return nil, false, err
	}
	for _, ro := range regs {
		if ro.Owner == owner {
			rep.Objects = append(rep.Objects, ro.Definition)
		}
	}
	if len(rep.Objects) == 0 {
		return rep, false, nil
	}
	p, err := s.Plan(owner, rep.Objects)
	if err != nil {
		return nil, false, err
	}
	rep.Drift = len(p.Migration.Statements) > 0
	if rep.Deployment, err = s.LatestDeployment(owner); err != nil {
		return nil, false, err
	}
	return rep, true, nil
}

// Lease returns the migration lease's holder and expiry ("" when nobody holds one).
func (s *State) Lease() (string, time.Time) { return s.leaseHolder, s.leaseExpires }

// Plan plans owner's objects against the State, without any I/O.
func (s *State) Plan(owner Owner, objects []bundle.Object) (*Plan, error) {
	if owner.Kind() != "bundle" && owner.Kind() != "app" || owner.Name() == "" {
		return nil, fmt.Errorf("plan: owner %q is not bundle:<name> or app:<name>", owner)
	}
	for _, r := range s.reg {
		if r.Owner == string(owner) && r.chained {
			return nil, fmt.Errorf("plan %s: this owner was already planned in the same revision", owner)
		}
		if r.Owner == string(owner) && r.Definition == nil {
			return nil, fmt.Errorf("plan %s: the state was read without this owner's definitions", owner)
		}
	}
	p, err := buildPlan(owner, objects, s.cur, s.reg)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", owner, err)
	}
	p.state = s
	return p, nil
}

// Compact returns the part of s a Batch needs — the values it re-checks and whether the registry exists —
// without the schema and registry rows. A rollout holds every tenant's plans until its wave applies; keeping
// only this much of each read is what keeps a fleet's peak memory flat.
func (s *State) Compact() *State {
	r := s.read()
	return &State{cur: &dbSchema{Tables: map[string]*table{}, HasRegistry: r.cur.HasRegistry, HasRestorePoint: r.cur.HasRestorePoint}, schemaVersion: r.schemaVersion,
		regDigest: r.regDigest, hasRegDigest: r.hasRegDigest, hasLockTable: r.hasLockTable, leaseHolder: r.leaseHolder,
		leaseExpires: r.leaseExpires, guards: r.guards, extra: map[string]database.Result{}, expectEmpty: r.expectEmpty}
}

// read is the State as read from the database (s itself unless s came from After).
func (s *State) read() *State {
	if s.base != nil {
		return s.base
	}
	return s
}

// After returns the State the database will be in once p is applied: p's owner holds exactly p's objects and
// their tables have the desired shape (migrated equals fresh), the tables p drops are gone. The next owner of
// the same revision is planned against it, so a whole revision goes to a tenant in one batch. The guard values
// stay those of the database as read: the batch checks them before anything runs.
func (s *State) After(p *Plan) *State {
	n := *s
	n.base = s.read()
	src := s.cur
	if p.renamedCur != nil {
		src = p.renamedCur // the tables as p's renames leave them
	}
	cur := *src
	cur.Tables = make(map[string]*table, len(src.Tables))
	for k, v := range src.Tables {
		cur.Tables[k] = v
	}
	for _, t := range p.dropTables {
		delete(cur.Tables, t)
	}
	for name, t := range p.want {
		cur.Tables[name] = t
	}
	cur.HasRegistry = true
	n.cur = &cur
	n.reg = make([]registryRow, 0, len(s.reg)+len(p.objects))
	for _, r := range s.reg {
		if r.Owner != string(p.Owner) {
			n.reg = append(n.reg, r)
		}
	}
	// The owner's rows carry no stored definition: a revision plans each owner once, so nothing decodes them,
	// and a fleet's plans are all held until their wave applies (encoding every object again per tenant was
	// most of a rollout's peak memory). Planning the same owner again on this State is refused (Plan).
	for _, o := range p.objects {
		n.reg = append(n.reg, registryRow{Owner: string(p.Owner), Name: o.Name, Table: p.tables[o.Name], Checksum: p.checksums[o.Name], chained: true})
	}
	sort.Slice(n.reg, func(i, j int) bool { return n.reg[i].Name < n.reg[j].Name })
	return &n
}
