package sqlitefile

import (
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
