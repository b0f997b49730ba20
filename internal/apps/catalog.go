package apps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Catalog is a folder of app folders (each with an app.yaml). One app may appear in several versions.
type Catalog struct {
	Dir  string
	apps map[string][]*App // by name, highest version first
}

// CycleError is a dependency cycle among catalog apps.
type CycleError struct{ Cycle []string }

func (e *CycleError) Error() string { return "dependency cycle: " + strings.Join(e.Cycle, " → ") }

// MissingDependencyError is a dependency the catalog cannot satisfy, with the chain that needs it.
type MissingDependencyError struct {
	Chain      []string // root → … → the missing app
	Constraint string
	Reason     string
}

func (e *MissingDependencyError) Error() string {
	return fmt.Sprintf("dependency_missing: %s: %s", strings.Join(e.Chain, " → "), e.Reason)
}

// LoadCatalog loads every app folder directly under dir. Any invalid app, two folders with the same name and
// version, or a dependency cycle among the catalog's apps is an error that names the folder or the cycle.
func LoadCatalog(dir string) (*Catalog, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", dir, err)
	}
	c := &Catalog{Dir: dir, apps: map[string][]*App{}}
	var problems []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, "app.yaml")); err != nil {
			continue
		}
		app, res, err := Load(sub)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !res.Valid {
			problems = append(problems, FormatIssues(sub, res))
			continue
		}
		for _, other := range c.apps[app.Manifest.Name] {
			if CompareVersions(other.Manifest.Version, app.Manifest.Version) == 0 {
				problems = append(problems, fmt.Sprintf("catalog %s: %s and %s both hold app %s %s", dir, other.Dir, sub, app.Manifest.Name, app.Manifest.Version))
			}
		}
		c.apps[app.Manifest.Name] = append(c.apps[app.Manifest.Name], app)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: catalog %s:\n%s", ErrInvalidApp, dir, strings.Join(problems, "\n"))
	}
	for _, list := range c.apps {
		sort.Slice(list, func(i, j int) bool { return CompareVersions(list[i].Manifest.Version, list[j].Manifest.Version) > 0 })
	}
	if cyc := c.findCycle(); cyc != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, cyc)
	}
	return c, nil
}

// NewCatalog builds a catalog from apps already loaded (for callers that load apps themselves).
func NewCatalog(apps ...*App) (*Catalog, error) {
	c := &Catalog{apps: map[string][]*App{}}
	for _, a := range apps {
		c.apps[a.Manifest.Name] = append(c.apps[a.Manifest.Name], a)
	}
	for _, list := range c.apps {
		sort.Slice(list, func(i, j int) bool { return CompareVersions(list[i].Manifest.Version, list[j].Manifest.Version) > 0 })
	}
	if cyc := c.findCycle(); cyc != nil {
		return nil, cyc
	}
	return c, nil
}

// Names lists the catalog's app names, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.apps))
	for n := range c.apps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Versions lists the versions of app name, highest first.
func (c *Catalog) Versions(name string) []*App { return append([]*App(nil), c.apps[name]...) }

// Get returns the highest version of app name that satisfies constraint ("" = any).
func (c *Catalog) Get(name, constraint string) (*App, bool) {
	if c == nil {
		return nil, false
	}
	cons, err := ParseConstraint(constraint)
	if err != nil {
		return nil, false
	}
	for _, a := range c.apps[name] {
		if cons.Allows(a.Manifest.Version) {
			return a, true
		}
	}
	return nil, false
}

