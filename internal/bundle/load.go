package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Size limits of a bundle on disk. Files are checked before they are read, so a hostile bundle cannot make the
// loader allocate more than MaxFileSize at a time or MaxTotalSize in all.
const (
	MaxFileSize  = 4 << 20  // one file
	MaxTotalSize = 64 << 20 // all files of one bundle or app
	MaxFiles     = 10_000   // all files of one bundle or app
)

// The limits in force; tests lower them to exercise the caps without writing 64 MiB.
var (
	limitTotalSize int64 = MaxTotalSize
	limitFiles           = MaxFiles
)

// Parts is the content of a bundle or app folder without its manifest: objects/, views/, flows/, permissions/
// and seed/. internal/apps loads apps (app.yaml + these folders) through LoadParts.
type Parts struct {
	Objects     []Object
	Views       []map[string]any
	Flows       []map[string]any
	Permissions []map[string]any
	SeedData    []Dataset
	Dir         string
	// RecordFiles maps "views[0]", "flows[1]", "permissions[2]" and "seedData[3]" to the file each came from.
	RecordFiles map[string]string
	brokenDirs  map[string]int
}

// Content folders in load order.
const (
	dirObjects     = "objects"
	dirViews       = "views"
	dirFlows       = "flows"
	dirPermissions = "permissions"
	dirSeed        = "seed"
)

// loader reads files under one root, enforcing the size limits across all of them. Every file and folder
// is opened through an os.Root, so a symbolic link that leads outside the bundle or app folder is refused
// by the operating system's own path resolution (as the Git source skips links): `objectstack plan` on a
// pull request's checkout must not read /etc/passwd or a token file because a link in it says so.
type loader struct {
	root  string
	fsys  *os.Root // nil until begin
	total int64
	files int
	out   issues
	// stopped is set once the bundle-wide limits are hit; further files are not read.
	stopped bool
}

// begin opens the root; the caller must call end.
func (l *loader) begin() error {
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return fmt.Errorf("open bundle folder: %w", err)
	}
	l.fsys = r
	return nil
}

func (l *loader) end() {
	if l.fsys != nil {
		l.fsys.Close()
	}
}

// inRoot is path relative to the root, as os.Root wants it.
func (l *loader) inRoot(path string) string {
	if r, err := filepath.Rel(l.root, path); err == nil {
		return r
	}
	return path
}

// escapes reports whether path is a symbolic link that cannot be followed inside the root (it leads out of
// the folder, or nowhere); it records the refusal as an issue naming the path and nothing it points at.
func (l *loader) escapes(path string) bool {
	rel := l.inRoot(path)
	fi, err := l.fsys.Lstat(rel)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	if _, err := l.fsys.Stat(rel); err == nil {
		return false
	}
	l.out.errorf(CodeUnsafeLink, "", l.display(path), 0, "symbolic link leads outside the folder (or nowhere); not read")
	return true
}

// rel is the path shown in issues: relative to the bundle folder's parent, so "crm/objects/account.yaml".
func (l *loader) display(path string) string {
	base := filepath.Dir(filepath.Clean(l.root))
	if r, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(path)
}

