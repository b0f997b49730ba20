package schema

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// identRe is the identifier shape the engine accepts for tables, columns and indexes. Bundle validation
// enforces the stricter protocol rule; this is the engine's own guard so no caller can smuggle SQL in.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkIdent(what, s string) error {
	if !identRe.MatchString(s) {
		return fmt.Errorf("%s %q is not a valid identifier (want ^[A-Za-z_][A-Za-z0-9_]*$)", what, s)
	}
	return nil
}

// QuoteIdent double-quotes an SQLite identifier, doubling embedded quotes. Every package that builds SQL
// text around a name (the stores, the seeders) quotes through this one function.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral renders s as an SQLite string literal, doubling embedded single quotes.
func QuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// qi and qs are the engine's short names for QuoteIdent and QuoteLiteral; DDL text reads better with them.
func qi(s string) string { return QuoteIdent(s) }
func qs(s string) string { return QuoteLiteral(s) }

// formatNumber renders a float as the shortest SQLite numeric literal that reads back as the same value.
func formatNumber(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("number %v has no SQL literal", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// affinity returns SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html §3.1).
func affinity(declared string) string {
	t := strings.ToUpper(declared)
	switch {
	case strings.Contains(t, "INT"):
		return "INTEGER"
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return "TEXT"
	case t == "" || strings.Contains(t, "BLOB"):
		return "BLOB"
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return "REAL"
	default:
		return "NUMERIC"
	}
}

// lossyTypeChange reports whether converting stored values from declared type old to new can change them.
// Widening to TEXT keeps every number's text, INTEGER→REAL keeps integers; everything else can lose data
// (text that is not a number becomes 0, reals are truncated).
func lossyTypeChange(oldType, newType string) bool {
	oa, na := affinity(oldType), affinity(newType)
	if oa == na {
		return false
	}
	switch na {
	case "TEXT":
		return oa == "BLOB"
	case "REAL", "NUMERIC":
		return oa != "INTEGER" && oa != "REAL" && oa != "NUMERIC"
	}
	return true
}
