package tenant

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/process"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// Provision runs the provisioning pipeline for req and returns the protocol's
// TenantProvisioningResult. It is idempotent: a tenant that is already active (or suspended) is
// returned as it is; a run that failed or crashed half-way is resumed and completed, every step
// re-checking what exists instead of creating it again. The registry row is written first (status
// provisioning), so there is never a database without a row, and a row whose database is missing
// gets it on the next run.
//
// On failure the result (status failed, the failed step and its error) is returned together with
// the error; calling Provision again resumes.
func (s *Service) Provision(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	id, err := req.normalize()
	if err != nil {
		return nil, fmt.Errorf("provision tenant %q: %w", req.ID, err)
	}
	requested := strings.TrimSpace(req.ID)
	dbName := s.DatabaseName(id)
	if err := platform.ValidateName(dbName); err != nil {
		return nil, fmt.Errorf("provision tenant %s: %w: %v", id, ErrInvalid, err)
	}
	if req.Bundle != nil {
		if err := checkBundle(req.Bundle); err != nil {
			return nil, fmt.Errorf("provision tenant %s: %w", id, err)
		}
		if err := seedQuota(req.Bundle, req.Quotas, s.cfg.Environment); err != nil {
			return nil, fmt.Errorf("provision tenant %s: %w", id, err)
		}
	}
	unlock := s.locks.lock(id)
	defer unlock()
	// A tenant already provisioned is reported as it is, without claiming anything.
	existing, err := s.store.get(ctx, id)
	if err == nil && (existing.Status == StatusActive || existing.Status == StatusSuspended) &&
		existing.requestedID == requested && existing.OrgID == req.OrgID {
		return s.result(existing, start), nil
	}
	absent := errors.Is(err, ErrNotFound)
	// One run at a time per tenant across processes: two runs of one id would both create, claim and
	// migrate its database, and the one that loses a race records the tenant failed although the other
	// completed it. The loser waits for the winner and then finds the tenant active (or resumes a run
	// that failed, or one whose process died: its claim expires).
	holder := newClaimHolder()
	claimedAt := time.Now() // before the claim is taken: the renewal errs on the early side
	if err := s.claimProvisioning(ctx, id, holder); err != nil {
		return nil, fmt.Errorf("provision tenant %s: %w", id, err)
	}
	defer func() {
		dctx, cancel := detached(ctx)
		defer cancel()
		if err := s.store.unclaim(dctx, id, holder); err != nil {
			s.log.Warn("release provisioning claim", "tenant", id, "error", err)
		}
	}()

	r, created, err := s.registerEarly(ctx, id, requested, dbName, req, absent)
	if err != nil {
		return nil, err
	}
	if !created {
		switch r.Status {
		case StatusActive, StatusSuspended:
			return s.result(r, start), nil
		case StatusDestroying, StatusArchived:
			return nil, fmt.Errorf("provision tenant %s: %w: it is %s; tenant ids are not reused", id, ErrState, r.Status)
		}
		// provisioning or failed: resume with the request's current settings.
		r.DisplayName, r.Plan, r.Labels, r.Quotas, r.adminEmail = req.DisplayName, req.Plan, req.Labels, req.Quotas, req.AdminEmail
		r.Status, r.Error = StatusProvisioning, ""
	}
	p := &pipeline{s: s, r: r, req: req, created: created, seeded: -1, claim: holder, claimedAt: claimedAt}
	defer p.close()
	res, err := p.run(ctx)
	res.TotalDurationMs = time.Since(start).Milliseconds()
	return res, err
}

