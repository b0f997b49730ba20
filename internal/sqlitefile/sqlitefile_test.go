package sqlitefile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestWALModeAndHasLog(t *testing.T) {
	dir := t.TempDir()
	header := func(read, write byte) []byte {
		h := make([]byte, 100)
		copy(h, "SQLite format 3\x00")
		h[18], h[19] = read, write
		return h
	}
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{
		{"empty", nil, false},
		{"short", []byte("SQLite"), false},
		{"rollback", header(1, 1), false},
		{"wal", header(2, 2), true},
		{"not sqlite", append([]byte("not a database!!"), make([]byte, 84)...), false},
	} {
		p := filepath.Join(dir, c.name+".db")
		if err := os.WriteFile(p, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := WALMode(p); err != nil || got != c.want {
			t.Errorf("WALMode(%s) = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := WALMode(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("WALMode of a missing file: no error")
	}

	p := filepath.Join(dir, "x.db")
	if HasLog(p) {
		t.Error("HasLog without a -wal file")
	}
	if err := os.WriteFile(p+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if HasLog(p) {
		t.Error("HasLog with an empty -wal file")
	}
	if err := os.WriteFile(p+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !HasLog(p) {
		t.Error("HasLog with a non-empty -wal file: false")
	}
}

// TestCopyIsOwnerOnly: both ways of copying leave dst readable by its owner only — the byte copy of
// a quiescent source, and VACUUM INTO (here a stand-in that, like SQLite, writes into the file it
// finds) for a source with a write-ahead log.
func TestCopyIsOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	if err := os.WriteFile(src, []byte("pages"), 0o600); err != nil {
		t.Fatal(err)
	}
	vacuumed := false
	vacuumInto := func(_ context.Context, dst string) error {
		vacuumed = true
		return os.WriteFile(dst, []byte("rebuilt"), 0o644)
	}
	check := func(dst, want string, wantVacuum bool) {
		t.Helper()
		vacuumed = false
		if err := Copy(context.Background(), src, dst, vacuumInto); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dst)
		if fi.Mode().Perm() != 0o600 || string(got) != want || vacuumed != wantVacuum {
			t.Fatalf("%s: mode %04o, content %q, VACUUM INTO %v; want 0600, %q, %v", filepath.Base(dst), fi.Mode().Perm(), got, vacuumed, want, wantVacuum)
		}
	}
	check(filepath.Join(dir, "bytes.db"), "pages", false)
	if err := os.WriteFile(src+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "vacuum.db"), "rebuilt", true)
}
