package reconciler

import (
	"errors"
	"testing"
	"time"
)

func TestNextPollBacksOffWhileFailing(t *testing.T) {
	e := newEnv(t, nil)
	r := e.reconciler(Options{Interval: time.Minute})
	within := func(got, want time.Duration) bool { return got >= want*9/10 && got <= want*11/10 }
	if d := r.nextPoll(nil); !within(d, time.Minute) {
		t.Fatalf("healthy: %v", d)
	}
	fail := errors.New("remote unreachable")
	for _, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		if d := r.nextPoll(fail); !within(d, want) {
			t.Fatalf("backoff: got %v, want about %v", d, want)
		}
	}
	if d := r.nextPoll(nil); !within(d, time.Minute) {
		t.Fatalf("after recovery: %v", d)
	}
	r.needRetry = true // e.g. a tenant failed: retried soon even though the fetch worked
	if d := r.nextPoll(nil); !within(d, 5*time.Second) {
		t.Fatalf("retry after a failed tenant: %v", d)
	}
}
