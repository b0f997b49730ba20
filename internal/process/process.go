// Package process owns the one judgement ObjectStack makes about another process from the identity it
// wrote into a claim or a lease (its host name and process id): whether that process provably no longer
// runs, so what it held can be taken over at once instead of after its expiry.
package process

import (
	"os"
	"strconv"
	"strings"
)

// GoneHere reports whether process pid of host provably no longer runs: host is this host, pid is not
// this process, and the operating system finds no process pid. Anything else — another host, a platform
// where that cannot be checked — is never presumed gone: what it holds runs out instead. (A pid reused by
// an unrelated process since reads as alive: the safe side.)
func GoneHere(host string, pid int) bool {
	here, err := os.Hostname()
	if err != nil || host == "" || host != here || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return gone(pid)
}

// GoneHereID is GoneHere for an identity written as "HOST:PID"; anything else is never presumed gone.
func GoneHereID(id string) bool {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return false
	}
	pid, err := strconv.Atoi(id[i+1:])
	return err == nil && GoneHere(id[:i], pid)
}