// registerEarly inserts the registry row (status provisioning, every step pending) or returns the
// existing one after checking the request does not collide with it. absent says the row was not there a
// moment ago: the insert is tried without reading first (it is a no-op if another process has inserted it
// since, and the row is read then).
func (s *Service) registerEarly(ctx context.Context, id, requested, dbName string, req Request, absent bool) (*row, bool, error) {
	existing, err := (*row)(nil), error(ErrNotFound)
	if !absent {
		existing, err = s.store.get(ctx, id)
	}
	if err == nil {
		if existing.requestedID != requested {
			return nil, false, fmt.Errorf("provision tenant %q: %w: it normalises to %q, which already exists (requested as %q)",
				requested, ErrConflict, id, existing.requestedID)
		}
		if existing.OrgID != req.OrgID {
			return nil, false, fmt.Errorf("provision tenant %s: %w: it already exists in organization %q", id, ErrConflict, existing.OrgID)
		}
		if existing.Region != req.Region && existing.Status != StatusActive && existing.Status != StatusSuspended {
			return nil, false, fmt.Errorf("provision tenant %s: %w: it was started in region %s; resume it there or destroy it", id, ErrConflict, existing.Region)
		}
		return existing, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, fmt.Errorf("provision tenant %s: %w", id, err)
	}
	r := &row{
		Tenant: Tenant{
			ID: id, OrgID: req.OrgID, DisplayName: req.DisplayName, Plan: req.Plan, Region: req.Region,
			Labels: req.Labels, Quotas: req.Quotas, Status: StatusProvisioning, DatabaseName: dbName,
			Group: s.groupFor(req.Region), Steps: pendingSteps(),
		},
		requestedID: requested,
		adminEmail:  req.AdminEmail,
	}
	inserted, err := s.store.insert(ctx, r)
	if err != nil {
		return nil, false, fmt.Errorf("provision tenant %s: %w", id, err)
	}
	if !inserted {
		// Another process registered it between our read and insert: treat it as existing.
		return s.registerEarly(ctx, id, requested, dbName, req, false)
	}
	s.log.Debug("tenant registered", "tenant", id, "database", dbName, "status", StatusProvisioning)
	return r, true, nil
}

func pendingSteps() []Step {
	out := make([]Step, len(StepNames))
	for i, n := range StepNames {
		out[i] = Step{Name: n, Status: StepPending}
	}
	return out
}

// pipeline is one provisioning run.
type pipeline struct {
	s       *Service
	r       *row
	req     Request
	created bool   // the registry row was inserted by this run
	claim   string // the provisioning claim this run holds, renewed after a step when a quarter of its TTL has passed
	// claimedAt is when the claim was last taken or renewed.
	claimedAt time.Time

	dbInfo *platform.Database
	tok    platform.Token
	db     *sql.DB
	// synced and seeded are set when a fresh database got its schema and seed rows with its ownership marker
	// (seeded is the number of records written then, -1 when that did not happen).
	synced bool
	seeded int
}

func (p *pipeline) close() {
	if p.db != nil {
		p.db.Close()
	}
}

func (p *pipeline) run(ctx context.Context) (*Result, error) {
	s, r := p.s, p.r
	r.Steps = pendingSteps()
	steps := []struct {
		name string
		fn   func(context.Context) (skipped bool, err error)
	}{
		{StepCreateDatabase, p.createDatabase},
		{StepCreateToken, p.createToken},
		{StepRegisterTenant, p.register},
		{StepSyncSchema, p.syncSchema},
		{StepSeedData, p.seed},
		{StepActivate, p.activate},
	}
	lastSave := time.Now()
	for i, st := range steps {
		step := &r.Steps[i]
		began := s.now()
		step.Status, step.StartedAt = StepRunning, formatTime(began)
		skipped, err := st.fn(ctx)
		done := s.now()
		ms := done.Sub(began).Milliseconds()
		step.CompletedAt, step.DurationMs = formatTime(done), &ms
		if err != nil {
			step.Status, step.Error = StepFailed, err.Error()
			for j := i + 1; j < len(steps); j++ {
				r.Steps[j].Status = StepSkipped
			}
			return p.fail(ctx, st.name, err)
		}
		step.Status = StepCompleted
		if skipped {
			step.Status = StepSkipped
		}
		s.log.Debug("tenant provisioning step", "tenant", r.ID, "step", st.name, "status", step.Status, "durationMs", ms)
		// Progress is saved after the last step, and after any other once a while has passed since the last
		// save (a slow platform: other processes see which step the run is at). Every step re-checks what
		// exists, so a crash between saves loses only that display, and a fast run writes its row once.
		if i == len(steps)-1 || time.Since(lastSave) >= progressSaveInterval {
			if err := s.store.save(ctx, r); err != nil {
				if st.name == StepActivate {
					r.ProvisionedAt = nil
				}
				step.Status, step.Error = StepFailed, err.Error()
				return p.fail(ctx, st.name, err)
			}
			lastSave = time.Now()
		}
		// Renew the claim once a good part of it has passed: a slow platform (creating a database on Turso)
		// must not let a waiting process take over a run that is alive. A fast run never renews — each renewal
		// is a control-plane write and read, a round trip each when the control plane is remote.
		if time.Since(p.claimedAt) > provisionClaimTTL/4 {
			if _, err := s.store.claim(ctx, r.ID, p.claim, provisionClaimTTL); err != nil {
				s.log.Warn("renew provisioning claim", "tenant", r.ID, "error", err)
			} else {
				p.claimedAt = time.Now()
			}
		}
		if s.afterStep != nil {
			if err := s.afterStep(st.name); err != nil {
				// Tests simulate a crash here: nothing more is recorded.
				return s.result(r, time.Time{}), err
			}
		}
	}
	s.router.Invalidate(r.ID)
	// The run's handle is exactly what the router would open for an active tenant: hand it over
	// rather than close it (closing the last connection checkpoints the WAL, a needless fsync).
	if s.router.Adopt(r.ID, p.db) {
		p.db = nil
	}
	return s.result(r, time.Time{}), nil
}

