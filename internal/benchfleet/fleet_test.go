package benchfleet

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant/router"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/wanproxy"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

const (
	org              = "bench"
	apiToken         = "bench-api-token"
	objectsPerBundle = 10
	// provisionWorkers provisions the fixture with the proxy's delay at 0: setup is CPU-bound on the
	// dev server, so a few workers are enough and more only contend for the machine's two cores.
	provisionWorkers = 8
)

// secretKey is fixed so a fixture's sealed tokens never depend on a key file.
var secretKey = []byte("0123456789abcdef0123456789abcdef")

type config struct {
	tenants, concurrency int
	delay                time.Duration
}

func loadConfig() (config, error) {
	c := config{tenants: 1000, concurrency: 64, delay: 25 * time.Millisecond}
	for _, v := range []struct {
		env string
		dst *int
	}{{"OBJECTSTACK_BENCH_TENANTS", &c.tenants}, {"OBJECTSTACK_BENCH_CONCURRENCY", &c.concurrency}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return c, fmt.Errorf("%s=%q: want a positive whole number", v.env, s)
			}
			*v.dst = n
		}
	}
	if s := os.Getenv("OBJECTSTACK_BENCH_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return c, fmt.Errorf("OBJECTSTACK_BENCH_DELAY=%q: want a duration such as 25ms", s)
		}
		c.delay = d
	}
	return c, nil
}

// env is what every fleet shares: one dev server, the proxy in front of it, and the Platform API client
// that reaches the dev server only through the proxy — so the database URLs it hands out lead back
// through the proxy too.
type env struct {
	cfg   config
	dir   string
	dev   *devserver.Running
	proxy *wanproxy.Proxy
	plat  *platform.Turso
}

// fleet is one tenant service (with its control plane) over cfg.tenants tenants, and a reconciler.
type fleet struct {
	*env
	name    string
	svc     *tenant.Service
	r       *reconciler.Reconciler
	dbNames []string // the tenant databases, for per-tenant request counts
	ctlDB   string   // the control-plane database on the dev server; "" when it is a local file

	bundles int // 10-object bundles in the fleet's repository
	columns int // extra columns on the first bundle's first object
	revs    int // revisions written, each to its own folder
	current source.Revision
}

var (
	envOnce   sync.Once
	shared    *env
	envErr    error
	fleetsMu  sync.Mutex
	fleets    = map[string]*fleet{}
	fleetErrs = map[string]error{}
)

func getEnv(b *testing.B) *env {
	b.Helper()
	envOnce.Do(func() { shared, envErr = startEnv() })
	if envErr != nil {
		b.Fatal(envErr)
	}
	return shared
}

func startEnv() (*env, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "objectstack-fleet-wan-")
	if err != nil {
		return nil, fmt.Errorf("scratch folder: %w", err)
	}
	e := &env{cfg: cfg, dir: dir}
	e.dev, err = devserver.Start(context.Background(), devserver.Options{DataDir: filepath.Join(dir, "dev"), APIToken: apiToken})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("start objectstack dev: %w", err)
	}
	if e.proxy, err = wanproxy.Start(e.dev.URL, 0); err != nil {
		e.close()
		return nil, err
	}
	if e.plat, err = platform.NewTurso(platform.TursoConfig{BaseURL: e.proxy.URL(), Organization: org, APIToken: apiToken}); err != nil {
		e.close()
		return nil, err
	}
	// The shared transport for Hrana batches, sized like `objectstack reconcile --concurrency N` sizes it:
	// a smaller pool would reconnect on every request and measure connection churn instead of round trips.
	database.SetMaxConnsPerHost(cfg.concurrency)
	return e, nil
}

func (e *env) close() {
	if e.proxy != nil {
		e.proxy.Close()
	}
	if e.dev != nil {
		e.dev.Stop()
	}
	os.RemoveAll(e.dir)
}

// getFleet returns the named fleet, built once per process outside any timer: provisioned with the
// proxy's delay at 0 (provisioning is not what is measured).
func getFleet(b *testing.B, name string, remoteControl bool) *fleet {
	b.Helper()
	e := getEnv(b)
	fleetsMu.Lock()
	defer fleetsMu.Unlock()
	if f := fleets[name]; f != nil {
		return f
	}
	if err := fleetErrs[name]; err != nil {
		b.Fatal(err)
	}
	f, err := e.newFleet(name, remoteControl)
	if err != nil {
		fleetErrs[name] = fmt.Errorf("fleet %s: %w", name, err)
		b.Fatal(fleetErrs[name])
	}
	fleets[name] = f
	return f
}

