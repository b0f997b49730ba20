// Package filemodetest holds the check the file-permission tests of several packages share: that a data
// folder holds nothing other local users can read (tokens, keys and tenant data live there).
package filemodetest

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// AssertPrivateTree fails t for every file under dir that group or others may access and every folder
// that is not 0700; it returns how many files it saw.
func AssertPrivateTree(t testing.TB, dir string) (files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch perm := fi.Mode().Perm(); {
		case d.IsDir() && perm != 0o700:
			t.Errorf("folder %s has mode %04o, want 0700", p, perm)
		case !d.IsDir() && perm&0o077 != 0:
			t.Errorf("file %s has mode %04o: readable beyond its owner", p, perm)
		case !d.IsDir():
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