// findCycle looks for a cycle in the name graph (an edge for every dependency of every version).
func (c *Catalog) findCycle() *CycleError {
	edges := map[string][]string{}
	for name, list := range c.apps {
		set := map[string]bool{}
		for _, a := range list {
			for _, d := range a.Manifest.Dependencies {
				if _, known := c.apps[d.Name]; known && !set[d.Name] {
					set[d.Name] = true
					edges[name] = append(edges[name], d.Name)
				}
			}
		}
		sort.Strings(edges[name])
	}
	state := map[string]int{}
	var stack []string
	var found *CycleError
	var visit func(n string)
	visit = func(n string) {
		if found != nil {
			return
		}
		state[n] = 1
		stack = append(stack, n)
		for _, m := range edges[n] {
			if found != nil {
				return
			}
			switch state[m] {
			case 1:
				i := indexOf(stack, m)
				found = &CycleError{Cycle: append(append([]string{}, stack[i:]...), m)}
				return
			case 0:
				visit(m)
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
	}
	for _, n := range c.Names() {
		if state[n] == 0 {
			visit(n)
		}
	}
	return found
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Resolve returns app name (its highest version) and everything it needs, dependencies first: the order to install
// them in. A dependency the catalog cannot satisfy is a *MissingDependencyError naming the chain; a cycle is a
// *CycleError naming it ("dependency cycle: a → b → c → a").
func (c *Catalog) Resolve(name string) ([]*App, error) {
	return c.ResolveVersion(name, "")
}

// ResolveVersion is Resolve for the highest version of name satisfying constraint.
func (c *Catalog) ResolveVersion(name, constraint string) ([]*App, error) {
	root, ok := c.Get(name, constraint)
	if !ok {
		reason := "not in the catalog"
		if len(c.apps[name]) > 0 {
			reason = fmt.Sprintf("no version satisfies %q", constraint)
		}
		return nil, &MissingDependencyError{Chain: []string{name}, Constraint: constraint, Reason: reason}
	}
	chosen := map[string]*App{}
	var order []*App
	var visit func(a *App, chain []string) error
	visit = func(a *App, chain []string) error {
		chain = append(append([]string{}, chain...), a.Manifest.Name)
		chosen[a.Manifest.Name] = a
		for _, d := range a.Manifest.Dependencies {
			if i := indexOf(chain, d.Name); i >= 0 {
				return &CycleError{Cycle: append(append([]string{}, chain[i:]...), d.Name)}
			}
			cons, err := ParseConstraint(d.Version)
			if err != nil {
				return &MissingDependencyError{Chain: append(chain, d.Name), Constraint: d.Version, Reason: err.Error()}
			}
			if prev, ok := chosen[d.Name]; ok {
				if !cons.Allows(prev.Manifest.Version) {
					return &MissingDependencyError{Chain: append(chain, d.Name), Constraint: d.Version,
						Reason: fmt.Sprintf("%s needs %s %s, but %s %s was already chosen for another dependent", a.Manifest.Name, d.Name, d.Version, d.Name, prev.Manifest.Version)}
				}
				continue
			}
			dep, ok := c.Get(d.Name, d.Version)
			if !ok {
				reason := fmt.Sprintf("%s is not in the catalog", d.Describe())
				if vs := c.apps[d.Name]; len(vs) > 0 {
					reason = fmt.Sprintf("no catalog version of %s satisfies %s (have %s)", d.Name, d.Version, versionList(vs))
				}
				return &MissingDependencyError{Chain: append(chain, d.Name), Constraint: d.Version, Reason: reason}
			}
			if err := visit(dep, chain); err != nil {
				return err
			}
		}
		order = append(order, a)
		return nil
	}
	if err := visit(root, nil); err != nil {
		return nil, err
	}
	return order, nil
}

func versionList(apps []*App) string {
	vs := make([]string, len(apps))
	for i, a := range apps {
		vs[i] = a.Manifest.Version
	}
	return strings.Join(vs, ", ")
}

// IsCycle reports whether err is (or wraps) a dependency cycle.
func IsCycle(err error) bool {
	var ce *CycleError
	return errors.As(err, &ce)
}

// ResolveFor returns the dependencies of app (which need not be in the catalog), dependencies first, without app
// itself: the apps to install before it.
func (c *Catalog) ResolveFor(app *App) ([]*App, error) {
	tmp := &Catalog{Dir: c.Dir, apps: map[string][]*App{}}
	for n, list := range c.apps {
		for _, a := range list {
			if n == app.Manifest.Name && CompareVersions(a.Manifest.Version, app.Manifest.Version) == 0 {
				continue
			}
			tmp.apps[n] = append(tmp.apps[n], a)
		}
	}
	tmp.apps[app.Manifest.Name] = append([]*App{app}, tmp.apps[app.Manifest.Name]...)
	order, err := tmp.ResolveVersion(app.Manifest.Name, "="+app.Manifest.Version)
	if err != nil {
		return nil, err
	}
	return order[:len(order)-1], nil
}
