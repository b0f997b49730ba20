package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// printPreflight writes what the pre-flight found in the data: failures (the apply would fail), type changes
// that would alter values, and type changes the data shows to be lossless. Nothing is printed for a plan whose
// migration touches no existing rows (no check ran).
func printPreflight(w io.Writer, r *schema.PreflightReport) {
	if r == nil || r.Checks == 0 {
		return
	}
	fmt.Fprintf(w, "\nPre-flight (%d check(s) of the existing rows): %s\n", r.Checks, preflightVerdict(r))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  ✗ %s\n", f)
	}
	for _, f := range r.Lossy {
		fmt.Fprintf(w, "  ! %s\n", f)
	}
	for _, f := range r.Lossless {
		fmt.Fprintf(w, "  ✓ %s\n", f)
	}
}

func preflightVerdict(r *schema.PreflightReport) string {
	var parts []string
	if n := len(r.Failures); n > 0 {
		parts = append(parts, fmt.Sprintf("%d would fail the apply", n))
	}
	if n := len(r.Lossy); n > 0 {
		parts = append(parts, fmt.Sprintf("%d type change(s) would alter values", n))
	}
	if n := len(r.Lossless); n > 0 {
		parts = append(parts, fmt.Sprintf("%d type change(s) lossless for this data", n))
	}
	if len(parts) == 0 {
		return "the data passes"
	}
	return strings.Join(parts, "; ")
}
