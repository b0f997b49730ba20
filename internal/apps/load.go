package apps

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// ManifestFile is the app manifest's file name inside an app folder.
const ManifestFile = "app.yaml"

// CodeSelfDependency is the issue code of an app that lists itself as a dependency.
const CodeSelfDependency = "self_dependency"

var namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Load reads an app folder: app.yaml plus objects/*.yaml and the optional views/, flows/ and seed/ folders.
// Content problems become issues of the returned ValidationResult (file, path inside it, rule broken); the error is
// only for I/O failures. An app with Valid=false must not be installed.
func Load(dir string) (*App, bundle.ValidationResult, error) {
	manPath := filepath.Join(dir, ManifestFile)
	v := &validator{file: displayPath(dir, manPath)}
	app := &App{Dir: dir}
	data, linkOut, err := readManifest(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, bundle.ValidationResult{}, fmt.Errorf("load app %s: no %s in the folder: %w", dir, ManifestFile, os.ErrNotExist)
		}
		return nil, bundle.ValidationResult{}, fmt.Errorf("load app %s: %w", dir, err)
	}
	if linkOut {
		v.add("", 0, bundle.CodeUnsafeLink, "%s is a symbolic link that leads outside the app folder (or nowhere); not read", ManifestFile)
		app.invalid = fmt.Errorf("%w: %s", ErrInvalidApp, FormatIssues(dir, v.result()))
		return app, v.result(), nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		v.add("", 0, bundle.CodeParseError, "%s is not valid YAML: %s", ManifestFile, bundle.ParseErrorMessage(err))
		app.invalid = fmt.Errorf("%w: %s", ErrInvalidApp, FormatIssues(dir, v.result()))
		return app, v.result(), nil
	}
	v.root = &root
	v.unknownKeys()
	if err := root.Decode(&app.Manifest); err != nil {
		// The decoder quotes the offending value; the file may be anything (see bundle.ParseErrorMessage).
		v.add("", 0, bundle.CodeParseError, "%s: %s", ManifestFile, bundle.ParseErrorMessage(err))
		app.invalid = fmt.Errorf("%w: %s", ErrInvalidApp, FormatIssues(dir, v.result()))
		return app, v.result(), nil
	}

	parts, partsRes, err := bundle.LoadParts(dir)
	if err != nil {
		return nil, bundle.ValidationResult{}, fmt.Errorf("load app %s: %w", dir, err)
	}
	app.Objects = parts.Objects
	app.Datasets = parts.SeedData
	app.Views = parts.Views
	app.Flows = parts.Flows
	v.recordFiles = parts.RecordFiles
	app.Manifest.HasSeedData = len(app.Datasets) > 0
	for _, l := range []*[]string{&app.Manifest.Objects, &app.Manifest.Views, &app.Manifest.Flows} {
		if *l == nil {
			*l = []string{}
		}
	}
	if app.Manifest.Dependencies == nil {
		app.Manifest.Dependencies = []Dependency{}
	}

	v.manifest(&app.Manifest)
	rules := bundle.ValidateParts(parts, bundle.Context{})
	partsIssues := append(append([]bundle.Issue{}, partsRes.Issues...), rules.Issues...)
	if len(app.Manifest.Dependencies) > 0 {
		// Lookups may point at objects of the app's dependencies, which are not in this folder; Check verifies
		// them against the tenant instead.
		for i, is := range partsIssues {
			if is.Code == bundle.CodeDanglingReference && strings.HasPrefix(is.Path, "objects.") && is.Severity == bundle.SeverityError {
				partsIssues[i].Severity = bundle.SeverityWarning
				partsIssues[i].Message += " (an object of a dependency is accepted; checked at install)"
			}
		}
	}
	v.issues = append(v.issues, partsIssues...)
	v.contents(app)
	v.seeds(app, partsIssues)
	app.Checksum = checksum(app)
	res := v.result()
	if !res.Valid {
		app.invalid = fmt.Errorf("%w: %s", ErrInvalidApp, FormatIssues(dir, res))
	}
	return app, res, nil
}

type validator struct {
	file        string
	recordFiles map[string]string
	root        *yaml.Node
	issues      []bundle.Issue
}

func (v *validator) add(path string, line int, code, format string, a ...any) {
	if line == 0 {
		line = v.line(path)
	}
	v.issues = append(v.issues, bundle.Issue{Severity: bundle.SeverityError, Path: path, Message: fmt.Sprintf(format, a...), Code: code, File: v.file, Line: line})
}

func (v *validator) addAt(file string, line int, path, code, format string, a ...any) {
	v.issues = append(v.issues, bundle.Issue{Severity: bundle.SeverityError, Path: path, Message: fmt.Sprintf(format, a...), Code: code, File: file, Line: line})
}

// readManifest reads app.yaml through an os.Root of the app folder, so a link that leads outside it is
// never followed; linkOut reports such a link (the content is not read).
func readManifest(dir string) (data []byte, linkOut bool, err error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	fi, err := r.Lstat(ManifestFile)
	if err != nil {
		return nil, false, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if _, err := r.Stat(ManifestFile); err != nil {
			return nil, true, nil
		}
	}
	data, err = r.ReadFile(ManifestFile)
	return data, false, err
}

// line finds the line of a dotted path ("dependencies[1].version") in app.yaml, or of its closest parent.
func (v *validator) line(path string) int {
	if v.root == nil || len(v.root.Content) == 0 {
		return 0
	}
	n := v.root.Content[0]
	best := n.Line
	for _, seg := range splitPath(path) {
		var next *yaml.Node
		if seg.index >= 0 {
			if n.Kind == yaml.SequenceNode && seg.index < len(n.Content) {
				next = n.Content[seg.index]
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.key {
					next = n.Content[i+1]
					best = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return best
		}
		n = next
		if seg.index >= 0 {
			best = n.Line
		}
	}
	return best
}

type pathSeg struct {
	key   string
	index int
}

func splitPath(p string) []pathSeg {
	var out []pathSeg
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			continue
		}
		for {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, pathSeg{key: part, index: -1})
				break
			}
			if i > 0 {
				out = append(out, pathSeg{key: part[:i], index: -1})
			}
			j := strings.IndexByte(part, ']')
			if j < i {
				break
			}
			var n int
			_, _ = fmt.Sscanf(part[i+1:j], "%d", &n)
			out = append(out, pathSeg{index: n})
			part = part[j+1:]
			if part == "" {
				break
			}
		}
	}
	return out
}

// manifestKeys are the keys app.yaml may hold.
var manifestKeys = map[string]bool{"name": true, "label": true, "version": true, "description": true, "minKernelVersion": true,
	"objects": true, "views": true, "flows": true, "dependencies": true, "config": true}

// unknownKeys warns about app.yaml keys the format does not define (the protocol drops them; a typo should not
// pass silently), and about hasSeedData/seedData, which come from the seed/ folder instead.
func (v *validator) unknownKeys() {
	if len(v.root.Content) == 0 || v.root.Content[0].Kind != yaml.MappingNode {
		return
	}
	n := v.root.Content[0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case manifestKeys[k.Value]:
		case k.Value == "hasSeedData" || k.Value == "seedData":
			v.issues = append(v.issues, bundle.Issue{Severity: bundle.SeverityWarning, Code: bundle.CodeIgnoredSetting, Path: k.Value, File: v.file, Line: k.Line,
				Message: fmt.Sprintf("%s is ignored: seed data lives in seed/*.yaml datasets and hasSeedData is derived from them", k.Value)})
		default:
			v.issues = append(v.issues, bundle.Issue{Severity: bundle.SeverityWarning, Code: bundle.CodeUnknownKey, Path: k.Value, File: v.file, Line: k.Line,
				Message: fmt.Sprintf("unknown key %q in %s (ignored)", k.Value, ManifestFile)})
		}
	}
}

func (v *validator) result() bundle.ValidationResult { return bundle.Result(v.issues) }

func (v *validator) manifest(m *Manifest) {
	switch {
	case m.Name == "":
		v.add("name", 0, bundle.CodeMissingRequired, "name is required")
	case !namePattern.MatchString(m.Name):
		v.add("name", 0, bundle.CodeInvalidIdentifier, "name %q must match ^[a-z_][a-z0-9_]*$", m.Name)
	}
	if strings.TrimSpace(m.Label) == "" {
		v.add("label", 0, bundle.CodeMissingRequired, "label is required")
	}
	switch {
	case m.Version == "":
		v.add("version", 0, bundle.CodeMissingRequired, "version is required")
	case !bundle.ValidVersion(m.Version):
		v.add("version", 0, bundle.CodeInvalidVersion, "version %q is not a semantic version (e.g. 1.2.0)", m.Version)
	}
	if m.MinKernelVersion != "" && !bundle.ValidVersion(m.MinKernelVersion) {
		v.add("minKernelVersion", 0, bundle.CodeInvalidVersion, "minKernelVersion %q is not a semantic version", m.MinKernelVersion)
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"objects", m.Objects}, {"views", m.Views}, {"flows", m.Flows}} {
		seen := map[string]int{}
		for i, n := range list.names {
			p := fmt.Sprintf("%s[%d]", list.key, i)
			if !namePattern.MatchString(n) {
				v.add(p, 0, bundle.CodeInvalidIdentifier, "%s name %q must match ^[a-z_][a-z0-9_]*$", strings.TrimSuffix(list.key, "s"), n)
			}
			if j, dup := seen[n]; dup {
				v.add(p, 0, bundle.CodeDuplicateName, "%q is listed twice (also %s[%d])", n, list.key, j)
			}
			seen[n] = i
		}
	}
	seenDep := map[string]bool{}
	for i, d := range m.Dependencies {
		p := fmt.Sprintf("dependencies[%d]", i)
		if !namePattern.MatchString(d.Name) {
			v.add(p, 0, bundle.CodeInvalidIdentifier, "dependency name %q must match ^[a-z_][a-z0-9_]*$", d.Name)
		}
		if d.Name == m.Name && d.Name != "" {
			v.add(p, 0, CodeSelfDependency, "app %s cannot depend on itself", m.Name)
		}
		if seenDep[d.Name] {
			v.add(p, 0, bundle.CodeDuplicateName, "dependency %s is listed twice", d.Name)
		}
		seenDep[d.Name] = true
		if _, err := ParseConstraint(d.Version); err != nil {
			v.add(p, 0, bundle.CodeInvalidVersion, "%v", err)
		}
	}
	keys := make([]string, 0, len(m.Config))
	for k := range m.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := m.Config[k]
		p := "config." + k
		if !namePattern.MatchString(k) {
			v.add(p, 0, bundle.CodeInvalidIdentifier, "config key %q must match ^[a-z_][a-z0-9_]*$", k)
		}
		switch c.Type {
		case ConfigString, ConfigNumber, ConfigBoolean:
		default:
			v.add(p+".type", 0, bundle.CodeInvalidEnum, "config key %q has type %q; want string, number or boolean", k, c.Type)
			continue
		}
		for i, e := range c.Enum {
			if msg := (ConfigDecl{Type: c.Type}).checkValue(e); msg != "" {
				v.add(fmt.Sprintf("%s.enum[%d]", p, i), 0, bundle.CodeInvalidValue, "enum value of config key %q %s", k, msg)
			}
		}
		if c.Default != nil {
			if msg := c.checkValue(c.Default); msg != "" {
				v.add(p+".default", 0, bundle.CodeInvalidDefault, "default of config key %q %s", k, msg)
			}
		}
	}
}

// contents checks that the manifest's object, view and flow lists match what the folder defines, both ways.
func (v *validator) contents(app *App) {
	listed := map[string]int{}
	for i, n := range app.Manifest.Objects {
		listed[n] = i
	}
	defined := map[string]bool{}
	for _, o := range app.Objects {
		defined[o.Name] = true
		if _, ok := listed[o.Name]; !ok {
			v.add("objects", 0, bundle.CodeUnlistedContent, "object %s is defined in %s but not listed in %s objects", o.Name, relTo(app.Dir, o.Source), ManifestFile)
			v.addAt(o.Source, 0, "objects."+o.Name, bundle.CodeUnlistedContent, "object %s is not listed in %s objects", o.Name, v.file)
		}
	}
	for i, n := range app.Manifest.Objects {
		if !defined[n] {
			v.add(fmt.Sprintf("objects[%d]", i), 0, bundle.CodeMissingContent, "%s lists object %s, but no file under objects/ defines it", ManifestFile, n)
		}
	}
	v.namedParts("views", app.Manifest.Views, app.Views)
	v.namedParts("flows", app.Manifest.Flows, app.Flows)
}

func (v *validator) namedParts(kind string, listed []string, defs []map[string]any) {
	have := map[string]bool{}
	for i, d := range defs {
		n, _ := d["name"].(string)
		if n == "" {
			key := fmt.Sprintf("%s[%d]", kind, i)
			v.addAt(v.recordFiles[key], 0, key+".name", bundle.CodeMissingRequired, "every %s definition needs a name", strings.TrimSuffix(kind, "s"))
			continue
		}
		have[n] = true
		if !contains(listed, n) {
			v.add(kind, 0, bundle.CodeUnlistedContent, "%s %s is defined under %s/ but not listed in %s %s", strings.TrimSuffix(kind, "s"), n, kind, ManifestFile, kind)
		}
	}
	for i, n := range listed {
		if !have[n] {
			v.add(fmt.Sprintf("%s[%d]", kind, i), 0, bundle.CodeMissingContent, "%s lists %s %s, but nothing under %s/ defines it", ManifestFile, strings.TrimSuffix(kind, "s"), n, kind)
		}
	}
}

// seeds adds what the bundle rules cannot know: a record value this package could not encode for its column
// (reported only where the bundle rules found nothing wrong with that record).
func (v *validator) seeds(app *App, partsIssues []bundle.Issue) {
	reported := func(prefix string) bool {
		for _, is := range partsIssues {
			if is.Severity == bundle.SeverityError && (is.Path == prefix || strings.HasPrefix(is.Path, prefix+".") || strings.HasPrefix(is.Path, prefix+"[")) {
				return true
			}
		}
		return false
	}
	byName := map[string]*bundle.Object{}
	for i := range app.Objects {
		byName[app.Objects[i].Name] = &app.Objects[i]
	}
	for di, ds := range app.Datasets {
		base := fmt.Sprintf("seedData[%d]", di)
		obj, ok := byName[ds.Object]
		if !ok || !contains(validModes, datasetMode(ds)) {
			continue // reported by the bundle rules
		}
		for ri, rec := range ds.Records {
			rel := fmt.Sprintf("records[%d]", ri)
			if reported(base + "." + rel) {
				continue
			}
			if _, err := encodeRecord(obj, rec, datasetExternalID(ds)); err != nil {
				key := firstWord(err.Error())
				v.addAt(ds.Source, ds.Lines[rel+"."+key], base+"."+rel+"."+key, bundle.CodeInvalidRecord, "%v", err)
			}
		}
	}
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ':'); i > 0 {
		return s[:i]
	}
	return s
}

func relTo(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// checksum is the SHA-256 of the app's contents in the bundle package's canonical JSON form, so formatting, key
// order and YAML vs. JSON do not matter.
func checksum(app *App) string {
	m := app.Manifest
	m.HasSeedData = false
	for _, l := range []*[]string{&m.Objects, &m.Views, &m.Flows} {
		*l = append([]string{}, *l...)
		sortStrings(*l)
	}
	seeds := make([]any, 0, len(app.Datasets))
	for _, d := range app.Datasets {
		seeds = append(seeds, map[string]any{"object": d.Object, "externalId": datasetExternalID(d), "mode": datasetMode(d), "env": d.Env, "records": d.Records})
	}
	content := map[string]any{
		"manifest": m,
		"objects":  bundle.ObjectsChecksum(app.Objects),
		"views":    app.Views,
		"flows":    app.Flows,
		"seed":     seeds,
	}
	b, err := bundle.CanonicalJSON(content)
	if err != nil {
		b = []byte("unencodable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FormatIssues renders a validation result as one line per issue.
func FormatIssues(dir string, res bundle.ValidationResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "app %s is invalid (%d error(s)):", dir, res.ErrorCount)
	for _, is := range res.Issues {
		if is.Severity != bundle.SeverityError {
			continue
		}
		loc := is.File
		if is.Line > 0 {
			loc = fmt.Sprintf("%s:%d", loc, is.Line)
		}
		fmt.Fprintf(&b, "\n  %s: %s: %s", loc, is.Path, is.Message)
	}
	return b.String()
}

// displayPath shows path relative to the app folder's parent ("helpdesk/app.yaml"), as the bundle loader does.
func displayPath(dir, path string) string {
	base := filepath.Dir(filepath.Clean(dir))
	if r, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(path)
}
