package tenant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// A provisioning run killed mid-way (SIGKILL, the OOM killer) leaves its claim behind. The re-run on the same
// host takes it over at once when that process is provably gone, instead of waiting out the claim's minute;
// a claim of a live process, or of a process of another host, is waited for.
func TestProvisionTakesOverTheClaimOfAGoneProcess(t *testing.T) {
	gone := GoneProcessHolder(t)
	host, _, _ := strings.Cut(gone, ":")
	plat, err := platform.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Platform: plat,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if ok, err := s.store.claim(ctx, "acme", gone, provisionClaimTTL); err != nil || !ok {
		t.Fatalf("plant claim: %v %v", ok, err)
	}
	res, err := s.Provision(ctx, Request{ID: "acme", OrgID: "org-1"})
	if err != nil || res.Status != StatusActive {
		t.Fatalf("provision after a killed run: %v (%+v)", err, res)
	}
	if !strings.Contains(logs.String(), "no longer runs") || !strings.Contains(logs.String(), gone) {
		t.Errorf("the takeover is not logged with the holder it replaced:\n%s", logs.String())
	}

	for _, holder := range []string{
		fmt.Sprintf("%s:%d:0a1b2c", host, os.Getppid()),   // alive
		strings.Replace(gone, host, host+"-elsewhere", 1), // another host: never presumed gone
	} {
		id := "globex-" + fmt.Sprint(len(holder))
		if ok, err := s.store.claim(ctx, id, holder, provisionClaimTTL); err != nil || !ok {
			t.Fatalf("plant claim: %v %v", ok, err)
		}
		short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := s.Provision(short, Request{ID: id, OrgID: "org-1"})
		stop()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), holder) {
			t.Fatalf("provision while %s holds the claim: %v; want it to wait, naming the holder", holder, err)
		}
	}
}
