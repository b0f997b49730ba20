package sqlitefile

import (
	"context"
	"errors"
	"io/fs"
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

// A snapshot is listed only once it is whole: a process killed while taking one (before a destructive
// deployment, which then never ran) must not leave a torn file that a later restore would pick as the
// database's state at some moment. What such a process leaves is removed by a later prune once stale.
func TestSnapshotInTheMakingIsNotListed(t *testing.T) {
	dir := t.TempDir()
	s := Snapshots{Dir: dir, Retention: time.Hour}
	src := filepath.Join(t.TempDir(), "src.db")
	if err := os.WriteFile(src, []byte("whole database"), 0o600); err != nil {
		t.Fatal(err)
	}
	half := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Take(context.Background(), src, time.Time{}, func(_ context.Context, src, dst string) error {
			if err := os.WriteFile(dst, []byte("whole"), 0o600); err != nil {
				return err
			}
			close(half)
			<-resume
			return os.WriteFile(dst, []byte("whole database"), 0o600)
		})
		done <- err
	}()
	<-half
	snaps, err := s.List()
	if err != nil || len(snaps) != 0 {
		close(resume)
		t.Fatalf("List while a snapshot is half-written = %v, %v; want none", snaps, err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	snaps, err = s.List()
	if err != nil || len(snaps) != 1 {
		t.Fatalf("List after Take = %v, %v; want the snapshot", snaps, err)
	}
	if b, err := os.ReadFile(snaps[0].Path); err != nil || string(b) != "whole database" {
		t.Fatalf("snapshot holds %q, %v", b, err)
	}

	// What a killed taker left: a hidden file. A prune removes it once it is an hour old, not before.
	stale, fresh := filepath.Join(dir, ".1.db.tmp"), filepath.Join(dir, ".2.db.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s.Prune(time.Now())
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a stale half-made snapshot was kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a snapshot another process may be taking was removed: %v", err)
	}
}
