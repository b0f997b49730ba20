package sqlitefile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// Snapshots is the folder of one database's point-in-time snapshots, kept for Retention: database
// files named <taken unix ns>.db, or <taken>-<valid from unix ns>.db when the taker knows since when
// the database stood unchanged (the snapshot then stands for every moment in between). The folder
// must lie outside any folder listed as databases.
type Snapshots struct {
	Dir       string
	Retention time.Duration
}

// Snapshot is one file of a Snapshots folder.
type Snapshot struct {
	Taken     time.Time
	ValidFrom time.Time // zero when the name does not record it
	Path      string
}

// Take copies the database at src into the folder with copyDB (which opens src the caller's way and
// leaves the copy flushed, as Copy does) and prunes the expired snapshots. taken is read before the copy starts, so
// a transaction that begins after Take returns is never part of the snapshot.
//
// The copy is written under a hidden staging name and renamed into place once whole: a process
// killed half-way leaves no torn file for List to offer as the database's state at some moment.
func (s Snapshots) Take(ctx context.Context, src string, validFrom time.Time, copyDB func(ctx context.Context, src, dst string) error) (taken time.Time, err error) {
	if err := database.PrivateDir(s.Dir); err != nil {
		return time.Time{}, err
	}
	taken = time.Now().UTC()
	name := strconv.FormatInt(taken.UnixNano(), 10)
	if !validFrom.IsZero() {
		name += "-" + strconv.FormatInt(validFrom.UnixNano(), 10)
	}
	tmp := filepath.Join(s.Dir, "."+name+".db"+StagingSuffix)
	if err := copyDB(ctx, src, tmp); err != nil {
		_ = Remove(tmp)
		return time.Time{}, err
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, name+".db")); err != nil {
		_ = Remove(tmp)
		return time.Time{}, err
	}
	s.Prune(taken)
	return taken, nil
}

// List returns the snapshots, oldest first; a missing folder has none. Files not named like a
// snapshot are passed over.
func (s Snapshots) List() ([]Snapshot, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.snapshots(entries), nil
}

// snapshots are the snapshot files among the folder's entries, oldest first.
func (s Snapshots) snapshots(entries []fs.DirEntry) []Snapshot {
	var out []Snapshot
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".db")
		if !ok || e.IsDir() {
			continue
		}
		taken, validFrom, hasValidFrom := strings.Cut(base, "-")
		tn, err := strconv.ParseInt(taken, 10, 64)
		if err != nil {
			continue
		}
		sn := Snapshot{Taken: time.Unix(0, tn).UTC(), Path: filepath.Join(s.Dir, e.Name())}
		if hasValidFrom {
			vn, err := strconv.ParseInt(validFrom, 10, 64)
			if err != nil {
				continue
			}
			sn.ValidFrom = time.Unix(0, vn).UTC()
		}
		out = append(out, sn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Taken.Before(out[j].Taken) })
	return out
}

// Prune removes the snapshots taken before now minus the retention, and what takers that died left
// (RemoveStaleStaging); failures only leave files for the next prune.
func (s Snapshots) Prune(now time.Time) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	RemoveStaleStaging(s.Dir, entries)
	oldest := now.Add(-s.Retention)
	for _, sn := range s.snapshots(entries) {
		if sn.Taken.Before(oldest) {
			_ = Remove(sn.Path)
		}
	}
}

// AtOrBefore returns the newest snapshot taken at or before t and within the retention.
func (s Snapshots) AtOrBefore(t time.Time) (Snapshot, bool, error) {
	snaps, err := s.List()
	if err != nil {
		return Snapshot{}, false, err
	}
	oldest := time.Now().Add(-s.Retention)
	for i := len(snaps) - 1; i >= 0; i-- {
		sn := snaps[i]
		if sn.Taken.After(t) {
			continue
		}
		if sn.Taken.Before(oldest) {
			break
		}
		return sn, true, nil
	}
	return Snapshot{}, false, nil
}

// Covering returns the newest snapshot that stands for t: taken at or after t, with no write
// between its valid-from time and t. One whose name records no valid-from time stands only for the
// moment it was taken.
func (s Snapshots) Covering(t time.Time) (Snapshot, bool, error) {
	snaps, err := s.List()
	if err != nil {
		return Snapshot{}, false, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		sn := snaps[i]
		from := sn.ValidFrom
		if from.IsZero() {
			from = sn.Taken
		}
		if !t.Before(from) && !t.After(sn.Taken) {
			return sn, true, nil
		}
	}
	return Snapshot{}, false, nil
}
