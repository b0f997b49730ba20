package apps

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// What planning an install reads, folded into the engine's one read of the tenant (schema.ReadState).
const (
	appsListSQL = `SELECT "name", "version", "checksum", "config", "objects", "dependencies", "installed_at", "updated_at"
FROM "_objectstack_apps" ORDER BY "name"`
	// appsDigestSQL is the guard a batch re-checks: any install, upgrade or uninstall since the read changes it.
	appsDigestSQL = `SELECT group_concat("name" || char(31) || "version" || char(31) || "checksum" || char(31) || "config", char(30))
FROM (SELECT "name", "version", "checksum", "config" FROM "_objectstack_apps" ORDER BY "name")`
	extraAppsList = "apps:list"
)

func extraCountKey(table string) string     { return "apps:count:" + table }
func extraKeysKey(table, col string) string { return "apps:keys:" + table + "\x00" + col }

// Reads returns what planning the installs of list needs from the tenant database, to merge into the one read
// (schema.MergeReads). optsFor gives each app's options (nil: zero options).
func Reads(list []*App, optsFor func(*App) InstallOptions) schema.ReadOptions {
	ro := schema.ReadOptions{Owners: []schema.Owner{}, Guards: []string{appsDigestSQL},
		Extra: map[string]database.Stmt{extraAppsList: {SQL: appsListSQL}}}
	for _, app := range list {
		ro.Owners = append(ro.Owners, app.Owner())
		var opts InstallOptions
		if optsFor != nil {
			opts = optsFor(app)
		}
		if q := QuotaReads(opts.Limits); len(q.Extra) > 0 {
			ro = schema.MergeReads(ro, q)
		}
		if opts.Limits.MaxRecordsPerObject == nil || opts.SkipSeedData {
			continue
		}
		targets, err := prepareSeeds(app.Objects, app.Datasets, opts.Env)
		if err != nil {
			continue // planning reports it
		}
		for _, t := range targets {
			tbl := t.obj.Table()
			ro.Extra[extraCountKey(tbl)] = database.Stmt{SQL: "SELECT count(*) FROM " + schema.QuoteIdent(tbl)}
			if t.extCol != "" {
				ro.Extra[extraKeysKey(tbl, t.extCol)] = database.Stmt{SQL: "SELECT " + schema.QuoteIdent(t.extCol) + " FROM " + schema.QuoteIdent(tbl)}
			}
		}
	}
	return ro
}

// Tenant is one tenant database as installs see it while a revision is planned: the engine's State and the
// installed apps, both as they will be once everything planned so far is applied.
type Tenant struct {
	st        *schema.State
	installed []InstalledApp
	replacing map[string]bool // apps later units of the revision install again (Replacing)
	deploys   int             // deployments the plans made so far record (maxDeploymentsPerDay)
}

// NewTenant reads the installed apps out of a State read with (a merge including) Reads.
func NewTenant(st *schema.State) (*Tenant, error) {
	t := &Tenant{st: st}
	r, ok := st.Extra(extraAppsList)
	if !ok {
		return nil, errors.New("the tenant state was read without the app registry (apps.Reads)")
	}
	if r.Err != nil {
		if strings.Contains(r.Err.Error(), "no such table") {
			return t, nil
		}
		return nil, fmt.Errorf("list installed apps: %w", r.Err)
	}
	for _, row := range r.Rows {
		a, err := scanInstalled(database.Row(row))
		if err != nil {
			return nil, err
		}
		t.installed = append(t.installed, a)
	}
	return t, nil
}

// Replacing tells the Tenant that the revision being planned also installs the named apps (in later units): an
// upgrade that breaks the constraint an installed version of one of them declares is then not refused, because
// that app is replaced and its new version's constraint is checked when it is planned. Once an app is planned its
// new constraints count for the plans after it.
func (t *Tenant) Replacing(names ...string) {
	if t.replacing == nil {
		t.replacing = map[string]bool{}
	}
	for _, n := range names {
		t.replacing[n] = true
	}
}

// State is the engine State the next plan of this tenant is made against.
func (t *Tenant) State() *schema.State { return t.st }

// Use replaces the State, after a bundle of the same revision was planned (schema.State.After).
func (t *Tenant) Use(st *schema.State) { t.st = st }

// Planned counts a plan made outside the Tenant (a bundle of the same revision) towards the deployments the
// revision records, so a later install's maxDeploymentsPerDay check sees it.
func (t *Tenant) Planned(p *schema.Plan) {
	if p != nil && !p.UpToDate {
		t.deploys++
	}
}

func (t *Tenant) tenantState() (*tenantState, error) {
	reg, err := t.st.Registered()
	if err != nil {
		return nil, err
	}
	inst := append([]InstalledApp(nil), t.installed...)
	return &tenantState{installed: inst, byName: installedByName(inst), registered: reg}, nil
}

