package reconciler

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/config"
)

// Repository is one revision of a GitOps repository, fully loaded and validated: objectstack.yaml plus every
// bundle under bundles/ and every app under apps/ (not only the targeted ones: a broken folder anywhere
// makes the revision invalid, so a typo cannot hide until the day it is targeted).
type Repository struct {
	Dir     string
	Config  *config.Config
	Bundles map[string]*bundle.Bundle // by folder name
	Apps    map[string]*apps.App      // by folder name
	// Issues are every error and warning, with File relative to the repository root.
	Issues []bundle.Issue
}

// Valid reports whether the revision may be applied: no error-severity issue anywhere.
func (r *Repository) Valid() bool {
	for _, is := range r.Issues {
		if is.Severity == bundle.SeverityError {
			return false
		}
	}
	return true
}

// Errors returns the error-severity issues.
func (r *Repository) Errors() []bundle.Issue {
	var out []bundle.Issue
	for _, is := range r.Issues {
		if is.Severity == bundle.SeverityError {
			out = append(out, is)
		}
	}
	return out
}

// LoadRepository loads and validates the repository checked out at dir. Content problems are Issues; the
// error is only for I/O failures.
func LoadRepository(dir string) (*Repository, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	repo := &Repository{Dir: dir, Bundles: map[string]*bundle.Bundle{}, Apps: map[string]*apps.App{}}
	cfg, err := config.LoadFile(filepath.Join(dir, config.FileName), config.FileName)
	if err != nil {
		ce, ok := err.(*config.Error)
		if !ok {
			return nil, err
		}
		repo.Issues = append(repo.Issues, ce.Issues...)
	}
	repo.Config = cfg

	bundleDirs, err := subdirs(filepath.Join(dir, "bundles"))
	if err != nil {
		return nil, err
	}
	for _, name := range bundleDirs {
		rel := "bundles/" + name
		b, res, err := bundle.Load(filepath.Join(dir, "bundles", name))
		if err != nil {
			repo.Issues = append(repo.Issues, bundle.Issue{Severity: bundle.SeverityError, File: rel, Code: "load_error",
				Message: relError(err, dir)})
			continue
		}
		repo.Issues = append(repo.Issues, relIssues(res.Issues, dir, rel)...)
		if b != nil && res.Valid {
			if b.Manifest.Name != "" && b.Manifest.Name != name {
				repo.Issues = append(repo.Issues, bundle.Issue{Severity: bundle.SeverityError, File: rel + "/bundle.yaml", Path: "name",
					Code: "name_mismatch", Message: fmt.Sprintf("bundle name %q must match its folder %q", b.Manifest.Name, name)})
				continue
			}
			repo.Bundles[name] = b
		}
	}
	appDirs, err := subdirs(filepath.Join(dir, "apps"))
	if err != nil {
		return nil, err
	}
	for _, name := range appDirs {
		rel := "apps/" + name
		a, res, err := apps.Load(filepath.Join(dir, "apps", name))
		if err != nil {
			repo.Issues = append(repo.Issues, bundle.Issue{Severity: bundle.SeverityError, File: rel, Code: "load_error",
				Message: relError(err, dir)})
			continue
		}
		repo.Issues = append(repo.Issues, relIssues(res.Issues, dir, rel)...)
		if a != nil && res.Valid {
			if a.Manifest.Name != name {
				repo.Issues = append(repo.Issues, bundle.Issue{Severity: bundle.SeverityError, File: rel + "/" + apps.ManifestFile, Path: "name",
					Code: "name_mismatch", Message: fmt.Sprintf("app name %q must match its folder %q", a.Manifest.Name, name)})
				continue
			}
			repo.Apps[name] = a
		}
	}
	if cfg != nil {
		repo.checkReferences(bundleDirs, appDirs)
	}
	return repo, nil
}

// checkReferences reports targets naming bundles or apps the repository does not contain.
func (r *Repository) checkReferences(bundleDirs, appDirs []string) {
	has := func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	for i, t := range r.Config.Targets {
		for j, b := range t.Bundles {
			if !has(bundleDirs, b) {
				r.Issues = append(r.Issues, bundle.Issue{Severity: bundle.SeverityError, File: config.FileName, Line: t.Line,
					Path: fmt.Sprintf("targets[%d].bundles[%d]", i, j), Code: "dangling_reference",
					Message: fmt.Sprintf("there is no folder bundles/%s in the repository", b)})
			}
		}
		for j, a := range t.Apps {
			if !has(appDirs, a.Name) {
				r.Issues = append(r.Issues, bundle.Issue{Severity: bundle.SeverityError, File: config.FileName, Line: t.Line,
					Path: fmt.Sprintf("targets[%d].apps[%d]", i, j), Code: "dangling_reference",
					Message: fmt.Sprintf("there is no folder apps/%s in the repository", a.Name)})
			}
		}
	}
}

func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// relIssues rewrites issue files relative to the repository root, so status names "bundles/crm/objects/x.yaml".
func relIssues(list []bundle.Issue, root, folder string) []bundle.Issue {
	out := make([]bundle.Issue, 0, len(list))
	for _, is := range list {
		switch {
		case is.File == "":
			is.File = folder
		case filepath.IsAbs(is.File):
			if rel, err := filepath.Rel(root, is.File); err == nil && !strings.HasPrefix(rel, "..") {
				is.File = filepath.ToSlash(rel)
			}
		default:
			// The loaders show files relative to the folder's parent ("crm/objects/account.yaml").
			f := filepath.ToSlash(is.File)
			parent, base := path.Split(folder)
			switch {
			case strings.HasPrefix(f, folder+"/"):
			case strings.HasPrefix(f, base+"/") || f == base:
				is.File = parent + f
			default:
				is.File = folder + "/" + f
			}
		}
		out = append(out, is)
	}
	return out
}

func relError(err error, root string) string {
	return strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
}
