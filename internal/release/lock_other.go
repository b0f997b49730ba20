//go:build !unix

package release

import "context"

// lockFile is a no-op where flock is unavailable; concurrent builds then merely duplicate work,
// and the rename into place keeps the binary whole.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
