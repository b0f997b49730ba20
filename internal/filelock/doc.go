// Package filelock owns the cross-process lock on a file: parallel test packages (each its own
// process) share one build of a tool through it, and reconciler replicas sharing a data folder take
// turns on their Git mirror.
package filelock
