package reconciler

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/source"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

const childEnv = "OBJECTSTACK_RECONCILE_CHILD"

// TestReconcileChild is the body of the re-executed child process of TestCrashMidRolloutResumes: it
// reconciles one tenant at a time, printing each applied tenant, until the parent kills it.
func TestReconcileChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as the child process of TestCrashMidRolloutResumes")
	}
	e := openEnvWith(t, os.Getenv("CHILD_DATA_DIR"), os.Getenv("CHILD_CONTROL_URL"), os.Getenv("CHILD_CONTROL_TOKEN"))
	src, err := source.New(source.Options{URL: os.Getenv("CHILD_REPO"), DataDir: e.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	// Outcomes are written every crashFlushEvery tenants and at no other time before the end, so which
	// tenants the control plane knows of when the kill comes does not depend on timing.
	r := e.reconciler(Options{Source: src, Concurrency: 1, Holder: "child", FlushEvery: crashFlushEvery, FlushInterval: -1, OnTenant: func(res TenantResult) {
		fmt.Printf("done %s %s\n", res.TenantID, res.Outcome)
		time.Sleep(40 * time.Millisecond) // give the parent time to kill us mid-rollout
	}})
	if _, err := r.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Println("finished")
}

// crashFlushEvery is the child's control-plane write batch.
const crashFlushEvery = 8

// TestCrashMidRolloutResumes kills the reconciler (SIGKILL, a separate process) after a few tenants were
// migrated; a restarted reconciler resumes the rollout and no tenant is migrated twice — with the control
// plane in a local file and on a remote libSQL server (`objectstack dev`).
func TestCrashMidRolloutResumes(t *testing.T) {
	t.Run("file", func(t *testing.T) { testCrashMidRolloutResumes(t, "", "") })
	t.Run("remote", func(t *testing.T) {
		f := startRemoteFleet(t)
		testCrashMidRolloutResumes(t, f.controlURL, f.controlTok)
	})
	// Everything over Hrana: tenant databases and the control plane on `objectstack dev`.
	t.Run("hrana", func(t *testing.T) {
		f := startRemoteFleet(t)
		t.Setenv(testPlatformEnv, f.platformURL)
		testCrashMidRolloutResumes(t, f.controlURL, f.controlTok)
	})
}

func testCrashMidRolloutResumes(t *testing.T, controlURL, controlToken string) {
	ctx := context.Background()
	var tenants []tenantSpec
	for i := 0; i < 20; i++ {
		tenants = append(tenants, tenantSpec{fmt.Sprintf("t-%02d", i), map[string]string{"env": "prod"}})
	}
	e := newEnvWith(t, tenants, controlURL, controlToken)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	e.remote.Commit("core")

	cmd := exec.Command(os.Args[0], "-test.run=^TestReconcileChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_DATA_DIR="+e.dataDir, "CHILD_REPO="+e.remote.Bare,
		"CHILD_CONTROL_URL="+controlURL, "CHILD_CONTROL_TOKEN="+controlToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Concurrency 1, outcomes written every 8 tenants: killing after the 10th leaves at most 8 tenants
	// recorded in the control plane (the write of the first 8 may or may not have landed) and at least 2
	// migrated but unrecorded — tasks pending, leases held — which only the engine's registry knows about.
	const killAt = 10
	var killedAfter int
	var once sync.Once
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if strings.HasPrefix(line, "done ") {
			killedAfter++
			if killedAfter == killAt {
				once.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
			}
		}
	}
	_ = cmd.Wait()
	if killedAfter < killAt || killedAfter >= len(tenants) {
		t.Fatalf("child applied %d tenants before dying; output:\n%s", killedAfter, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if l == "finished" {
			t.Fatal("the child finished before it was killed")
		}
	}
	ro, err := e.store.LatestRollout(ctx)
	if err != nil || ro == nil || ro.State != status.RolloutRunning {
		t.Fatalf("the killed rollout should still be running: %+v %v", ro, err)
	}
	doc, err := ReadStatus(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	reconciling := 0
	for _, ts := range doc.Tenants {
		if ts.Condition == status.Reconciling {
			reconciling++
		}
	}
	if reconciling < len(tenants)-crashFlushEvery || len(doc.Tenants) != len(tenants) {
		t.Fatalf("status of the interrupted rollout: %d of %d tenants Reconciling, want at least %d", reconciling, len(doc.Tenants), len(tenants)-crashFlushEvery)
	}
	recorded := len(tenants) - reconciling

	// Restart with the same holder id (a restarted replica keeps its identity, so the leases the child
	// died holding are its own; another holder would wait for them to expire).
	r := e.reconciler(Options{Concurrency: 4, Holder: "child"})
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || !sum.Resumed || sum.RolloutID != ro.ID {
		t.Fatalf("restart: %+v", sum)
	}
	t.Logf("after restart: resumed rollout %d, %d skipped (recorded), %d up to date (migrated before the kill, unrecorded), %d applied",
		sum.RolloutID, sum.Skipped, sum.UpToDate, sum.Applied)
	// Every tenant the child migrated is either skipped (recorded) or planned up to date (unrecorded): the
	// unrecorded ones are visited again and the engine's registry makes that a no-op.
	if sum.Applied+sum.UpToDate+sum.Skipped != len(tenants) || sum.Skipped != recorded || sum.UpToDate < killAt-recorded ||
		sum.Applied > len(tenants)-killAt {
		t.Fatalf("restart redid work: applied %d, up to date %d, skipped %d (recorded before the kill: %d)", sum.Applied, sum.UpToDate, sum.Skipped, recorded)
	}
	for _, ts := range tenants {
		if n := e.deployments(ts.id, core, sum.Revision); n != 1 {
			t.Fatalf("%s has %d deployments of %s, want exactly 1", ts.id, n, sum.Revision)
		}
		if st := e.status(ts.id); st.Condition != status.Ready {
			t.Fatalf("%s: %+v", ts.id, st)
		}
	}
	ro, err = e.store.LatestRollout(ctx)
	if err != nil || ro.State != status.RolloutCompleted {
		t.Fatalf("rollout after resume: %+v %v", ro, err)
	}
}

// TestReplicasSplitTenantsByLease runs two reconcilers with different holder ids on one control plane at
// the same time: leases split the tenants, none is migrated twice, and together they converge everyone.
func TestReplicasSplitTenantsByLease(t *testing.T) {
	ctx := context.Background()
	var tenants []tenantSpec
	for i := 0; i < 24; i++ {
		tenants = append(tenants, tenantSpec{fmt.Sprintf("r-%02d", i), map[string]string{"env": "prod"}})
	}
	e := newEnv(t, tenants)
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\n")},
		coreBundle("1.0.0")))
	e.remote.Commit("core")
	// Each replica has its own mirror, like separate machines. Replica b starts once replica a has migrated
	// its first tenant, so both are mid-rollout together.
	aStarted, bApplied := make(chan struct{}), make(chan struct{})
	var startOnce, bOnce sync.Once
	mk := func(holder string, concurrency int, onTenant func(TenantResult)) *Reconciler {
		src, err := source.New(source.Options{URL: e.remote.Bare, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return e.reconciler(Options{Source: src, Concurrency: concurrency, Holder: holder, OnTenant: onTenant})
	}
	// Migrating a tenant takes a while (as it does against remote databases).
	slow := func(res TenantResult) {
		if res.Outcome == OutcomeApplied {
			time.Sleep(25 * time.Millisecond)
		}
	}
	// Replica a (one worker, so it leases one group of 8 tenants at a time) stops after its first tenant
	// until b has applied one: the replicas overlap by construction, not by timing. The wait is bounded
	// so a broken lease split fails the assertions below instead of hanging.
	a := mk("replica-a", 1, func(res TenantResult) {
		startOnce.Do(func() {
			close(aStarted)
			select {
			case <-bApplied:
			case <-time.After(time.Minute):
			}
		})
		slow(res)
	})
	b := mk("replica-b", 2, func(res TenantResult) {
		if res.Outcome == OutcomeApplied {
			bOnce.Do(func() { close(bApplied) })
		}
		slow(res)
	})
	var wg sync.WaitGroup
	sums := make([]*Summary, 2)
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); sums[0], errs[0] = a.Once(ctx) }()
	go func() { defer wg.Done(); <-aStarted; sums[1], errs[1] = b.Once(ctx) }()
	wg.Wait()
	for i := range sums {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	applied := sums[0].Applied + sums[1].Applied
	t.Logf("replica a: applied %d leased %d skipped %d; replica b: applied %d leased %d skipped %d",
		sums[0].Applied, sums[0].Leased, sums[0].Skipped, sums[1].Applied, sums[1].Leased, sums[1].Skipped)
	if applied != len(tenants) {
		t.Fatalf("replicas applied %d tenants in total, want %d", applied, len(tenants))
	}
	if sums[0].Applied == 0 || sums[1].Applied == 0 {
		t.Fatalf("the leases did not split the tenants: a applied %d, b applied %d", sums[0].Applied, sums[1].Applied)
	}
	for _, ts := range tenants {
		if n := e.deployments(ts.id, core, sums[0].Revision); n != 1 {
			t.Fatalf("%s migrated %d times", ts.id, n)
		}
	}
	// A second pass by either replica finds everything done.
	sum, err := a.Once(ctx)
	if err != nil || !sum.OK() || sum.Skipped != len(tenants) {
		t.Fatalf("second pass: %+v %v", sum, err)
	}
}