func (e *env) newFleet(name string, remoteControl bool) (*fleet, error) {
	ctx := context.Background()
	e.proxy.SetDelay(0)
	f := &fleet{env: e, name: name}
	dataDir := filepath.Join(e.dir, name)
	// Fleets share the dev server, so each names its databases with its own prefix.
	tcfg := tenant.Config{DataDir: dataDir, Platform: e.plat, SecretKey: secretKey, DatabasePrefix: name + "-",
		Router: router.Config{MaxCached: 2 * e.cfg.tenants}} // plan and apply both open every tenant: keep the handles
	if remoteControl {
		f.ctlDB = name + "-control"
		db, err := e.plat.CreateDatabase(ctx, platform.CreateOptions{Name: f.ctlDB})
		if err != nil {
			return nil, fmt.Errorf("control-plane database: %w", err)
		}
		tok, err := e.plat.CreateToken(ctx, f.ctlDB, platform.TokenOptions{Scope: platform.ScopeFullAccess})
		if err != nil {
			return nil, fmt.Errorf("control-plane token: %w", err)
		}
		tcfg.ControlURL, tcfg.ControlToken = db.URL, tok.JWT
	}
	svc, err := tenant.Open(ctx, tcfg)
	if err != nil {
		return nil, err
	}
	f.svc = svc
	// The status tables on the tenant service's own control-plane handle, as `objectstack reconcile` opens
	// them: the reconciler then reads the tenant registry and every status in one request.
	store, err := status.Open(ctx, svc.ControlDB())
	if err != nil {
		f.close()
		return nil, fmt.Errorf("status store: %w", err)
	}
	start := time.Now()
	if err := f.provision(ctx); err != nil {
		f.close()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "fleet %s: %d tenants provisioned in %s (proxy delay 0)\n", name, e.cfg.tenants, time.Since(start).Round(time.Millisecond))
	f.r, err = reconciler.New(reconciler.Options{Tenants: svc, Store: store, Concurrency: e.cfg.concurrency,
		DriftInterval: -1, Holder: "bench-" + name, Logger: benchLogger()})
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *fleet) provision(ctx context.Context) error {
	ids := make(chan int)
	errs := make(chan error, provisionWorkers)
	var wg sync.WaitGroup
	for w := 0; w < provisionWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id := fmt.Sprintf("t-%05d", i)
				res, err := f.svc.Provision(ctx, tenant.Request{ID: id, OrgID: org, Labels: map[string]string{"env": "prod"}})
				if err == nil && res.Status != tenant.StatusActive {
					err = fmt.Errorf("status %s: %s", res.Status, res.Error)
				}
				if err != nil {
					errs <- fmt.Errorf("provision %s: %w", id, err)
					return
				}
			}
		}()
	}
	var firstErr error
	for i := 0; i < f.cfg.tenants && firstErr == nil; i++ {
		select {
		case ids <- i:
		case firstErr = <-errs:
		}
	}
	close(ids)
	wg.Wait()
	close(errs)
	if firstErr == nil {
		firstErr = <-errs
	}
	if firstErr != nil {
		return firstErr
	}
	f.dbNames = make([]string, f.cfg.tenants)
	for i := range f.dbNames {
		f.dbNames[i] = f.svc.DatabaseName(fmt.Sprintf("t-%05d", i))
	}
	return nil
}

func (f *fleet) close() {
	if f.svc != nil {
		f.svc.Close()
	}
}

// revision writes the fleet's repository as it stands (f.bundles bundles of 10 objects, f.columns extra
// columns on the first object of the first) to a fresh folder and returns it as a revision.
func (f *fleet) revision() (source.Revision, error) {
	f.revs++
	dir := filepath.Join(f.dir, f.name, "repo", fmt.Sprintf("r%04d", f.revs))
	names := make([]string, f.bundles)
	for i := range names {
		names[i] = fmt.Sprintf("fleet%d", i)
	}
	files := map[string]string{"objectstack.yaml": fmt.Sprintf(
		"apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [%s]\n    selector: {labels: {env: prod}}\n", strings.Join(names, ", "))}
	for i, n := range names {
		extra := 0
		if i == 0 {
			extra = f.columns
		}
		writeBundle(files, n, extra)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	h := sha256.New()
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return source.Revision{}, fmt.Errorf("write revision: %w", err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			return source.Revision{}, fmt.Errorf("write revision: %w", err)
		}
		h.Write([]byte(p))
		h.Write([]byte(files[p]))
	}
	commit := sha1.Sum([]byte(dir))
	return source.Revision{Ref: "main", Commit: hex.EncodeToString(commit[:]), Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Dir: dir}, nil
}