// Installed lists the apps installed, as of the plans made so far.
func (t *Tenant) Installed() []InstalledApp { return append([]InstalledApp(nil), t.installed...) }

// PlanInstall plans installing app as the next step of the tenant's revision and advances the Tenant past it.
func (t *Tenant) PlanInstall(app *App, opts InstallOptions) (*InstallPlan, error) {
	m := app.Manifest
	if app.invalid != nil {
		return nil, app.invalid
	}
	cfg, err := m.ResolveConfig(opts.ConfigOverrides)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", m.Name, err)
	}
	st, err := t.tenantState()
	if err != nil {
		return nil, fmt.Errorf("plan app %s: %w", m.Name, err)
	}
	chk, err := t.check(app, opts, st)
	if err != nil {
		return nil, err
	}
	// From here on the app's constraints are the ones this plan records: later plans judge them, not skip them.
	delete(t.replacing, m.Name)
	sp, err := t.st.Plan(app.Owner(), app.Objects)
	var conflict *schema.ConflictError
	switch {
	case errors.As(err, &conflict) && !chk.Compatible:
		sp = nil // the check already names every conflict; the plan has no schema until they are resolved
	case err != nil:
		return nil, fmt.Errorf("plan app %s: %w", m.Name, err)
	}
	if lim := opts.Limits.MaxDeploymentsPerDay; lim != nil && sp != nil && !sp.UpToDate {
		// The install records one deployment; earlier plans of the same revision count too (t.deploys).
		today, err := deploymentsToday(t.st)
		if err != nil {
			return nil, fmt.Errorf("plan app %s: %w", m.Name, err)
		}
		if today+int64(t.deploys)+1 > *lim {
			chk.Compatible = false
			chk.Issues = append(chk.Issues, CompatibilityIssue{Severity: "error", Category: CategoryQuotaExceeded,
				Message: fmt.Sprintf("app %s %s makes a deployment; the tenant has had %d today (UTC)%s, its maxDeploymentsPerDay quota is %d",
					m.Name, m.Version, today, plannedNote(t.deploys), *lim)})
		}
	}
	p := &InstallPlan{App: m.Name, Version: m.Version, Check: chk, Schema: sp, Config: cfg, Seed: []SeedCount{}, Action: ActionInstall}
	if inst, ok := st.byName[m.Name]; ok {
		p.InstalledVersion = inst.Version
		switch c := CompareVersions(m.Version, inst.Version); {
		case c > 0:
			p.Action = ActionUpgrade
		case c < 0:
			p.Action = ActionDowngrade
		case inst.Checksum == app.Checksum && sameConfig(inst.Config, cfg) && sp != nil && sp.UpToDate:
			p.Action = ActionNone
		default:
			p.Action = ActionReinstall
		}
	}
	if !opts.SkipSeedData && p.Action != ActionNone {
		targets, err := prepareSeeds(app.Objects, app.Datasets, opts.Env)
		if err != nil {
			return nil, fmt.Errorf("plan app %s: %w", m.Name, err)
		}
		p.seeds = targets
		for _, tg := range targets {
			p.Seed = append(p.Seed, SeedCount{Object: tg.obj.Name, Mode: tg.mode, Records: len(tg.rows)})
			p.SeedRecords += len(tg.rows)
			if sp != nil {
				seedPreflight(sp, tg)
			}
		}
	}
	p.existed = map[string]bool{}
	for _, o := range app.Objects {
		p.existed[o.Table()] = t.st.ExistedAtRead(o.Table())
	}
	if sp != nil && chk.Compatible {
		if !sp.UpToDate {
			t.deploys++
		}
		t.st = t.st.After(sp)
		t.record(app, cfg)
	}
	return p, nil
}

// record makes a planned install visible to the next plans of the same revision (dependencies, reinstalls).
func (t *Tenant) record(app *App, cfg map[string]any) {
	names := app.ObjectNames()
	sort.Strings(names)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	a := InstalledApp{Name: app.Manifest.Name, Version: app.Manifest.Version, Checksum: app.Checksum, Config: cfg,
		Objects: names, Dependencies: app.Manifest.Dependencies, InstalledAt: ts, UpdatedAt: ts}
	for i := range t.installed {
		if t.installed[i].Name == a.Name {
			a.InstalledAt = t.installed[i].InstalledAt
			t.installed[i] = a
			return
		}
	}
	t.installed = append(t.installed, a)
	sort.Slice(t.installed, func(i, j int) bool { return t.installed[i].Name < t.installed[j].Name })
}

// Staged is an install added to a batch; Result reads its outcome once the batch is committed.
type Staged struct {
	plan      *InstallPlan
	app       *App
	start     time.Time
	depIndex  int // index among the batch's deployments, -1 when the schema was up to date
	seedSteps []int
	records   map[int]int // seed statement index → records it writes
}

