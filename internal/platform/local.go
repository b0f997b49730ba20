package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/sqlitefile"
)

// DefaultGroup is the group a database lands in when CreateOptions.Group is empty.
const DefaultGroup = "default"

// sqlitePageSize is the page size every local database is created with (SQLite's default,
// which modernc keeps); the size limit is enforced as max_page_count = limit / page size.
const sqlitePageSize = 4096

// Local keeps tenant databases as SQLite files under <dataDir>/databases: <name>.db plus a
// <name>.json sidecar holding what Turso would keep server-side (id, group, block_writes,
// size limit).
//
// Tokens: a file has nobody to present a token to, so local tokens are empty (JWT "") and
// RotateTokens is a no-op; database.Open ignores an empty token for files. Access rules are
// enforced by the opener instead: open through OpenURL (or platform.Open), which adds
// _pragma=query_only(1) when writes are blocked and max_page_count for a size limit.
//
// Local is safe for concurrent use, also by several processes sharing dataDir for create and
// delete (the file is created O_EXCL and the first sidecar is linked into place, never
// overwritten); two processes configuring the same database at the same moment may lose one
// of the two updates (the last rename wins).
type Local struct {
	dir       string
	mu        sync.Mutex    // serialises sidecar read-modify-write within this process
	retention time.Duration // restore-point snapshots (local_seed.go); zero means the default
}

// NewLocal returns the local backend rooted at dataDir, creating dataDir/databases.
func NewLocal(dataDir string) (*Local, error) {
	if dataDir == "" {
		return nil, errors.New("local platform: data directory is empty")
	}
	dir := filepath.Join(dataDir, "databases")
	if err := database.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("local platform: create %s: %w", dir, err)
	}
	// What killed creators left (a seeded copy, a sidecar, each under a hidden staging name) goes once stale.
	if entries, err := os.ReadDir(dir); err == nil {
		sqlitefile.RemoveStaleStaging(dir, entries)
	}
	return &Local{dir: dir}, nil
}

