//go:build unix

package main

import (
	"errors"
	"syscall"
)

// processGone reports whether no process pid exists (signal 0 checks without signalling).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
