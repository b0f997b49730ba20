package platform

import (
	"net/http"
	"strings"
)

// seedBody is the create-database "seed" object as Turso documents it: {"type":"database",
// "name":"<source>","timestamp":"<RFC 3339>"}. turso-cli sends the source as "value" instead;
// both keys are sent so either reading of the API finds it.
func seedBody(s *Seed) map[string]any {
	typ := s.Type
	if typ == "" {
		typ = SeedTypeDatabase
	}
	m := map[string]any{"type": typ, "name": s.Database, "value": s.Database}
	if s.Timestamp != nil {
		m["timestamp"] = FormatRestorePoint(*s.Timestamp)
	}
	return m
}

// isNoRestorePoint recognises the API's refusal of a seed timestamp (outside the retention, or
// before the source existed) by its wording, which Turso does not give a code for.
func isNoRestorePoint(status int, lowerText string) bool {
	if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity && status != http.StatusNotFound {
		return false
	}
	return strings.Contains(lowerText, "timestamp") || strings.Contains(lowerText, "restore point") ||
		strings.Contains(lowerText, "retention")
}