// localMeta is the sidecar: what Turso would keep on its side of the API.
type localMeta struct {
	DbID           string    `json:"dbId"`
	Group          string    `json:"group"`
	BlockWrites    bool      `json:"blockWrites"`
	BlockReads     bool      `json:"blockReads"`
	SizeLimitBytes int64     `json:"sizeLimitBytes,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	// DeleteProtection makes DeleteDatabase refuse, as Turso's delete_protection does.
	DeleteProtection bool `json:"deleteProtection,omitempty"`
}

// Kind reports "local".
func (*Local) Kind() string { return "local" }

// Dir is the folder holding the database files.
func (l *Local) Dir() string { return l.dir }

// Path is the database file of name (whether or not it exists).
func (l *Local) Path(name string) string { return filepath.Join(l.dir, name+".db") }

func (l *Local) metaPath(name string) string { return filepath.Join(l.dir, name+".json") }

// CreateDatabase creates <name>.db. O_EXCL makes concurrent creators agree on exactly one winner;
// the others get the existing database and ErrAlreadyExists.
func (l *Local) CreateDatabase(ctx context.Context, opts CreateOptions) (*Database, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	if opts.SizeLimitBytes < 0 {
		return nil, fmt.Errorf("create database %s: negative size limit %d", opts.Name, opts.SizeLimitBytes)
	}
	if err := opts.Seed.Validate(); err != nil {
		return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
	}
	group := opts.Group
	if group == "" {
		group = DefaultGroup
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// As on Turso, a database goes only into a group that exists (the default one always does).
	if _, err := l.readGroup(group); err != nil {
		return nil, fmt.Errorf("create database %s in group %s: %w", opts.Name, group, err)
	}
	var seedFrom string
	if opts.Seed != nil {
		if _, err := os.Stat(l.Path(opts.Name)); err == nil {
			// Exists: reported below like any existing database, without copying over it.
		} else if seedFrom, err = l.seedSource(opts.Seed); err != nil {
			return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
		}
	}
	meta := newLocalMeta(group, opts.SizeLimitBytes)
	if seedFrom != "" {
		created, err := l.createSeeded(ctx, opts.Name, seedFrom, meta)
		if err != nil {
			return nil, fmt.Errorf("create database %s: seed from %s: %w", opts.Name, opts.Seed.Database, err)
		}
		if !created {
			return l.existing(opts.Name, meta)
		}
		return l.get(opts.Name)
	}
	f, err := os.OpenFile(l.Path(opts.Name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return l.existing(opts.Name, meta)
	}
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
	}
	// An empty file is a valid, empty SQLite database; the first open sets WAL.
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
	}
	if err := l.createMeta(opts.Name, meta); err != nil {
		_ = os.Remove(l.Path(opts.Name)) // nothing half-created
		return nil, fmt.Errorf("create database %s: %w", opts.Name, err)
	}
	return l.get(opts.Name)
}

// existing reports database name, which a create found already there, with ErrAlreadyExists. A creator
// that died between the file and the sidecar left no sidecar; it is written now (from meta) so re-running
// create converges on a complete database.
func (l *Local) existing(name string, meta localMeta) (*Database, error) {
	if _, statErr := os.Stat(l.metaPath(name)); errors.Is(statErr, fs.ErrNotExist) {
		if err := l.createMeta(name, meta); err != nil {
			return nil, fmt.Errorf("create database %s: %w", name, err)
		}
	}
	db, err := l.get(name)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return db, fmt.Errorf("create database %s: %w", name, ErrAlreadyExists)
}

func newLocalMeta(group string, sizeLimit int64) localMeta {
	return localMeta{DbID: newUUID(), Group: group, SizeLimitBytes: sizeLimit, CreatedAt: time.Now().UTC()}
}

// GetDatabase returns the database or ErrNotFound.
func (l *Local) GetDatabase(ctx context.Context, name string) (*Database, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("get database: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	db, err := l.get(name)
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	return db, nil
}

func (l *Local) get(name string) (*Database, error) {
	if _, err := os.Stat(l.Path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	m, err := l.readMeta(name)
	if err != nil {
		return nil, err
	}
	db := &Database{
		Name:          name,
		DbID:          m.DbID,
		Group:         m.Group,
		PrimaryRegion: "local",
		URL:           l.Path(name),
		BlockWrites:   m.BlockWrites,
		BlockReads:    m.BlockReads,

		DeleteProtection: m.DeleteProtection,
	}
	if g, gerr := l.readGroup(m.Group); gerr == nil {
		db.PrimaryRegion = g.Primary
	}
	if m.SizeLimitBytes > 0 {
		db.SizeLimit = strconv.FormatInt(m.SizeLimitBytes, 10)
	}
	return db, nil
}

// ListDatabases lists databases in group (every group when empty), sorted by name.
func (l *Local) ListDatabases(ctx context.Context, group string) ([]Database, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Database{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".db")
		if !ok || e.IsDir() || ValidateName(name) != nil {
			continue
		}
		db, err := l.get(name)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while we listed
		}
		if err != nil {
			return nil, fmt.Errorf("list databases: %s: %w", name, err)
		}
		if group != "" && db.Group != group {
			continue
		}
		out = append(out, *db)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteDatabase removes the file with its WAL, shared-memory, journal and sidecar files.
// Handles still open on it keep working on the unlinked inode until closed; the tenant layer
// evicts them before deleting.
func (l *Local) DeleteDatabase(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete database: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, err := l.readMeta(name); err == nil && m.DeleteProtection {
		if _, serr := os.Stat(l.Path(name)); serr == nil {
			return fmt.Errorf("delete database %s: %w; set delete_protection = false first", name, ErrDeleteProtected)
		}
	}
	// The .db file goes last: while it exists the database still "exists", so a delete that
	// fails half-way is retried rather than leaving a database without its sidecar state.
	p := l.Path(name)
	// Its restore-point snapshots go first: deleting a database deletes its history too.
	if err := os.RemoveAll(l.SnapshotDir(name)); err != nil {
		return fmt.Errorf("delete database %s: snapshots: %w", name, err)
	}
	for _, f := range []string{p + "-wal", p + "-shm", p + "-journal", l.metaPath(name), p} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete database %s: %w", name, err)
		}
	}
	return nil
}

// CreateToken returns an empty token: a local file has no server to present it to.
func (l *Local) CreateToken(ctx context.Context, name string, opts TokenOptions) (Token, error) {
	if _, err := l.GetDatabase(ctx, name); err != nil {
		return Token{}, fmt.Errorf("create token: %w", err)
	}
	if err := validateTokenOptions(opts); err != nil {
		return Token{}, fmt.Errorf("create token for %s: %w", name, err)
	}
	return Token{}, nil
}

// RotateTokens is a no-op beyond checking the database exists: local tokens carry nothing.
func (l *Local) RotateTokens(ctx context.Context, name string) error {
	if _, err := l.GetDatabase(ctx, name); err != nil {
		return fmt.Errorf("rotate tokens: %w", err)
	}
	return nil
}

// Configure records the settings in the sidecar; OpenURL applies them to new handles.
func (l *Local) Configure(ctx context.Context, name string, cfg Configuration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("configure database: %w", err)
	}
	if cfg.SizeLimitBytes != nil && *cfg.SizeLimitBytes < 0 {
		return fmt.Errorf("configure database %s: negative size limit %d", name, *cfg.SizeLimitBytes)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Stat(l.Path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("configure database %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("configure database %s: %w", name, err)
	}
	m, err := l.readMeta(name)
	if err != nil {
		return fmt.Errorf("configure database %s: %w", name, err)
	}
	if cfg.BlockWrites != nil {
		m.BlockWrites = *cfg.BlockWrites
	}
	if cfg.BlockReads != nil {
		m.BlockReads = *cfg.BlockReads
	}
	if cfg.SizeLimitBytes != nil {
		m.SizeLimitBytes = *cfg.SizeLimitBytes
	}
	if cfg.DeleteProtection != nil {
		m.DeleteProtection = *cfg.DeleteProtection
	}
	if err := l.writeMeta(name, m); err != nil {
		return fmt.Errorf("configure database %s: %w", name, err)
	}
	return nil
}

// OpenURL returns a file: URL for name carrying the backend's access rules: the standard
// pragmas of database.FileURL, plus _pragma=query_only(1) when writes are blocked (every write
// then fails with "attempt to write a readonly database") and max_page_count when a size limit
// is set (growing past it fails with "database or disk is full"). The tenant router opens local
// databases with this URL (or platform.Open) and must reopen after Configure changes them.
// It refuses a database whose reads are blocked.
func (l *Local) OpenURL(name string) (string, bool, error) {
	if err := ValidateName(name); err != nil {
		return "", false, fmt.Errorf("open database: %w", err)
	}
	l.mu.Lock()
	db, err := l.get(name)
	var m localMeta
	if err == nil {
		m, err = l.readMeta(name)
	}
	l.mu.Unlock()
	if err != nil {
		return "", false, fmt.Errorf("open database %s: %w", name, err)
	}
	if m.BlockReads {
		return "", false, fmt.Errorf("open database %s: reads are blocked", name)
	}
	u, err := database.FileURL(db.URL)
	if err != nil {
		return "", false, err
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", false, fmt.Errorf("open database %s: %w", name, err)
	}
	q := parsed.Query()
	if m.SizeLimitBytes > 0 {
		pages := m.SizeLimitBytes / sqlitePageSize
		if pages < 1 {
			pages = 1
		}
		q.Add("_pragma", fmt.Sprintf("max_page_count(%d)", pages))
	}
	if m.BlockWrites {
		// Last, so the journal_mode pragma before it can still run on a fresh file.
		q.Add("_pragma", "query_only(1)")
	}
	parsed.RawQuery = q.Encode()
	return parsed.String(), m.BlockWrites, nil
}

func (l *Local) readMeta(name string) (localMeta, error) {
	var m localMeta
	b, err := os.ReadFile(l.metaPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		// A database whose creator died before writing the sidecar: defaults, as Turso's.
		return localMeta{Group: DefaultGroup}, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", l.metaPath(name), err)
	}
	if m.Group == "" {
		m.Group = DefaultGroup
	}
	return m, nil
}

// writeMeta replaces the sidecar atomically: a reader sees the old or the new file, never half.
func (l *Local) writeMeta(name string, m localMeta) error {
	tmp, err := l.tempMeta(name, m)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after a successful rename
	return os.Rename(tmp, l.metaPath(name))
}

// createMeta puts the first sidecar in place without overwriting one another process wrote in
// the meantime (a hard link fails if the target exists), so every creator reports the same id.
func (l *Local) createMeta(name string, m localMeta) error {
	tmp, err := l.tempMeta(name, m)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return l.linkMeta(tmp, name)
}

// linkMeta puts the synced sidecar file tmp in place as name's sidecar, unless one is there already.
func (l *Local) linkMeta(tmp, name string) error {
	err := os.Link(tmp, l.metaPath(name))
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	default:
		// A filesystem without hard links: fall back to rename.
		return os.Rename(tmp, l.metaPath(name))
	}
}

// tempMeta writes m, synced, to a temporary file beside the sidecar and returns its path.
func (l *Local) tempMeta(name string, m localMeta) (string, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(l.dir, "."+name+".json.*"+sqlitefile.StagingSuffix)
	if err != nil {
		return "", err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
