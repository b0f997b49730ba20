package bundle

import (
	"regexp"
	"strings"
)

var (
	identifierRE  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	optionValueRE = regexp.MustCompile(`^[a-z][a-z0-9_.]*$`)
)

// IsIdentifier reports whether s is a valid object name, field key, column or index name (^[a-z_][a-z0-9_]*$).
func IsIdentifier(s string) bool { return identifierRE.MatchString(s) }

// MaxIdentifierLength keeps generated index names (idx_<table>_<cols>) and error messages readable.
const MaxIdentifierLength = 63

// MaxColumns is SQLite's default SQLITE_MAX_COLUMN (libSQL and Turso keep it): the most columns one table may
// have, the system columns included.
const MaxColumns = 2000

// SystemColumns are created on every table before the declared fields (protocol §3).
var SystemColumns = []string{"id", "created_at", "updated_at"}

// IsSystemColumn reports whether name is one of SystemColumns.
func IsSystemColumn(name string) bool {
	for _, c := range SystemColumns {
		if c == name {
			return true
		}
	}
	return false
}

// sqliteReserved are the SQLite keywords that cannot be used as bare identifiers (those without an ID fallback in
// SQLite's grammar). The engine always quotes identifiers, but a name that only works quoted breaks every
// hand-written query against the tenant database, so it is refused up front. Keywords SQLite accepts as plain
// names (key, action, first, ...) are allowed.
var sqliteReserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`add all alter and as autoincrement between case check collate commit constraint
		create default deferrable delete distinct drop else escape except exists foreign from group having in index
		indexed insert intersect into is isnull join limit not nothing notnull null on or order primary references
		returning select set table then to transaction union unique update using values when where`) {
		sqliteReserved[w] = true
	}
}

// reservedReason explains why name may not be used as a table, column or index name, or returns "".
func reservedReason(name string) string {
	l := strings.ToLower(name)
	switch {
	case sqliteReserved[l]:
		return "is an SQLite reserved word"
	case strings.HasPrefix(l, "sqlite_"):
		return "starts with sqlite_, which SQLite reserves for its own tables"
	case strings.HasPrefix(l, "_objectstack"):
		return "starts with _objectstack, which the engine reserves for its registry tables"
	}
	return ""
}

// suggest returns the candidate closest to s when it is a plausible typo (edit distance ≤ 2), or "".
func suggest(s string, candidates []string) string {
	if len(candidates) > 200 {
		return "" // suggestions are a convenience; never let them make validation slow
	}
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return " (did you mean " + c + "?)"
	}
	return ""
}
