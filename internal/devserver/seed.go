package devserver

// Point-in-time history, the way Turso keeps it, cheaply: the engine cannot copy a file that lives
// behind the server, so the server itself snapshots a database (VACUUM INTO) before running a Hrana
// pipeline that drops a table or a column — the only statements whose loss a later restore has to
// undo — and keeps the snapshots for a retention. Non-destructive pipelines pay nothing beyond a
// scan of their SQL text for the words DROP and TABLE/COLUMN.
//
// A snapshot stands for every moment from the last write before it (validFrom) to when it was
// taken: nothing changed the database in between. Create-database with seed {"timestamp": T} copies
// a snapshot covering T, or the live database when no write happened since T; anything else is
// answered 400 like Turso answers a timestamp outside the retention.
//
// Files: <DataDir>/snapshots/<database>/<taken unix ns>-<validFrom unix ns>.db.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultSnapshotRetention is how long destructive-change snapshots are kept when
// Options.SnapshotRetention is zero: a week, like a paid Turso plan's point-in-time window.
const DefaultSnapshotRetention = 7 * 24 * time.Hour

func (s *Server) snapshotRetention() time.Duration {
	if s.opts.SnapshotRetention > 0 {
		return s.opts.SnapshotRetention
	}
	return DefaultSnapshotRetention
}

func (s *Server) snapshotDir(name string) string {
	return filepath.Join(s.opts.DataDir, "snapshots", name)
}

// pipelineEffects reports whether req may write, and whether it holds a schema-destructive
// statement (DROP TABLE, ALTER TABLE … DROP COLUMN, or a table rebuild, which drops the old table).
func pipelineEffects(req *pipelineRequest) (writes, destructive bool) {
	look := func(sql *string) {
		if sql == nil {
			return
		}
		q := *sql
		switch kw := leadingKeyword(q); kw {
		case "SELECT", "VALUES", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		case "PRAGMA":
			if pragmaAssigns(q) {
				writes = true
			}
		default:
			writes = true
		}
		if code := withoutStringLiterals(q); containsWord(code, "DROP") && containsWord(code, "TABLE", "COLUMN") {
			destructive = true
		}
	}
	for i := range req.Requests {
		rq := &req.Requests[i]
		switch rq.Type {
		case "execute":
			if rq.Stmt != nil {
				look(rq.Stmt.SQL)
			}
		case "batch":
			if rq.Batch != nil {
				for j := range rq.Batch.Steps {
					look(rq.Batch.Steps[j].Stmt.SQL)
				}
			}
		case "sequence", "store_sql":
			look(rq.SQL)
		}
	}
	return writes, destructive
}

// lastWriteOf is when e was last written through this server, or when the server started when it
// has not been since (writes before a restart are older than that, so the bound stays safe).
func (s *Server) lastWriteOf(e *dbEntry) time.Time {
	if ns := e.lastWrite.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return s.started
}

// beforePipeline snapshots e when req is destructive; it reports whether req writes, so the caller
// records the write time afterwards. A snapshot that fails is logged and the pipeline still runs:
// the dev server must not refuse a migration because its history could not be kept.
func (s *Server) beforePipeline(ctx context.Context, e *dbEntry, req *pipelineRequest) (writes bool) {
	writes, destructive := pipelineEffects(req)
	if destructive {
		if err := s.snapshot(ctx, e); err != nil {
			s.log.Warn("snapshot before destructive statement", "database", e.name, "err", err)
		}
	}
	return writes
}

