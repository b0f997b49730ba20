package status

import (
	"context"
	"testing"
	"time"
)

// TestSuspensions on a file and on `objectstack dev` (Hrana): a suspended tenant is never leased, a
// repository suspension stops every tenant, a lease taken before the suspension does not count, and a
// heartbeat reads the suspensions with its renewal.
func TestSuspensions(t *testing.T) {
	for _, kind := range []string{"file", "hrana"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, kind)
			got, sus, err := s.AcquireLeasesUnlessSuspended(ctx, "a", []string{"t1", "t2"}, time.Minute)
			if err != nil || !got["t1"] || !got["t2"] || len(sus) != 0 {
				t.Fatalf("no suspension: %v %v %v", got, sus, err)
			}
			if err := s.Suspend(ctx, []string{"t2", "t3"}, "freeze", "ops@host"); err != nil {
				t.Fatal(err)
			}
			got, sus, err = s.AcquireLeasesUnlessSuspended(ctx, "a", []string{"t1", "t2", "t3"}, time.Minute)
			if err != nil || !got["t1"] || got["t2"] || got["t3"] {
				t.Fatalf("t2 (leased before) and t3 are suspended: %v %v", got, err)
			}
			if sp, ok := sus.Of("t3"); !ok || sp.Reason != "freeze" || sp.By != "ops@host" || sp.At.IsZero() {
				t.Fatalf("suspension of t3: %+v %v", sp, ok)
			}
			if got, _, err := s.AcquireLeasesUnlessSuspended(ctx, "b", []string{"t3"}, time.Minute); err != nil || got["t3"] {
				t.Fatalf("another holder leased a suspended tenant: %v %v", got, err)
			}
			if err := s.Suspend(ctx, nil, "incident", "ops"); err != nil {
				t.Fatal(err)
			}
			n, sus, err := s.RenewLeasesReadSuspensions(ctx, "a", []string{"t1"}, time.Minute)
			if _, all := sus.All(); err != nil || n != 1 || !all || len(sus.List()) != 3 || sus.List()[0].Scope != SuspendAll {
				t.Fatalf("heartbeat: %d %+v %v", n, sus.List(), err)
			}
			if got, _, err := s.AcquireLeasesUnlessSuspended(ctx, "a", []string{"t1", "t4"}, time.Minute); err != nil || len(got) != 0 {
				t.Fatalf("the repository is suspended: %v %v", got, err)
			}
			if n, err := s.Resume(ctx, nil); err != nil || n != 1 {
				t.Fatalf("resume: %d %v", n, err)
			}
			if n, err := s.Resume(ctx, []string{"t2", "t9"}); err != nil || n != 1 {
				t.Fatalf("resume t2: %d %v", n, err)
			}
			sus, err = s.Suspensions(ctx)
			if err != nil || len(sus) != 1 {
				t.Fatalf("left: %+v %v", sus, err)
			}
			if _, ok := sus.Of("t3"); !ok {
				t.Fatal("t3 should still be suspended")
			}
			o, err := s.Overview(ctx)
			if err != nil || len(o.Suspensions) != 1 || o.Suspensions[0].Scope != "t3" {
				t.Fatalf("overview: %+v %v", o, err)
			}
		})
	}
}
