package bundle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Issue codes. They are stable: tests, the CLI's --json output and the provider's diagnostics rely on them.
const (
	CodeParseError         = "parse_error"           // the file is not valid YAML/JSON
	CodeInvalidEncoding    = "invalid_encoding"      // the file is not UTF-8
	CodeDuplicateKey       = "duplicate_key"         // a key appears twice in one mapping
	CodeFileTooLarge       = "file_too_large"        // one file exceeds MaxFileSize
	CodeTooLarge           = "bundle_too_large"      // the bundle exceeds MaxTotalSize/MaxFiles, or a document expands too far
	CodeInvalidType        = "invalid_type"          // a value has the wrong YAML/JSON type
	CodeUnknownKey         = "unknown_key"           // a key the format does not define (kept, but probably a typo)
	CodeMissingRequired    = "missing_required"      // a required key is absent or empty
	CodeMissingManifest    = "missing_manifest"      // no bundle.yaml / bundle.json
	CodeAmbiguousManifest  = "ambiguous_manifest"    // more than one manifest file
	CodeIgnoredFile        = "ignored_file"          // a file the loader does not read
	CodeUnsafeLink         = "unsafe_link"           // a symbolic link that leads outside the bundle or app folder
	CodeInvalidIdentifier  = "invalid_identifier"    // not ^[a-z_][a-z0-9_]*$
	CodeReservedName       = "reserved_name"         // an SQL keyword or a name SQLite/ObjectStack reserves
	CodeSystemField        = "system_field"          // a field that re-declares a system column (ignored)
	CodeSystemConflict     = "system_field_conflict" // a field that re-declares a system column with another type
	CodeDuplicateName      = "duplicate_name"        // two objects, columns, indexes or options share a name
	CodeUnknownFieldType   = "unknown_field_type"    // not one of the 44 field types
	CodeDanglingReference  = "dangling_reference"    // a lookup/summary/dataset names an object or field that exists nowhere
	CodeInvalidEnum        = "invalid_enum"          // a value outside its enumeration
	CodeInvalidDefault     = "invalid_default"       // defaultValue does not fit the field's type
	CodeInvalidValue       = "invalid_value"         // a number/string outside its allowed range or format
	CodeInvalidOptionValue = "invalid_option_value"  // a select option value that breaks ^[a-z][a-z0-9_.]*$ (min 2 chars)
	CodeUnsafeExpression   = "unsafe_expression"     // an SQL fragment (index partial) that could escape its clause
	CodeInvalidVersion     = "invalid_version"       // manifest version is not semver
	CodeMissingContent     = "missing_content"       // the manifest lists a name the bundle does not contain
	CodeUnlistedContent    = "unlisted_content"      // the bundle contains a name the manifest does not list
	CodeChecksumMismatch   = "checksum_mismatch"     // the manifest's checksum differs from the contents
	CodeInvalidRecord      = "invalid_record"        // a seed record that cannot be written to its object
	CodeIgnoredSetting     = "ignored_setting"       // a setting SQLite cannot honour or that has no effect
	CodeTooManyIssues      = "too_many_issues"       // MaxIssues reached; the rest are counted, not listed
	CodeTooManyColumns     = "too_many_columns"      // an object needs more columns than SQLite allows in one table
)

// MaxIssues caps the issues one load or validation reports; a hostile or badly broken bundle could otherwise
// produce millions. Past the cap one summary issue says how many were left out.
const MaxIssues = 1000

// issues accumulates issues; the zero value is ready to use.
type issues struct {
	list                   []Issue
	dropped, droppedErrors int
}

func (s *issues) add(sev Severity, code, path, file string, line int, format string, a ...any) {
	if len(s.list) >= MaxIssues {
		s.dropped++
		if sev == SeverityError {
			s.droppedErrors++
		}
		return
	}
	s.list = append(s.list, Issue{Severity: sev, Code: code, Path: path, File: file, Line: line, Message: fmt.Sprintf(format, a...)})
}

// all returns the issues, plus a summary issue when some were left out (an error when any of those was one).
func (s *issues) all() []Issue {
	if s.dropped == 0 {
		return s.list
	}
	sev := SeverityWarning
	if s.droppedErrors > 0 {
		sev = SeverityError
	}
	return append(s.list, Issue{Severity: sev, Code: CodeTooManyIssues, Message: fmt.Sprintf("%d more issues (%d errors) not shown; fix the ones above first", s.dropped, s.droppedErrors)})
}

