package tenant

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// SetAfterStep installs a hook that runs after each completed provisioning step; returning an
// error stops the run as if the process had died there.
func SetAfterStep(s *Service, fn func(step string) error) { s.afterStep = fn }

// SealedToken returns the stored (encrypted) token column of a tenant, for the at-rest test.
func SealedToken(ctx context.Context, s *Service, id string) (string, error) {
	r, err := s.store.get(ctx, id)
	if err != nil {
		return "", err
	}
	return r.tokenEnc, nil
}

// SetAfterRestoreCopy installs a hook that runs once a restore's new database exists; returning an error
// stops the restore as if the process had died there (nothing is undone).
func SetAfterRestoreCopy(s *Service, fn func(newDatabase string) error) { s.afterRestoreCopy = fn }

// HandRestoresTo rewrites the holder of tenant id's unfinished restores, as if holder had run them.
func HandRestoresTo(ctx context.Context, s *Service, id, holder string) error {
	_, err := s.ctl.ExecContext(ctx, `UPDATE tenant_restores SET holder = ? WHERE tenant_id = ? AND state = ?`, holder, id, restoreStarted)
	return err
}

// GoneProcessHolder is the claim or restore holder of a process of this host that has exited.
func GoneProcessHolder(t testing.TB) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	exited := exec.Command(os.Args[0], "-test.run", "^$")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d:0a1b2c", host, exited.Process.Pid)
}