// snapshot copies e's committed state (a separate connection never sees another stream's open
// transaction) into the snapshot folder and prunes expired snapshots.
func (s *Server) snapshot(ctx context.Context, e *dbEntry) error {
	dir := s.snapshotDir(e.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	validFrom := s.lastWriteOf(e)
	taken := time.Now()
	target := filepath.Join(dir, fmt.Sprintf("%d-%d.db", taken.UnixNano(), validFrom.UnixNano()))
	if err := s.copyDatabase(ctx, e.path, target); err != nil {
		return err
	}
	s.pruneSnapshots(e.name, taken)
	return nil
}

// copyDatabase writes a consistent copy of the database at src to dst (VACUUM INTO), owner-only.
func (s *Server) copyDatabase(ctx context.Context, src, dst string) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	c, err := openSQLite(src, int(s.opts.BusyTimeout/time.Millisecond))
	if err != nil {
		_ = removeDatabaseFiles(dst)
		return err
	}
	// Pooled connections keep a database's log around: fold it into the file (a no-op when it is empty,
	// and refused harmlessly while a stream reads or writes), so that an idle source — a template — is
	// copied byte for byte instead of rebuilt table by table.
	_ = c.execScript(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	if ok, cerr := copyQuiescent(src, dst); cerr != nil || ok {
		c.close()
		if cerr != nil {
			_ = removeDatabaseFiles(dst)
		}
		return cerr
	}
	err = c.execScript(ctx, "VACUUM INTO '"+strings.ReplaceAll(dst, "'", "''")+"'")
	c.close()
	if err != nil {
		_ = removeDatabaseFiles(dst)
		return fmt.Errorf("copy database: %w", err)
	}
	return nil
}

type snapshotFile struct {
	taken, validFrom time.Time
	path             string
}

func (s *Server) snapshots(name string) ([]snapshotFile, error) {
	dir := s.snapshotDir(name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snapshotFile
	for _, en := range entries {
		base, ok := strings.CutSuffix(en.Name(), ".db")
		if !ok || en.IsDir() {
			continue
		}
		a, b, ok := strings.Cut(base, "-")
		if !ok {
			continue
		}
		tn, err1 := strconv.ParseInt(a, 10, 64)
		vn, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, snapshotFile{taken: time.Unix(0, tn), validFrom: time.Unix(0, vn), path: filepath.Join(dir, en.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].taken.Before(out[j].taken) })
	return out, nil
}

func (s *Server) pruneSnapshots(name string, now time.Time) {
	snaps, err := s.snapshots(name)
	if err != nil {
		return
	}
	oldest := now.Add(-s.snapshotRetention())
	for _, sn := range snaps {
		if sn.taken.Before(oldest) {
			_ = removeDatabaseFiles(sn.path)
		}
	}
}

// pointInTime returns the file holding src as it was at t: a snapshot covering t, or the live
// database when src has not been written since t. msg is the API error when there is none.
func (s *Server) pointInTime(src *dbEntry, t time.Time) (path, msg string) {
	now := time.Now()
	outside := fmt.Sprintf("invalid seed timestamp %s: database %s has no point-in-time restore point covering it (retention %s; this development server keeps history from before each destructive change)",
		t.UTC().Format(time.RFC3339Nano), src.name, s.snapshotRetention())
	if t.After(now) {
		return "", fmt.Sprintf("invalid seed timestamp %s: it is in the future", t.UTC().Format(time.RFC3339Nano))
	}
	if t.Before(now.Add(-s.snapshotRetention())) || t.Before(src.createdAt) {
		return "", outside
	}
	snaps, err := s.snapshots(src.name)
	if err != nil {
		return "", "read point-in-time history of " + src.name + ": " + err.Error()
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if sn := snaps[i]; !t.Before(sn.validFrom) && !t.After(sn.taken) {
			return sn.path, ""
		}
	}
	if !t.Before(s.lastWriteOf(src)) {
		return src.path, ""
	}
	return "", outside
}

// dropHistory deletes a deleted database's snapshots: deleting a database deletes its data, history
// included (a tenant destroyed for privacy must not linger in snapshots for the retention).
func (s *Server) dropHistory(name string) {
	if err := os.RemoveAll(s.snapshotDir(name)); err != nil {
		s.log.Warn("remove snapshots", "database", name, "err", err)
	}
}

// parseSeedTimestamp reads the seed's RFC 3339 timestamp.
func parseSeedTimestamp(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid seed timestamp %q: expected RFC 3339, e.g. 2023-12-20T09:46:08Z", v)
	}
	return t, nil
}

// copyQuiescent copies the database file byte for byte when that is a consistent copy: its log is
// empty (every write in WAL mode goes to the log first) and neither file changed while it was copied.
// ok is false otherwise, with dst left empty for VACUUM INTO.
func copyQuiescent(src, dst string) (ok bool, err error) {
	before, ok := quiescentStamp(src)
	if !ok {
		return false, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return false, nil
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return false, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return false, err
	}
	if err := out.Close(); err != nil {
		return false, err
	}
	if after, ok := quiescentStamp(src); !ok || after != before {
		return false, os.Truncate(dst, 0)
	}
	return true, nil
}

func quiescentStamp(src string) (string, bool) {
	if fi, err := os.Stat(src + "-wal"); err == nil && fi.Size() > 0 {
		return "", false
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if _, err := os.Stat(src + "-journal"); err == nil {
		return "", false
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano()), true
}

// withoutStringLiterals blanks out '…' literals (with ” escapes), so text a statement writes — a
// note saying "drop table" — does not look like a statement dropping one.
func withoutStringLiterals(q string) string {
	if !strings.Contains(q, "'") {
		return q
	}
	b := []byte(q)
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\'' && in && i+1 < len(b) && b[i+1] == '\'':
			b[i], b[i+1] = ' ', ' '
			i++
		case b[i] == '\'':
			in = !in
		case in:
			b[i] = ' '
		}
	}
	return string(b)
}