// fail records the failure. A conflict before this run created anything removes the row it
// inserted, so a refused request leaves nothing behind.
func (p *pipeline) fail(ctx context.Context, step string, cause error) (*Result, error) {
	s, r := p.s, p.r
	err := fmt.Errorf("provision tenant %s: %s: %w", r.ID, step, cause)
	dctx, cancel := detached(ctx)
	defer cancel()
	if p.created && p.dbInfo == nil && errors.Is(cause, ErrConflict) {
		if derr := s.store.delete(dctx, r.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		r.Status, r.Error = StatusFailed, cause.Error()
		return s.result(r, time.Time{}), err
	}
	r.Status, r.Error = StatusFailed, fmt.Sprintf("%s: %v", step, cause)
	if serr := s.store.save(dctx, r); serr != nil {
		err = errors.Join(err, serr)
	}
	s.log.Debug("tenant provisioning failed", "tenant", r.ID, "step", step, "error", cause.Error())
	return s.result(r, time.Time{}), err
}

// createDatabase creates the tenant database, or adopts an existing one with this name only if it
// is ours (our marker) or empty (created by a run of ours that died before writing the marker).
// It mints the working token here because checking ownership means reading the database.
func (p *pipeline) createDatabase(ctx context.Context) (bool, error) {
	s, r := p.s, p.r
	var limit int64
	if r.Quotas.MaxStorageBytes != nil {
		limit = *r.Quotas.MaxStorageBytes
	}
	d, err := s.plat.CreateDatabase(ctx, platform.CreateOptions{Name: r.DatabaseName, Group: r.Group, SizeLimitBytes: limit,
		Seed: p.platformSeed()})
	adopted := errors.Is(err, platform.ErrAlreadyExists)
	if err != nil && !adopted {
		return false, err
	}
	if d == nil {
		if d, err = s.plat.GetDatabase(ctx, r.DatabaseName); err != nil {
			return false, err
		}
	}
	if adopted {
		if d.Group != "" && r.Group != "" && d.Group != r.Group {
			return false, fmt.Errorf("database %s exists in group %s, not %s: %w", r.DatabaseName, d.Group, r.Group, ErrConflict)
		}
	}
	tok, err := s.plat.CreateToken(ctx, r.DatabaseName, platform.TokenOptions{Scope: platform.ScopeFullAccess, Expiration: s.cfg.TokenExpiration})
	if err != nil {
		return false, fmt.Errorf("mint token: %w", err)
	}
	db, err := platform.Open(s.plat, d, tok)
	if err != nil {
		return false, err
	}
	// A seeded run that died after the platform's copy and before its claim left that copy behind: the
	// re-run finishes it as the first run would have, rather than refusing a database that is not empty.
	resumeCopy := false
	if adopted && p.req.SeedDatabase != "" {
		if resumeCopy, err = p.unclaimedCopy(ctx, db); err != nil {
			db.Close()
			return false, fmt.Errorf("database %s: %w", r.DatabaseName, err)
		}
	}
	claimed := false
	if !adopted || resumeCopy {
		init := p.initFresh
		if p.req.SeedDatabase != "" {
			init = p.initSeeded
		}
		if claimed, err = init(ctx, db); err != nil {
			db.Close()
			return false, fmt.Errorf("database %s: %w", r.DatabaseName, err)
		}
		if claimed && !adopted {
			p.dbInfo, p.tok, p.db = d, tok, db
			return false, nil
		}
	}
	if !claimed {
		if err := claimOwnership(ctx, db, r.ID, !adopted); err != nil {
			db.Close()
			return false, fmt.Errorf("database %s: %w", r.DatabaseName, err)
		}
	}
	if adopted && limit > 0 {
		if err := s.plat.Configure(ctx, r.DatabaseName, platform.Configuration{SizeLimitBytes: &limit}); err != nil {
			db.Close()
			return false, err
		}
	}
	p.dbInfo, p.tok, p.db = d, tok, db
	if adopted {
		s.log.Debug("tenant database adopted", "tenant", r.ID, "database", r.DatabaseName)
	}
	return false, nil
}

// initFresh claims a database the platform has just created and, in the same single request, gives it the
// bundle's schema and seed data: the batch first checks that the database really is empty, so nothing needs
// reading. done is false when it is not empty (a create answer that was lost and retried finds an earlier
// database): then the careful path takes over, which reads before it claims.
func (p *pipeline) initFresh(ctx context.Context, db *sql.DB) (done bool, err error) {
	st := schema.EmptyState()
	b := schema.NewBatch(st, "tenant-provision")
	b.Add("write ownership marker", markerStatements(p.r.ID)...)
	var seedFrom, seedTo int
	if bd := p.req.Bundle; bd != nil {
		plan, err := st.Plan(schema.BundleOwner(bd.Manifest.Name), bd.Objects)
		if err != nil {
			return false, err
		}
		if _, err := b.AddPlan(plan, schema.ApplyOptions{Version: bd.Manifest.Version, Source: "tenant-provision"}); err != nil {
			return false, err
		}
		if len(bd.SeedData) > 0 {
			stmts, err := apps.SeedStatements(bd.Objects, bd.SeedData, p.s.cfg.Environment, func(string) bool { return false })
			if err != nil {
				return false, fmt.Errorf("seed: %w", err)
			}
			seedFrom = b.Add("seed", stmts...)
			seedTo = seedFrom + len(stmts)
		}
	}
	res, err := b.Commit(ctx, db)
	if errors.Is(err, schema.ErrStalePlan) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.synced = p.req.Bundle != nil
	p.seeded = -1
	if seedTo > seedFrom {
		p.seeded = 0
		for _, r := range res.Results[seedFrom:seedTo] {
			p.seeded += int(r.RowsAffected)
		}
	}
	return true, nil
}

// createToken keeps the full-access token, encrypted, for the router and later lifecycle calls.
func (p *pipeline) createToken(context.Context) (bool, error) {
	sealed, err := p.s.box.seal(p.r.ID, p.tok.JWT)
	if err != nil {
		return false, err
	}
	p.r.tokenEnc = sealed
	return false, nil
}

// register records where the database is (the row itself exists since the start of the run).
func (p *pipeline) register(context.Context) (bool, error) {
	p.r.DatabaseURL = p.dbInfo.URL
	if u := p.dbInfo.URL; u != "" && !database.IsRemote(u) && !strings.HasPrefix(u, "file:") {
		if abs, err := filepath.Abs(u); err == nil {
			p.r.DatabaseURL = abs
		}
	}
	if p.dbInfo.Group != "" {
		p.r.Group = p.dbInfo.Group
	}
	return false, nil
}

// syncSchema applies the bundle through the engine; destructive changes are refused (a fresh or
// resumed tenant has nothing to lose, so a destructive plan means the database is not what we think).
func (p *pipeline) syncSchema(ctx context.Context) (bool, error) {
	b := p.req.Bundle
	if b == nil {
		return true, nil
	}
	if p.synced {
		return false, nil // applied with the ownership marker, in the same request
	}
	owner := schema.BundleOwner(b.Manifest.Name)
	// An adopted or resumed database may hold objects already: the quotas are judged on what it holds, from
	// the same read the plan is made of.
	lim := p.r.Quotas.Limits()
	st, err := schema.ReadState(ctx, p.db, schema.MergeReads(schema.ReadOptions{Owners: []schema.Owner{owner}}, apps.QuotaReads(lim)))
	if err != nil {
		return false, fmt.Errorf("plan %s: %w", owner, err)
	}
	plan, err := st.Plan(owner, b.Objects)
	if err != nil {
		return false, err
	}
	if plan.UpToDate {
		return false, nil
	}
	if err := plan.CheckAllowed(nil); err != nil {
		return false, err
	}
	if err := apps.CheckQuotas(st, st.After(plan), []*schema.Plan{plan}, lim); err != nil {
		return false, err
	}
	res, err := schema.Apply(ctx, p.db, plan, schema.ApplyOptions{Version: b.Manifest.Version, Source: "tenant-provision"})
	if err != nil {
		return false, err
	}
	if res != nil && res.Error != "" {
		return false, errors.New(res.Error)
	}
	return false, nil
}

// seed writes the bundle's datasets for the configured environment, upserting by external id so
// re-running never duplicates records.
func (p *pipeline) seed(ctx context.Context) (bool, error) {
	b := p.req.Bundle
	if b == nil || len(b.SeedData) == 0 {
		return true, nil
	}
	if p.seeded >= 0 && p.synced {
		p.s.log.Debug("tenant seeded", "tenant", p.r.ID, "records", p.seeded)
		return p.seeded == 0, nil
	}
	n, err := seedDatasets(ctx, p.db, b.Objects, b.SeedData, p.s.cfg.Environment)
	if err != nil {
		return false, err
	}
	p.s.log.Debug("tenant seeded", "tenant", p.r.ID, "records", n)
	return n == 0, nil
}

func (p *pipeline) activate(context.Context) (bool, error) {
	now := p.s.now()
	p.r.Status, p.r.Error, p.r.ProvisionedAt = StatusActive, "", &now
	return false, nil
}

// result builds the TenantProvisioningResult of a row.
func (s *Service) result(r *row, start time.Time) *Result {
	res := &Result{
		TenantID: r.ID, ConnectionURL: connectionURL(r.DatabaseURL), Status: r.Status, Region: r.Region,
		Plan: r.Plan, Steps: append([]Step(nil), r.Steps...), Error: r.Error,
	}
	if res.Steps == nil {
		res.Steps = []Step{}
	}
	if r.ProvisionedAt != nil {
		res.ProvisionedAt = formatTime(*r.ProvisionedAt)
	}
	if !start.IsZero() {
		res.TotalDurationMs = time.Since(start).Milliseconds()
	}
	return res
}

// checkBundle refuses an invalid bundle before anything is created.
func checkBundle(b *bundle.Bundle) error {
	if b.Manifest.Name == "" {
		return invalidf("bundle", b.Dir, "has no manifest name")
	}
	vr := bundle.Validate(b)
	if vr.Valid {
		return nil
	}
	var msgs []string
	for _, is := range vr.Issues {
		if is.Severity != bundle.SeverityError {
			continue
		}
		loc := is.Path
		if is.File != "" {
			loc = is.File + ": " + is.Path
		}
		msgs = append(msgs, loc+": "+is.Message)
		if len(msgs) == 5 {
			break
		}
	}
	return invalidf("bundle", b.Dir, "is invalid (%d errors): %s", vr.ErrorCount, strings.Join(msgs, "; "))
}

// seedQuota refuses a bundle whose seed data for env would put more records in one object than the tenant's
// maxRecordsPerObject allows: the new database is empty, so the count is the seed's own (an external id repeated
// in one object counts once, as the upsert writes it once). Checked before anything is created.
func seedQuota(b *bundle.Bundle, q Quotas, env string) error {
	if q.MaxRecordsPerObject == nil {
		return nil
	}
	count := map[string]int64{}
	keys := map[string]map[string]bool{}
	for _, ds := range b.SeedData {
		if len(ds.Env) > 0 && !contains(ds.Env, env) {
			continue
		}
		ext := ds.ExternalID
		if ext == "" {
			ext = "name"
		}
		if keys[ds.Object] == nil {
			keys[ds.Object] = map[string]bool{}
		}
		for _, rec := range ds.Records {
			if v, ok := rec[ext]; ok && v != nil {
				k := fmt.Sprint(v)
				if keys[ds.Object][k] {
					continue
				}
				keys[ds.Object][k] = true
			}
			count[ds.Object]++
		}
	}
	for _, o := range b.Objects {
		if n := count[o.Name]; n > *q.MaxRecordsPerObject {
			return invalidf("quotas.maxRecordsPerObject", strconv.FormatInt(*q.MaxRecordsPerObject, 10),
				"[quota_exceeded] is below the %d seed records bundle %s writes to object %s", n, b.Manifest.Name, o.Name)
		}
	}
	return nil
}

// provisionClaimTTL bounds how long a provisioning run whose process died keeps others waiting; a live run
// renews its claim after any step that ends with a quarter of it used, so one step may take 45 s.
const provisionClaimTTL = time.Minute

// progressSaveInterval is how long a provisioning run may go without recording its steps in the registry.
const progressSaveInterval = time.Second

// claimPoll is how often a process waiting for another's provisioning run looks at its claim.
const claimPoll = 50 * time.Millisecond

// newClaimHolder is a provisioning run's claim holder: HOST:PID:RANDOM (several runs of one process
// provision different tenants).
func newClaimHolder() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// holderGone reports whether the run that wrote claim holder h (newClaimHolder) provably no longer runs: a
// process of this host that is gone — a `tenant create` killed mid-run, whose claim would otherwise keep
// its re-run waiting for a minute.
func holderGone(h string) bool {
	i := strings.LastIndexByte(h, ':')
	return i >= 0 && process.GoneHereID(h[:i])
}

// claimProvisioning takes the provisioning claim of id for holder, waiting (as long as ctx allows) while
// another run holds it. A claim whose run is provably gone (holderGone) is taken over at once.
func (s *Service) claimProvisioning(ctx context.Context, id, holder string) error {
	t := time.NewTicker(claimPoll)
	defer t.Stop()
	other := "" // who held the claim when last looked at
	for {
		ok, err := s.store.claim(ctx, id, holder, provisionClaimTTL)
		if ok || err != nil {
			return claimWaitError(ctx, other, err)
		}
		for waited := false; ; waited = true {
			h, err := s.store.claimHolder(ctx, id)
			if err != nil {
				return claimWaitError(ctx, other, err)
			}
			other = h
			if other == "" {
				break // released or expired: claim it
			}
			if holderGone(other) {
				s.log.Warn("taking over the provisioning claim of a process of this host that no longer runs",
					"tenant", id, "holder", other)
				// Only that holder's claim goes: a live run that claimed since keeps its own.
				if err := s.store.unclaim(ctx, id, other); err != nil {
					return claimWaitError(ctx, other, err)
				}
				break
			}
			if !waited {
				s.log.Debug("waiting for another provisioning run", "tenant", id, "holder", other)
			}
			select {
			case <-ctx.Done():
				return claimWaitError(ctx, other, ctx.Err())
			case <-t.C:
			}
		}
	}
}

// claimWaitError is err, said as what it is when ctx ended while another run (other) held the claim.
func claimWaitError(ctx context.Context, other string, err error) error {
	if err != nil && other != "" && ctx.Err() != nil {
		return fmt.Errorf("waiting for another process provisioning this tenant (%s): %w", other, ctx.Err())
	}
	return err
}
