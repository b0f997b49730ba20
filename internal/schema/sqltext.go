package schema

import (
	"fmt"
	"math"
	"regexp"
	"sort"
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

// handWrittenConstraints lists the clauses of a CREATE TABLE statement that the engine's own DDL never
// writes and a rebuild therefore cannot carry over (UNIQUE, CHECK, COLLATE, generated columns, ON
// CONFLICT, AUTOINCREMENT, STRICT, WITHOUT ROWID, named CONSTRAINTs). Only tables made outside the engine
// and then adopted have them. Keywords are matched as bare words: string literals and quoted identifiers
// are skipped, so a default such as 'unique' or a column named "check" is not mistaken for one.
func handWrittenConstraints(createSQL string) []string {
	clause := map[string]string{
		"UNIQUE": "UNIQUE", "CHECK": "CHECK", "COLLATE": "COLLATE", "GENERATED": "GENERATED", "AS": "GENERATED",
		"CONFLICT": "ON CONFLICT", "AUTOINCREMENT": "AUTOINCREMENT", "CONSTRAINT": "CONSTRAINT",
	}
	// Table options follow the column list, outside every parenthesis.
	options := map[string]string{"STRICT": "STRICT", "WITHOUT": "WITHOUT ROWID"}
	// The column list starts at the first parenthesis; "CREATE TABLE x" before it has none of the words.
	start := strings.IndexByte(createSQL, '(')
	if start < 0 {
		return nil
	}
	s := createSQL[start:]
	seen := map[string]bool{}
	var out []string
	depth := 0
	prev := ""
	for i := 0; i < len(s); {
		switch ch := s[i]; {
		case ch == '\'' || ch == '"' || ch == '`' || ch == '[':
			end := ch
			if ch == '[' {
				end = ']'
			}
			i++
			for i < len(s) {
				if s[i] == end {
					// A doubled quote inside a literal or identifier is an escaped quote, not the end.
					if end != ']' && i+1 < len(s) && s[i+1] == end {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
			prev = ""
		case ch == '_' || ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			w := strings.ToUpper(s[i:j])
			next := func(prefix string) bool {
				r := strings.TrimLeft(s[j:], " \t\r\n")
				return len(r) >= len(prefix) && strings.EqualFold(r[:len(prefix)], prefix)
			}
			var c string
			var ok bool
			switch {
			case depth == 0:
				c, ok = options[w]
			// Non-reserved words are only clauses in their clause position, so an unquoted column named
			// generated or conflict is not one. CAST(x AS TEXT) in a default is no generated column either.
			case w == "AS" && !next("("), w == "GENERATED" && !next("ALWAYS"),
				w == "CONFLICT" && prev != "ON":
			default:
				c, ok = clause[w]
			}
			if ok && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
			prev = w
			i = j
		default:
			switch ch {
			case '(':
				depth++
			case ')':
				depth--
			}
			if ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' {
				prev = ""
			}
			i++
		}
	}
	sort.Strings(out)
	return out
}
