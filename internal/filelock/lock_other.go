//go:build !unix

package filelock

import "context"

// Lock is a no-op where flock is unavailable; concurrent builds then merely duplicate work,
// and the rename into place keeps the binary whole.
func Lock(context.Context, string) (func(), error) { return func() {}, nil }