// writeBundle adds bundle name to files: 10 objects with a realistic field mix, an index and a lookup to
// the previous object each (the same shape `make bench-terraform` deploys), extra number columns on the first.
func writeBundle(files map[string]string, name string, extra int) {
	objs := make([]string, objectsPerBundle)
	for i := range objs {
		objs[i] = fmt.Sprintf("%s_obj_%02d", name, i)
	}
	files["bundles/"+name+"/bundle.yaml"] = fmt.Sprintf("name: %s\nversion: 1.0.0\nobjects: [%s]\n", name, strings.Join(objs, ", "))
	for i, obj := range objs {
		var b strings.Builder
		fmt.Fprintf(&b, "name: %s\nlabel: %s\nfields:\n", obj, obj)
		b.WriteString("  title:  { type: text, label: Title, required: true, maxLength: 200 }\n")
		b.WriteString("  email:  { type: email, label: Email, index: true }\n")
		b.WriteString("  amount: { type: currency, label: Amount, precision: 12, scale: 2 }\n")
		b.WriteString("  active: { type: boolean, label: Active, defaultValue: true }\n")
		b.WriteString("  due_at: { type: datetime, label: Due At }\n")
		b.WriteString("  status:\n    type: select\n    label: Status\n    defaultValue: open\n    options:\n      - { label: Open, value: open }\n      - { label: Closed, value: closed }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  parent: { type: lookup, label: Parent, reference: %s }\n", objs[i-1])
		}
		if i == 0 {
			for c := 0; c < extra; c++ {
				fmt.Fprintf(&b, "  extra_%03d: { type: number, label: Extra %d }\n", c, c)
			}
		}
		b.WriteString("indexes:\n  - { fields: [status, due_at] }\n")
		files[fmt.Sprintf("bundles/%s/objects/%s.yaml", name, obj)] = b.String()
	}
}

// ensureDeployed gives a fleet that has nothing deployed yet its first bundle, unmeasured and at delay 0,
// so each benchmark can also run on its own (-bench with a filter).
func (f *fleet) ensureDeployed(b *testing.B) {
	b.Helper()
	if f.bundles > 0 {
		return
	}
	f.bundles = 1
	rev, err := f.revision()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	f.proxy.SetDelay(0)
	sum, err := f.r.ReconcileRevision(context.Background(), rev)
	if err != nil {
		b.Fatalf("fleet %s: baseline deploy: %v", f.name, err)
	}
	if !sum.OK() || sum.Applied != f.cfg.tenants {
		b.Fatalf("fleet %s: baseline deploy: %s", f.name, describe(sum))
	}
	f.current = rev
	fmt.Fprintf(os.Stderr, "fleet %s: baseline bundle deployed to %d tenants in %s (proxy delay 0)\n", f.name, f.cfg.tenants, time.Since(start).Round(time.Millisecond))
}

// rolloutStats accumulates what the proxy counted over the measured rollouts of one benchmark.
type rolloutStats struct {
	applied   int
	elapsed   time.Duration
	perTenant []int64 // Hrana requests per tenant database per rollout: plan + apply
	hrana     int64   // all Hrana requests, control plane included
	platform  int64
	ctl       int64 // Hrana requests to a remote control plane
	inFlight  int64
	rollouts  int
}

// rollout reconciles rev at WAN latency and adds its counts to st; every tenant must apply (want true)
// or be skipped as already there (want false).
func (f *fleet) rollout(b *testing.B, rev source.Revision, wantApply bool, st *rolloutStats) {
	b.Helper()
	ctx := context.Background()
	f.proxy.Reset()
	f.proxy.SetDelay(f.cfg.delay)
	b.StartTimer()
	start := time.Now()
	sum, err := f.r.ReconcileRevision(ctx, rev)
	elapsed := time.Since(start)
	b.StopTimer()
	f.proxy.SetDelay(0)
	if err != nil {
		b.Fatalf("fleet %s: reconcile: %v", f.name, err)
	}
	switch {
	case !sum.OK():
		b.Fatalf("fleet %s: reconcile: %s", f.name, describe(sum))
	case wantApply && sum.Applied != f.cfg.tenants:
		b.Fatalf("fleet %s: reconcile applied %d of %d tenants: %s", f.name, sum.Applied, f.cfg.tenants, describe(sum))
	case !wantApply && sum.Skipped != f.cfg.tenants:
		b.Fatalf("fleet %s: no-change reconcile did work: %s", f.name, describe(sum))
	}
	s := f.proxy.Snapshot()
	st.applied += sum.Applied
	st.elapsed += elapsed
	st.perTenant = append(st.perTenant, s.HranaCounts(f.dbNames...)...)
	st.hrana += s.Hrana
	st.platform += s.Platform
	st.ctl += s.HranaByDatabase[f.ctlDB]
	st.inFlight = max(st.inFlight, s.MaxInFlight)
	st.rollouts++
	f.current = rev
}