// read returns the file's bytes, or nil with an issue when a limit is exceeded. The error is I/O only.
func (l *loader) read(path string) ([]byte, error) {
	shown := l.display(path)
	if l.stopped {
		return nil, nil
	}
	l.files++
	if l.files > limitFiles {
		l.out.errorf(CodeTooLarge, "", shown, 0, "bundle holds more than %d files; the rest are not read", limitFiles)
		l.stopped = true
		return nil, nil
	}
	if l.escapes(path) {
		return nil, nil
	}
	// Stat before Open: opening a FIFO or device would block or never end.
	st, err := l.fsys.Stat(l.inRoot(path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", shown, err)
	}
	if !st.Mode().IsRegular() {
		l.out.warnf(CodeIgnoredFile, "", shown, 0, "not a regular file; ignored")
		return nil, nil
	}
	if st.Size() > MaxFileSize {
		l.out.errorf(CodeFileTooLarge, "", shown, 0, "file is %d bytes; the limit is %d bytes (4 MiB)", st.Size(), MaxFileSize)
		return nil, nil
	}
	if l.total+st.Size() > limitTotalSize {
		l.out.errorf(CodeTooLarge, "", shown, 0, "bundle exceeds %d bytes in total; the rest is not read", limitTotalSize)
		l.stopped = true
		return nil, nil
	}
	f, err := l.fsys.Open(l.inRoot(path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", shown, err)
	}
	defer f.Close()
	// The limit reader guards against a file that grows (or is swapped) between Stat and Read.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", shown, err)
	}
	if len(data) > MaxFileSize {
		l.out.errorf(CodeFileTooLarge, "", shown, 0, "file is larger than %d bytes (4 MiB)", MaxFileSize)
		return nil, nil
	}
	l.total += int64(len(data))
	return data, nil
}

func (l *loader) parse(path string) (*node, string, error) {
	shown := l.display(path)
	data, err := l.read(path)
	if err != nil || data == nil {
		return nil, shown, err
	}
	root, perr := parseDocument(path, data)
	if perr != nil {
		l.out.errorf(perr.code, "", shown, perr.line, "%s", perr.msg)
		return nil, shown, nil
	}
	return root, shown, nil
}

func isDocument(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// listDir returns the document files of dir in name order. A missing folder is simply empty.
func (l *loader) listDir(dir string) ([]string, error) {
	if l.escapes(dir) {
		return nil, nil
	}
	entries, err := fs.ReadDir(l.fsys.FS(), filepath.ToSlash(l.inRoot(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.display(dir), err)
	}
	if len(entries) > limitFiles {
		l.out.errorf(CodeTooLarge, "", l.display(dir), 0, "folder holds %d entries; the limit is %d", len(entries), limitFiles)
		l.stopped = true
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(dir, name)
		if e.IsDir() {
			l.out.warnf(CodeIgnoredFile, "", l.display(full), 0, "sub-folders are not read; put definitions directly in %s", filepath.Base(dir))
			continue
		}
		if !isDocument(name) {
			l.out.warnf(CodeIgnoredFile, "", l.display(full), 0, "only .yaml, .yml and .json files are read")
			continue
		}
		out = append(out, full)
	}
	sort.Strings(out)
	return out, nil
}

// eachDocument parses the documents of dir in name order and hands each one that parses to use. It returns how
// many could not be parsed at all (the parse error is already an issue), so that the manifest check can tell an
// unreadable file from a missing one.
func (l *loader) eachDocument(dir string, use func(root *node, shown string)) (broken int, err error) {
	files, err := l.listDir(dir)
	if err != nil {
		return 0, err
	}
	for _, f := range files {
		root, shown, err := l.parse(f)
		if err != nil {
			return broken, err
		}
		if root == nil {
			broken++
			continue
		}
		use(root, shown)
	}
	return broken, nil
}

// documentItems is what one record or seed file holds: a single mapping, or a list of them.
func documentItems(root *node) []*node {
	if root.kind == kindSeq {
		return root.items
	}
	return []*node{root}
}

// LoadParts reads the content folders of dir (objects/, views/, flows/, permissions/, seed/) without requiring a
// manifest. The result holds decode problems only (parse errors, wrong types, unknown keys, limits); run
// ValidateParts for the rules. The error is for I/O failures only.
func LoadParts(dir string) (*Parts, ValidationResult, error) {
	l := &loader{root: dir}
	if err := l.begin(); err != nil {
		return nil, ValidationResult{}, err
	}
	defer l.end()
	p, err := l.loadParts(dir)
	if err != nil {
		return nil, ValidationResult{}, err
	}
	return p, Result(l.out.all()), nil
}

func (l *loader) loadParts(dir string) (*Parts, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open bundle folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open bundle folder: %s is not a folder", dir)
	}
	p := &Parts{Dir: dir, RecordFiles: map[string]string{}, brokenDirs: map[string]int{}}

	broken, err := l.eachDocument(filepath.Join(dir, dirObjects), func(root *node, shown string) {
		i := len(p.Objects)
		p.Objects = append(p.Objects, Object{})
		if !decodeObject(&p.Objects[i], root, shown, i, &l.out) {
			p.Objects = p.Objects[:i]
			p.brokenDirs[dirObjects]++
		}
	})
	if err != nil {
		return nil, err
	}
	p.brokenDirs[dirObjects] += broken

	for _, rd := range []struct {
		dir  string
		path string
		dst  *[]map[string]any
	}{
		{dirViews, "views", &p.Views},
		{dirFlows, "flows", &p.Flows},
		{dirPermissions, "permissions", &p.Permissions},
	} {
		broken, err := l.eachDocument(filepath.Join(dir, rd.dir), func(root *node, shown string) {
			for _, it := range documentItems(root) {
				key := joinIndex(rd.path, len(*rd.dst))
				if it.kind != kindMap {
					l.out.errorf(CodeInvalidType, key, shown, it.line, "must be a mapping (one %s record), got %s", strings.TrimSuffix(rd.path, "s"), it.kind)
					p.brokenDirs[rd.dir]++
					continue
				}
				p.RecordFiles[key] = shown
				*rd.dst = append(*rd.dst, it.plain().(map[string]any))
			}
		})
		if err != nil {
			return nil, err
		}
		p.brokenDirs[rd.dir] += broken
	}

	// A seed file that does not parse is not counted as broken: the manifest lists no datasets to excuse.
	_, err = l.eachDocument(filepath.Join(dir, dirSeed), func(root *node, shown string) {
		for _, it := range documentItems(root) {
			i := len(p.SeedData)
			key := joinIndex("seedData", i)
			p.SeedData = append(p.SeedData, Dataset{})
			if !decodeDataset(&p.SeedData[i], it, shown, key, &l.out) {
				p.SeedData = p.SeedData[:i]
				continue
			}
			p.RecordFiles[key] = shown
		}
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Manifest file names, in the order they are looked for.
var manifestNames = []string{"bundle.yaml", "bundle.yml", "bundle.json"}

// Load reads a bundle folder (bundle.yaml or bundle.json plus the content folders), validates it and computes its
// checksum. Content problems are issues in the result; the error is for I/O failures only. The bundle is returned
// whenever the error is nil, even when the result is invalid, so callers can still show what was read.
func Load(dir string) (*Bundle, ValidationResult, error) {
	return LoadWith(dir, Context{})
}

// LoadWith is Load with a validation context (objects owned elsewhere that lookups may reference).
func LoadWith(dir string, ctx Context) (*Bundle, ValidationResult, error) {
	l := &loader{root: dir}
	if err := l.begin(); err != nil {
		return nil, ValidationResult{}, err
	}
	defer l.end()
	parts, err := l.loadParts(dir)
	if err != nil {
		return nil, ValidationResult{}, err
	}
	b := &Bundle{
		Objects:     parts.Objects,
		Views:       parts.Views,
		Flows:       parts.Flows,
		Permissions: parts.Permissions,
		SeedData:    parts.SeedData,
		Dir:         dir,
		RecordFiles: parts.RecordFiles,
		brokenDirs:  parts.brokenDirs,
	}
	var found []string
	for _, name := range manifestNames {
		// Lstat: a manifest that is a link leading outside is found here and refused when read.
		if _, err := l.fsys.Lstat(name); err == nil {
			found = append(found, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, ValidationResult{}, fmt.Errorf("read manifest: %w", err)
		}
	}
	switch len(found) {
	case 0:
		l.out.errorf(CodeMissingManifest, "manifest", l.display(filepath.Join(dir, "bundle.yaml")), 0,
			"bundle has no manifest; create bundle.yaml with at least name and version")
	default:
		if len(found) > 1 {
			l.out.errorf(CodeAmbiguousManifest, "manifest", l.display(filepath.Join(dir, found[1])), 0,
				"bundle has both %s and %s; keep one", found[0], found[1])
		}
		root, shown, err := l.parse(filepath.Join(dir, found[0]))
		if err != nil {
			return nil, ValidationResult{}, err
		}
		if root != nil {
			b.Manifest = decodeManifest(root, shown, &l.out)
		} else {
			b.Manifest.Source = shown
			b.brokenDirs["manifest"]++
		}
	}
	b.Checksum = Checksum(b)
	res := Merge(Result(l.out.all()), ValidateWith(b, ctx))
	sortIssues(res.Issues)
	return b, res, nil
}
