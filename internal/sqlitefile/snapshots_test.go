package sqlitefile

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestSnapshotsListFindAndPrune(t *testing.T) {
	dir := t.TempDir()
	s := Snapshots{Dir: dir, Retention: time.Hour}
	now := time.Now()
	ns := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixNano(), 10) }
	for _, name := range []string{
		ns(-2*time.Hour) + ".db",                                // expired
		ns(-30*time.Minute) + ".db",                             // no valid-from: stands for its own moment only
		ns(-10*time.Minute) + "-" + ns(-20*time.Minute) + ".db", // stands for -20m … -10m
		"notes.txt", "x.db", ns(0) + "-y.db",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := s.List()
	if err != nil || len(snaps) != 3 {
		t.Fatalf("List = %v, %v; want the 3 snapshot files", snaps, err)
	}
	if sn, ok, _ := s.AtOrBefore(now.Add(-15 * time.Minute)); !ok || sn.Path != snaps[1].Path {
		t.Errorf("AtOrBefore(-15m) = %v, %v; want %s", sn, ok, snaps[1].Path)
	}
	if _, ok, _ := s.AtOrBefore(now.Add(-90 * time.Minute)); ok {
		t.Error("AtOrBefore(-90m) found a snapshot older than the retention")
	}
	if sn, ok, _ := s.Covering(now.Add(-15 * time.Minute)); !ok || sn.Path != snaps[2].Path {
		t.Errorf("Covering(-15m) = %v, %v; want %s", sn, ok, snaps[2].Path)
	}
	if _, ok, _ := s.Covering(now.Add(-25 * time.Minute)); ok {
		t.Error("Covering(-25m) used a snapshot that records no valid-from time for a moment before it was taken")
	}
	s.Prune(now)
	if snaps, _ := s.List(); len(snaps) != 2 {
		t.Errorf("after Prune: %v; want the expired snapshot gone", snaps)
	}
}
