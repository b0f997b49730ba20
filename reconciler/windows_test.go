package reconciler

import (
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

func parseWindows(t *testing.T, yaml string) []*config.SyncWindow {
	t.Helper()
	cfg, err := config.Parse([]byte("apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core]\n    selector: {}\nsyncWindows:\n"+yaml), config.FileName)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*config.SyncWindow, len(cfg.SyncWindows))
	for i := range cfg.SyncWindows {
		out[i] = &cfg.SyncWindows[i]
	}
	return out
}

// TestWindowStateAt: allow windows open the tenant, deny windows close it and win, and the next opening is
// the first edge at which that holds (or none, when a deny window never closes).
func TestWindowStateAt(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC) // a Monday
	if ws := windowStateAt(nil, day); !ws.open {
		t.Fatal("no windows: always open")
	}
	ws := parseWindows(t, `  - {kind: allow, schedule: "0 22 * * 1-5", duration: 2h}
  - {kind: deny, schedule: "0 21 * * 1", duration: 90m}
`)
	for _, tc := range []struct {
		at   time.Duration
		open bool
		next time.Duration
	}{
		{12 * time.Hour, false, 22*time.Hour + 30*time.Minute}, // Monday: the deny window (21:00–22:30) holds the allow window back
		{22*time.Hour + 15*time.Minute, false, 22*time.Hour + 30*time.Minute},
		{22*time.Hour + 45*time.Minute, true, 0},
		{23*time.Hour + 59*time.Minute, true, 0},                                               // Monday 23:59: the allow window (22:00–24:00) is still open
		{24*time.Hour + 3*time.Hour, false, 24*time.Hour + 22*time.Hour},                       // Tuesday 03:00: until Tuesday 22:00
		{5*24*time.Hour + 12*time.Hour, false, 7*24*time.Hour + 22*time.Hour + 30*time.Minute}, // Saturday: Monday 22:30
	} {
		got := windowStateAt(ws, day.Add(tc.at))
		if got.open != tc.open || (!tc.open && !got.next.Equal(day.Add(tc.next))) {
			t.Errorf("at +%v: open %v next %v; want open %v next %v", tc.at, got.open, got.next, tc.open, day.Add(tc.next))
		}
	}
	never := parseWindows(t, `  - {kind: deny, schedule: "* * * * *", duration: 24h}
`)
	if got := windowStateAt(never, day); got.open || !got.next.IsZero() {
		t.Fatalf("a deny window that never closes: %+v", got)
	}
}
