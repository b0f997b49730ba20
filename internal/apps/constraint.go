package apps

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Constraint is a version constraint on a dependency: comparators separated by spaces, all of which must hold.
//
//	=1.2.3  1.2.3   exactly that version
//	>1.2.3  >=1.2.3  <2.0.0  <=2.0.0
//	^1.2.3          >=1.2.3 <2.0.0  (^0.2.3 → <0.3.0, ^0.0.3 → <0.0.4: the left-most non-zero part is fixed)
//	~1.2.3          >=1.2.3 <1.3.0  (~1 → <2.0.0)
//	*  or empty     any version
//
// Versions may be written with or without a leading "v"; "1.2" means "1.2.0".
type Constraint struct {
	raw   string
	terms []term
}

type term struct {
	op      string // one of = > >= < <=
	version string // canonical, with the leading v
}

// ParseConstraint parses s (see Constraint). The error names the comparator that is wrong.
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{raw: strings.TrimSpace(s)}
	for _, f := range strings.Fields(s) {
		if f == "*" || f == "x" {
			continue
		}
		op := ""
		for _, p := range []string{">=", "<=", ">", "<", "=", "^", "~"} {
			if strings.HasPrefix(f, p) {
				op = p
				break
			}
		}
		vs := strings.TrimSpace(f[len(op):])
		v, parts, ok := canonicalVersion(vs)
		if !ok {
			return Constraint{}, fmt.Errorf("version constraint %q: %q is not a semantic version (comparators: = > >= < <= ^ ~)", s, f)
		}
		switch op {
		case "", "=":
			c.terms = append(c.terms, term{"=", v})
		case "^":
			c.terms = append(c.terms, term{">=", v}, term{"<", caretUpper(v)})
		case "~":
			c.terms = append(c.terms, term{">=", v}, term{"<", tildeUpper(v, parts)})
		case "<":
			// "<2.0.0" means below the 2.0.0 line, so its pre-releases (2.0.0-rc.1 < 2.0.0) are excluded too.
			if semver.Prerelease(v) == "" {
				v += "-0"
			}
			c.terms = append(c.terms, term{op, v})
		default:
			c.terms = append(c.terms, term{op, v})
		}
	}
	return c, nil
}

// String returns the constraint as written.
func (c Constraint) String() string { return c.raw }

// Any reports whether the constraint accepts every version.
func (c Constraint) Any() bool { return len(c.terms) == 0 }

// Allows reports whether version satisfies every comparator. An invalid version satisfies nothing.
func (c Constraint) Allows(version string) bool {
	v, _, ok := canonicalVersion(version)
	if !ok {
		return false
	}
	for _, t := range c.terms {
		cmp := semver.Compare(v, t.version)
		var hold bool
		switch t.op {
		case "=":
			hold = cmp == 0
		case ">":
			hold = cmp > 0
		case ">=":
			hold = cmp >= 0
		case "<":
			hold = cmp < 0
		case "<=":
			hold = cmp <= 0
		}
		if !hold {
			return false
		}
	}
	return true
}

// canonicalVersion turns "1.2", "v1.2.3-rc.1" into the full "v1.2.3"-style form semver compares, and reports how many
// numeric parts the author wrote (for ~).
func canonicalVersion(s string) (string, int, bool) {
	if s == "" {
		return "", 0, false
	}
	if s[0] != 'v' {
		s = "v" + s
	}
	if !semver.IsValid(s) {
		return "", 0, false
	}
	core := strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	return semver.Canonical(s), strings.Count(core, ".") + 1, true
}

// CompareVersions compares two semantic versions (with or without a leading v): -1, 0 or +1.
// An invalid version sorts before every valid one.
func CompareVersions(a, b string) int {
	ca, _, _ := canonicalVersion(a)
	cb, _, _ := canonicalVersion(b)
	return semver.Compare(ca, cb)
}

// ValidVersion reports whether s is a semantic version (a leading v is optional).
func ValidVersion(s string) bool {
	_, _, ok := canonicalVersion(s)
	return ok
}

func versionParts(v string) (major, minor, patch int) {
	core := strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	_, _ = fmt.Sscanf(core, "%d.%d.%d", &major, &minor, &patch)
	return
}

func caretUpper(v string) string {
	ma, mi, pa := versionParts(v)
	switch {
	case ma > 0:
		return fmt.Sprintf("v%d.0.0-0", ma+1)
	case mi > 0:
		return fmt.Sprintf("v0.%d.0-0", mi+1)
	default:
		return fmt.Sprintf("v0.0.%d-0", pa+1)
	}
}

func tildeUpper(v string, parts int) string {
	ma, mi, _ := versionParts(v)
	if parts == 1 {
		return fmt.Sprintf("v%d.0.0-0", ma+1)
	}
	return fmt.Sprintf("v%d.%d.0-0", ma, mi+1)
}
