// Package filelock owns the cross-process lock on a file that lets parallel test packages (each its
// own process) share one build of a tool instead of racing to write the same binary.
package filelock
