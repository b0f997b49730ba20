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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/sqlitefile"
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

func (s *Server) snapshots(name string) sqlitefile.Snapshots {
	return sqlitefile.Snapshots{Dir: s.snapshotDir(name), Retention: s.snapshotRetention()}
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
	_, err := s.snapshots(e.name).Take(ctx, e.path, s.lastWriteOf(e), s.copyDatabase)
	return err
}

// copyDatabase writes a consistent copy of the database at src to dst, owner-only. A source with
// nothing in its write-ahead log — a template, once checkpointed — is copied byte for byte without
// opening it: a connection would parse its whole schema (its first pragma needs it) for nothing.
func (s *Server) copyDatabase(ctx context.Context, src, dst string) error {
	var c *sqliteConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	open := func() error {
		if c != nil {
			return nil
		}
		var err error
		c, err = openSQLite(src, int(s.opts.BusyTimeout/time.Millisecond))
		return err
	}
	if sqlitefile.HasLog(src) {
		// Pooled connections keep a database's log around: fold it into the file (refused harmlessly
		// while a stream reads or writes), so that an idle source — a template — is copied byte for
		// byte instead of rebuilt table by table. TRUNCATE leaves the log empty, so the next copy of
		// an idle source skips this.
		if err := open(); err != nil {
			return err
		}
		_ = c.execScript(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return sqlitefile.Copy(ctx, src, dst, func(ctx context.Context, dst string) error {
		if err := open(); err != nil {
			return err
		}
		if err := c.execScript(ctx, "VACUUM INTO '"+strings.ReplaceAll(dst, "'", "''")+"'"); err != nil {
			return fmt.Errorf("copy database: %w", err)
		}
		return nil
	})
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
	sn, ok, err := s.snapshots(src.name).Covering(t)
	if err != nil {
		return "", "read point-in-time history of " + src.name + ": " + err.Error()
	}
	if ok {
		return sn.Path, ""
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