func (s *issues) errorf(code, path, file string, line int, format string, a ...any) {
	s.add(SeverityError, code, path, file, line, format, a...)
}

func (s *issues) warnf(code, path, file string, line int, format string, a ...any) {
	s.add(SeverityWarning, code, path, file, line, format, a...)
}

// Result builds a ValidationResult from a list of issues, counting errors and warnings.
func Result(list []Issue) ValidationResult {
	r := ValidationResult{Issues: list}
	if r.Issues == nil {
		r.Issues = []Issue{}
	}
	for _, is := range r.Issues {
		switch is.Severity {
		case SeverityError:
			r.ErrorCount++
		case SeverityWarning:
			r.WarningCount++
		}
	}
	r.Valid = r.ErrorCount == 0
	return r
}

// Merge combines results: the issues of all, in order.
func Merge(rs ...ValidationResult) ValidationResult {
	var all []Issue
	for _, r := range rs {
		all = append(all, r.Issues...)
	}
	return Result(all)
}

// Errors returns only the error-severity issues.
func (r ValidationResult) Errors() []Issue {
	var out []Issue
	for _, is := range r.Issues {
		if is.Severity == SeverityError {
			out = append(out, is)
		}
	}
	return out
}

// String formats the issue as "file:line: severity path: message" (file and line only when known).
func (is Issue) String() string {
	var b strings.Builder
	if is.File != "" {
		b.WriteString(is.File)
		if is.Line > 0 {
			b.WriteString(":" + strconv.Itoa(is.Line))
		}
		b.WriteString(": ")
	}
	b.WriteString(string(is.Severity))
	if is.Path != "" {
		b.WriteString(" " + is.Path)
	}
	b.WriteString(": " + is.Message)
	if is.Code != "" {
		b.WriteString(" [" + is.Code + "]")
	}
	return b.String()
}

// Err returns nil when the result is valid and otherwise an error listing every error issue,
// for callers that only need a go/no-go with a readable reason.
func (r ValidationResult) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, 0, len(errs))
	for _, is := range errs {
		lines = append(lines, is.String())
	}
	return fmt.Errorf("bundle is invalid (%d error(s)):\n  %s", len(errs), strings.Join(lines, "\n  "))
}

func simpleKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// joinKey appends a mapping key to a path: a.b for plain keys, a["odd key"] for anything else, so a hostile key
// cannot forge a path.
func joinKey(prefix, key string) string {
	if simpleKey(key) {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	return prefix + "[" + strconv.Quote(key) + "]"
}

func joinIndex(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }

// lookupLine finds the line recorded for path, falling back to its closest recorded parent.
func lookupLine(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

func parentPath(p string) string {
	// Strip the last segment: ".key", "[n]" or ["key"].
	if strings.HasSuffix(p, "]") {
		depth := 0
		inQuote := false
		for i := len(p) - 1; i >= 0; i-- {
			c := p[i]
			switch {
			case c == '"' && (i == 0 || p[i-1] != '\\'):
				inQuote = !inQuote
			case inQuote:
			case c == ']':
				depth++
			case c == '[':
				depth--
				if depth == 0 {
					return p[:i]
				}
			}
		}
		return ""
	}
	if i := strings.LastIndexAny(p, ".]"); i >= 0 {
		if p[i] == ']' {
			return p[:i+1]
		}
		return p[:i]
	}
	return ""
}

// recordLines stores the line of every value under n, keyed by its path relative to the document root.
func recordLines(n *node, path string, lines map[string]int) {
	if _, ok := lines[path]; !ok {
		lines[path] = n.line
	}
	switch n.kind {
	case kindMap:
		for _, p := range n.pairs {
			sub := joinKey(path, p.key)
			lines[sub] = p.line
			recordLines(p.val, sub, lines)
		}
	case kindSeq:
		for i, it := range n.items {
			recordLines(it, joinIndex(path, i), lines)
		}
	}
}

// sortIssues orders issues by file, line and path so output is stable across runs.
func sortIssues(list []Issue) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Path < b.Path
	})
}