// Stage adds the install to b — the engine plan, the seed rows, the registry row — after the checks Install makes
// before writing anything (compatibility, downgrade, destructive changes). Nothing is written until b.Commit.
func (p *InstallPlan) Stage(b *schema.Batch, app *App, opts InstallOptions) (*Staged, error) {
	m := app.Manifest
	if !p.Check.Compatible {
		return nil, fmt.Errorf("%w: app %s %s: %s", ErrIncompatible, m.Name, m.Version, issueList(p.Check))
	}
	s := &Staged{plan: p, app: app, start: time.Now(), depIndex: -1, records: map[int]int{}}
	switch p.Action {
	case ActionNone:
		return s, nil
	case ActionDowngrade:
		if !opts.AllowDowngrade {
			return nil, fmt.Errorf("%w: app %s %s is installed; installing %s would downgrade it (allow it explicitly)", ErrDowngrade, m.Name, p.InstalledVersion, m.Version)
		}
	}
	if err := p.Schema.CheckAllowed(opts.Allow); err != nil {
		return nil, fmt.Errorf("app %s %s: %w", m.Name, m.Version, err)
	}
	source := opts.Source
	if source == "" {
		source = "apps"
	}
	if !p.Schema.UpToDate {
		s.depIndex = b.Plans()
	}
	if _, err := b.AddPlan(p.Schema, schema.ApplyOptions{Allow: opts.Allow, Version: m.Version, Source: source, Holder: opts.Holder,
		RestorePoint: opts.RestorePoint}); err != nil {
		return nil, fmt.Errorf("install app %s %s: %w", m.Name, m.Version, err)
	}
	label := fmt.Sprintf("install app %s %s", m.Name, m.Version)
	for _, t := range p.seeds {
		stmts := seedStatements(t, p.existed[t.obj.Table()])
		sl := fmt.Sprintf("%s: seed %s (%s)", label, t.obj.Name, t.ds.Source)
		for _, st := range stmts {
			if st.check != "" {
				b.AddCheck(sl, st.check, st.Stmt)
				continue
			}
			i := b.Add(sl, st.Stmt)
			if st.counts {
				s.seedSteps = append(s.seedSteps, i)
				s.records[i] = st.records
			}
		}
	}
	b.Add(label+": register", registerStatements(app, p.Config)...)
	return s, nil
}

// Result is the install's outcome after the batch's Commit returned res and err.
func (s *Staged) Result(res *schema.BatchResult, err error) (*AppInstallResult, error) {
	m := s.app.Manifest
	out := &AppInstallResult{AppID: m.Name, Version: m.Version, InstalledObjects: s.app.ObjectNames(), CreatedTables: []string{},
		Action: s.plan.Action, PreviousVersion: s.plan.InstalledVersion}
	if res != nil && s.depIndex >= 0 && s.depIndex < len(res.Deployments) {
		out.DeploymentID = res.Deployments[s.depIndex].DeploymentID
		out.StatementsExecuted = res.Deployments[s.depIndex].StatementsExecuted
	}
	out.DurationMs = time.Since(s.start).Milliseconds()
	if err != nil {
		out.Error = fmt.Sprintf("install app %s %s: %v", m.Name, m.Version, err)
		return out, fmt.Errorf("install app %s %s: %w", m.Name, m.Version, err)
	}
	if s.plan.Action != ActionNone {
		out.CreatedTables = createdTables(s.app, s.plan.Schema)
		for _, i := range s.seedSteps {
			if res != nil && i < len(res.Results) {
				out.SeededRecords += int(res.Results[i].RowsAffected)
			}
		}
	}
	out.Success = true
	return out, nil
}

// ReadTenant reads one tenant database for installing app (one round trip).
func ReadTenant(ctx context.Context, db *sql.DB, app *App, opts InstallOptions) (*Tenant, error) {
	ro := Reads([]*App{app}, func(*App) InstallOptions { return opts })
	ro.Deployments = []schema.Owner{app.Owner()}
	st, err := schema.ReadState(ctx, db, ro)
	if err != nil {
		return nil, err
	}
	return NewTenant(st)
}

// observe reports seed progress to seedHook (tests) as the batch's statements run.
func (s *Staged) observe(b *schema.Batch) {
	total := s.plan.SeedRecords
	written := 0
	b.Observe(func(i int) {
		// Every statement from the first seed write on reports progress, so a dataset written in one statement
		// still shows up as "all written, not committed" before the registry row and COMMIT.
		if _, ok := s.records[i]; (ok || written > 0) && seedHook != nil {
			seedHook(written, total)
		}
		written += s.records[i]
	})
}