func (st *rolloutStats) report(b *testing.B, remoteControl bool) {
	n := float64(st.rollouts)
	if st.applied > 0 {
		b.ReportMetric(float64(st.applied)/st.elapsed.Seconds(), "tenants/s")
		b.ReportMetric(wanproxy.Percentile(st.perTenant, 50), "req/tenant-median")
		b.ReportMetric(wanproxy.Percentile(st.perTenant, 100), "req/tenant-max")
	} else {
		b.ReportMetric(float64(st.elapsed.Milliseconds())/n, "ms/reconcile")
	}
	b.ReportMetric(float64(st.hrana+st.platform)/n, "req/op")
	b.ReportMetric(float64(st.platform)/n, "platform-req/op")
	if remoteControl {
		b.ReportMetric(float64(st.ctl)/n, "control-req/op")
	}
	b.ReportMetric(float64(st.inFlight), "max-in-flight")
}

func describe(s *reconciler.Summary) string {
	msg := fmt.Sprintf("targeted %d applied %d up-to-date %d skipped %d failed %d refused %d halted %d leased %d",
		s.Targeted, s.Applied, s.UpToDate, s.Skipped, s.Failed, s.Refused, s.Halted, s.Leased)
	for _, r := range s.Results {
		if r.Error != "" {
			return msg + "; first error: " + r.TenantID + ": " + r.Error
		}
	}
	return msg
}

// BenchmarkFleetWANFirstDeploy deploys a new 10-object bundle to every tenant: on a fresh fleet (the first
// iteration when this benchmark runs first) the tenants hold nothing yet, registry tables included.
func BenchmarkFleetWANFirstDeploy(b *testing.B) {
	f := getFleet(b, "local", false)
	b.StopTimer()
	b.ResetTimer()
	var st rolloutStats
	for i := 0; i < b.N; i++ {
		f.bundles++
		rev, err := f.revision()
		if err != nil {
			b.Fatal(err)
		}
		f.rollout(b, rev, true, &st)
	}
	st.report(b, false)
}

// BenchmarkFleetWANOneColumn adds one column to one object of every tenant (plan every tenant, then apply,
// status in a local control plane): the rollout issue 9 budgets at 2 Hrana requests per tenant.
func BenchmarkFleetWANOneColumn(b *testing.B) {
	benchOneColumn(b, "local", false)
}

// BenchmarkFleetWANNoChange reconciles the revision every tenant is at, control plane local: the status
// store's checksums decide, so no request should reach a tenant database.
func BenchmarkFleetWANNoChange(b *testing.B) {
	benchNoChange(b, "local", false)
}

// BenchmarkFleetWANRemoteControlOneColumn is BenchmarkFleetWANOneColumn with the control plane (tenant
// registry, status, leases, rollouts) on a libSQL database of the dev server, behind the proxy too, as
// `objectstack reconcile --control-url` runs when replicas share it.
func BenchmarkFleetWANRemoteControlOneColumn(b *testing.B) {
	benchOneColumn(b, "remote", true)
}

// BenchmarkFleetWANRemoteControlNoChange is the no-change reconcile with the remote control plane: every
// request it makes is a WAN round trip (target ≤ 2 in all).
func BenchmarkFleetWANRemoteControlNoChange(b *testing.B) {
	benchNoChange(b, "remote", true)
}

func benchOneColumn(b *testing.B, name string, remoteControl bool) {
	f := getFleet(b, name, remoteControl)
	f.ensureDeployed(b)
	b.StopTimer()
	b.ResetTimer()
	var st rolloutStats
	for i := 0; i < b.N; i++ {
		f.columns++
		rev, err := f.revision()
		if err != nil {
			b.Fatal(err)
		}
		f.rollout(b, rev, true, &st)
	}
	st.report(b, remoteControl)
}

func benchNoChange(b *testing.B, name string, remoteControl bool) {
	f := getFleet(b, name, remoteControl)
	f.ensureDeployed(b)
	b.StopTimer()
	b.ResetTimer()
	var st rolloutStats
	for i := 0; i < b.N; i++ {
		f.rollout(b, f.current, false, &st)
	}
	st.report(b, remoteControl)
}

func benchLogger() *slog.Logger {
	if os.Getenv("BENCH_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestMain removes the fixtures (the dev server's data folder holds every tenant database) once every
// benchmark has used them.
func TestMain(m *testing.M) {
	code := m.Run()
	fleetsMu.Lock()
	for _, f := range fleets {
		f.close()
	}
	fleetsMu.Unlock()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}
