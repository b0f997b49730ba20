// Package source owns the reconciler's view of the Git repository: a local mirror under the data folder,
// cheap change detection with ls-remote before any fetch (as Flux does), ref resolution (branch, tag or a
// pinned commit), the revision string "<ref>@sha1:<sha>", a sha256 digest of the deployable tree, and an
// exported checkout of that tree for the loaders. Credentials come from files, the environment or the
// repository URL's user info; those in the URL are taken out of it when the Source is created and kept in
// memory only (as Flux keeps them in a Secret, never in the GitRepository URL), so the URL that is logged,
// stored in the control plane, served by /status and written to the mirror's .git/config has none.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/filelock"
)

// TokenEnv is the environment variable an HTTPS token is read from when no token file is given.
const TokenEnv = "OBJECTSTACK_GIT_TOKEN"

// Options configure a Source. At most one of Branch, Tag, Commit and Revision is set; none means the remote's
// default branch (where its HEAD points; "main" if the server does not say).
type Options struct {
	URL    string // https://, ssh://, git@host:path, file:// or a local path
	Branch string
	Tag    string
	Commit string // a full 40-hex commit id
	// Revision is resolved at fetch time: a branch name, then a tag name, then a commit id (used by `plan --repo`).
	Revision string
	// DataDir holds the mirror (DataDir/reconcile/mirror/<url hash>) and the exported checkouts.
	DataDir string
	// HTTPS credentials: a token read from TokenFile, else from $OBJECTSTACK_GIT_TOKEN; Username defaults to
	// "x-access-token" (GitHub and GitLab accept any user name with a token). Without either, credentials in
	// the URL (https://<token>@host/… or https://user:<token>@host/…) are used, as git itself would.
	TokenFile string
	Username  string
	// SSH credentials: a private key file and a known_hosts file (default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts).
	SSHKeyFile       string
	SSHKeyPassphrase string
	KnownHostsFile   string
	Logger           *slog.Logger
}

// Revision is one resolved commit of the repository.
type Revision struct {
	Ref    string `json:"ref,omitempty"` // "main", "v1.2.0", or "" for a pinned commit
	Commit string `json:"commit"`
	Digest string `json:"digest"` // "sha256:<hex>" over objectstack.yaml, bundles/ and apps/
	Dir    string `json:"-"`      // exported checkout of the tree
}

// String is the Flux-style revision: "main@sha1:<sha>", or "sha1:<sha>" for a pinned commit.
func (r Revision) String() string {
	if r.Commit == "" {
		return ""
	}
	if r.Ref == "" {
		return "sha1:" + r.Commit
	}
	return r.Ref + "@sha1:" + r.Commit
}

// Source fetches one repository ref into a local mirror. Safe for use by several goroutines.
type Source struct {
	opts   Options
	auth   transport.AuthMethod
	mirror string
	out    string
	log    *slog.Logger
	// secrets are the credential strings taken from the URL, scrubbed from any error as a last line
	// of defence (go-git never sees them in a URL, only in auth).
	secrets []string
	// legacy are mirror and checkout folders an older version keyed by the URL with its credentials;
	// their .git/config holds the credentials in clear text, so they are removed on first use.
	legacy []string

	// followHEAD tracks the remote's default branch (what HEAD points at) when no ref was given.
	followHEAD bool

	mu   sync.Mutex
	last Revision
}

// New validates the options and prepares the credentials; it does no network I/O.
func New(opts Options) (*Source, error) {
	if opts.URL == "" {
		return nil, errors.New("source: a repository URL is required")
	}
	set := 0
	for _, s := range []string{opts.Branch, opts.Tag, opts.Commit, opts.Revision} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return nil, errors.New("source: set only one of branch, tag, commit and revision")
	}
	if opts.Commit != "" && !isHex40(opts.Commit) {
		return nil, fmt.Errorf("source: commit %q must be a full 40-character hexadecimal id", opts.Commit)
	}
	followHEAD := opts.Branch == "" && opts.Tag == "" && opts.Commit == "" && opts.Revision == ""
	if opts.DataDir == "" {
		return nil, errors.New("source: a data directory is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	raw := normaliseURL(opts.URL)
	url, creds, err := splitCredentials(raw)
	if err != nil {
		return nil, err
	}
	auth, err := authFor(url, creds, opts)
	if err != nil {
		return nil, redactErr(err, creds.secrets()...)
	}
	base := filepath.Join(opts.DataDir, "reconcile")
	key := mirrorKey(url)
	opts.URL = url
	s := &Source{opts: opts, auth: auth, mirror: filepath.Join(base, "mirror", key),
		out: filepath.Join(base, "checkout", key), log: opts.Logger, followHEAD: followHEAD, secrets: creds.secrets()}
	if raw != url {
		old := mirrorKey(raw)
		s.legacy = []string{filepath.Join(base, "mirror", old), filepath.Join(base, "checkout", old)}
	}
	return s, nil
}

func mirrorKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:8])
}

// urlCredentials are what a repository URL's user info carried.
type urlCredentials struct {
	user, password string
	hasPassword    bool
}

// secrets are the strings to scrub from errors: the password, or the user name when it stands alone
// (GitHub takes a bare token there). A user name next to a password is an account name, and scrubbing a
// short word like "git" would garble messages.
func (c urlCredentials) secrets() []string {
	switch {
	case c.hasPassword && c.password != "":
		return []string{c.password}
	case !c.hasPassword && c.user != "":
		return []string{c.user}
	}
	return nil
}

// splitCredentials takes the user info out of an http(s) URL, and the password out of an ssh:// URL
// (its user name, usually "git", is not a secret and selects the account). Errors never contain the URL:
// the part that failed to parse may be the credential.
func splitCredentials(raw string) (string, urlCredentials, error) {
	if !strings.Contains(raw, "://") {
		return raw, urlCredentials{}, nil // a local path or git@host:path
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", urlCredentials{}, errors.New("source: the repository URL is not a valid URL (check its escapes and host; put credentials in --git-token-file rather than in the URL)")
	}
	if u.User == nil {
		return raw, urlCredentials{}, nil
	}
	c := urlCredentials{user: u.User.Username()}
	c.password, c.hasPassword = u.User.Password()
	switch strings.ToLower(u.Scheme) {
	case "ssh", "git+ssh", "ssh+git":
		if !c.hasPassword {
			return raw, urlCredentials{}, nil
		}
		u.User = url.User(c.user)
		return u.String(), urlCredentials{password: c.password, hasPassword: true, user: ""}, nil
	}
	u.User = nil
	return u.String(), c, nil
}

// normaliseURL turns a plain local path into an absolute one so the mirror key is stable.
func normaliseURL(u string) string {
	if strings.Contains(u, "://") || (strings.Contains(u, "@") && strings.Contains(u, ":")) {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

func isHex40(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func authFor(rawURL string, creds urlCredentials, opts Options) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("source: repository URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		token := ""
		if opts.TokenFile != "" {
			b, err := os.ReadFile(opts.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("source: read git token file %s: %w", opts.TokenFile, err)
			}
			token = strings.TrimSpace(string(b))
		} else {
			token = strings.TrimSpace(os.Getenv(TokenEnv))
		}
		if token == "" {
			if creds.user == "" && !creds.hasPassword {
				return nil, nil
			}
			// What git does with https://<user>[:<password>]@host: basic auth with both.
			return &githttp.BasicAuth{Username: creds.user, Password: creds.password}, nil
		}
		user := opts.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: token}, nil
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		if opts.SSHKeyFile == "" {
			if creds.hasPassword {
				pw := &gitssh.Password{User: user, Password: creds.password}
				cb, err := gitssh.NewKnownHostsCallback(knownHostsFiles(opts)...)
				if err != nil {
					return nil, fmt.Errorf("source: known_hosts: %w", err)
				}
				pw.HostKeyCallback = cb
				return pw, nil
			}
			return nil, nil // go-git falls back to the SSH agent
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, opts.SSHKeyFile, opts.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("source: read ssh key %s: %w", opts.SSHKeyFile, err)
		}
		cb, err := gitssh.NewKnownHostsCallback(knownHostsFiles(opts)...)
		if err != nil {
			return nil, fmt.Errorf("source: known_hosts: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	return nil, nil
}

func knownHostsFiles(opts Options) []string {
	if opts.KnownHostsFile != "" {
		return []string{opts.KnownHostsFile}
	}
	return nil
}

// redactErr replaces every occurrence of the given secrets in err's message; the chain is not kept,
// since a wrapped error would still print the secret.
func redactErr(err error, secrets ...string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "REDACTED")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.New(msg)
}

// Redacted returns the repository URL for logs and status: the URL without user info (credentials were
// taken out when the Source was created; an ssh:// user name is dropped here too).
func (s *Source) Redacted() string {
	u, err := url.Parse(s.opts.URL)
	if err != nil || u.User == nil || !strings.Contains(s.opts.URL, "://") {
		return s.opts.URL
	}
	u.User = nil
	return u.String()
}

// Last returns the last revision Fetch resolved.
func (s *Source) Last() Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// open opens the mirror afresh on every fetch: another replica sharing the data folder may have fetched
// into it since, and a go-git repository opened earlier would not see the packs that replica wrote.
func (s *Source) open() (*git.Repository, error) {
	for _, dir := range s.legacy {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("source: remove a mirror that stored credentials: %w", redactErr(err, s.secrets...))
		}
	}
	s.legacy = nil
	repo, err := git.PlainOpen(s.mirror)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(s.mirror, 0o700); err != nil {
			return nil, fmt.Errorf("source: create mirror: %w", err)
		}
		repo, err = git.PlainInit(s.mirror, true)
		if err == nil {
			_, err = repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{s.opts.URL}})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("source: open mirror %s: %w", s.mirror, redactErr(err, s.secrets...))
	}
	// The remote URL in .git/config is the one without credentials, whatever wrote the mirror.
	if cfg, err := repo.Config(); err == nil {
		if r := cfg.Remotes["origin"]; r != nil && (len(r.URLs) != 1 || r.URLs[0] != s.opts.URL) {
			r.URLs = []string{s.opts.URL}
			if err := repo.SetConfig(cfg); err != nil {
				return nil, fmt.Errorf("source: rewrite mirror remote: %w", redactErr(err, s.secrets...))
			}
		}
	}
	return repo, nil
}

// Fetch resolves the tracked ref. When the remote ref still points at the last resolved commit, it returns
// that revision with changed=false without fetching anything.
func (s *Source) Fetch(ctx context.Context) (rev Revision, changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Replicas on one host may share the data folder, and with it the mirror and the checkouts: the lock
	// keeps one process's fetch and export from tearing another's (a half-written pack, a checkout renamed
	// away mid-write).
	if err := os.MkdirAll(filepath.Dir(s.mirror), 0o700); err != nil {
		return Revision{}, false, fmt.Errorf("source: create mirror: %w", err)
	}
	unlock, err := filelock.Lock(ctx, s.mirror+".lock")
	if err != nil {
		return Revision{}, false, fmt.Errorf("source: %w", err)
	}
	defer unlock()
	repo, err := s.open()
	if err != nil {
		return Revision{}, false, err
	}
	ref, hash, err := s.resolveRemote(ctx, repo)
	if err != nil {
		return Revision{}, false, err
	}
	if hash != "" && hash == s.last.Commit && s.last.Dir != "" {
		return s.last, false, nil
	}
	if hash == "" || !hasCommit(repo, hash) {
		if err := s.fetch(ctx, repo, ref); err != nil {
			return Revision{}, false, err
		}
	}
	if hash == "" { // a pinned commit or a revision that is neither branch nor tag
		hash = s.opts.Commit
		if hash == "" {
			hash = s.opts.Revision
		}
		h, rerr := repo.ResolveRevision(plumbing.Revision(hash))
		if rerr != nil {
			return Revision{}, false, fmt.Errorf("source: commit %s not found in %s", hash, s.Redacted())
		}
		hash = h.String()
	}
	commit, err := repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return Revision{}, false, fmt.Errorf("source: read commit %s: %w", hash, err)
	}
	refName := ""
	if ref != "" {
		refName = plumbing.ReferenceName(ref).Short()
	}
	r := Revision{Ref: refName, Commit: commit.Hash.String()}
	r.Dir, r.Digest, err = s.export(commit)
	if err != nil {
		return Revision{}, false, err
	}
	changed = r.Commit != s.last.Commit || r.Digest != s.last.Digest
	s.last = r
	return r, changed, nil
}

// resolveRemote lists the remote refs (no object transfer) and returns the full ref name and the commit it
// points at. For a pinned commit it returns ("", "") without touching the network.
func (s *Source) resolveRemote(ctx context.Context, repo *git.Repository) (string, string, error) {
	if s.opts.Commit != "" {
		return "", "", nil
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return "", "", fmt.Errorf("source: mirror remote: %w", err)
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return "", "", fmt.Errorf("source: ls-remote %s: %w", s.Redacted(), redactErr(err, s.secrets...))
	}
	byName := map[string]string{}
	for _, r := range refs {
		if r.Type() == plumbing.HashReference {
			byName[r.Name().String()] = r.Hash().String()
		}
	}
	lookup := func(name string) (string, string, bool) {
		if h, ok := byName[name+"^{}"]; ok { // an annotated tag: the peeled commit
			return name, h, true
		}
		h, ok := byName[name]
		return name, h, ok
	}
	branch := s.opts.Branch
	if s.followHEAD {
		branch = "main"
		for _, r := range refs {
			if r.Name() == plumbing.HEAD && r.Type() == plumbing.SymbolicReference && r.Target().IsBranch() {
				branch = r.Target().Short()
			}
		}
	}
	switch {
	case branch != "":
		if n, h, ok := lookup("refs/heads/" + branch); ok {
			return n, h, nil
		}
		return "", "", fmt.Errorf("source: branch %q not found in %s", branch, s.Redacted())
	case s.opts.Tag != "":
		if n, h, ok := lookup("refs/tags/" + s.opts.Tag); ok {
			return n, h, nil
		}
		return "", "", fmt.Errorf("source: tag %q not found in %s", s.opts.Tag, s.Redacted())
	default:
		for _, prefix := range []string{"refs/heads/", "refs/tags/"} {
			if n, h, ok := lookup(prefix + s.opts.Revision); ok {
				return n, h, nil
			}
		}
		return "", "", nil
	}
}

func hasCommit(repo *git.Repository, hash string) bool {
	if hash == "" {
		return false
	}
	_, err := repo.CommitObject(plumbing.NewHash(hash))
	return err == nil
}

func (s *Source) fetch(ctx context.Context, repo *git.Repository, ref string) error {
	var specs []gitconfig.RefSpec
	if ref != "" {
		specs = []gitconfig.RefSpec{gitconfig.RefSpec("+" + ref + ":" + ref)}
	} else {
		specs = []gitconfig.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	}
	err := repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Auth: s.auth, Tags: git.NoTags, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("source: fetch %s: %w", s.Redacted(), redactErr(err, s.secrets...))
	}
	return nil
}

// deployable reports whether a repository path belongs to the deployable tree (and so to the digest).
func deployable(path string) bool {
	return path == "objectstack.yaml" || strings.HasPrefix(path, "bundles/") || strings.HasPrefix(path, "apps/")
}

// export writes the deployable files of commit into out/<sha> (once) and returns the dir and the digest.
func (s *Source) export(commit *object.Commit) (string, string, error) {
	tree, err := commit.Tree()
	if err != nil {
		return "", "", fmt.Errorf("source: tree of %s: %w", commit.Hash, err)
	}
	type entry struct {
		path string
		file *object.File
	}
	var files []entry
	err = tree.Files().ForEach(func(f *object.File) error {
		if deployable(f.Name) && f.Mode != filemode.Symlink && f.Mode != filemode.Submodule {
			files = append(files, entry{f.Name, f})
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("source: walk tree of %s: %w", commit.Hash, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	dir := filepath.Join(s.out, commit.Hash.String())
	_, statErr := os.Stat(dir)
	write := statErr != nil
	var tmp string
	if write {
		// A folder of its own per export, so nothing else (an older version of this program, or a process
		// where the file lock is unavailable) can write into it or rename it away.
		if err := os.MkdirAll(s.out, 0o700); err != nil {
			return "", "", fmt.Errorf("source: export: %w", err)
		}
		if tmp, err = os.MkdirTemp(s.out, commit.Hash.String()+".tmp-"); err != nil {
			return "", "", fmt.Errorf("source: export: %w", err)
		}
		defer os.RemoveAll(tmp) // gone after the rename; left over only when the export failed
	}
	h := sha256.New()
	for _, e := range files {
		clean := filepath.Clean(filepath.FromSlash(e.path))
		if strings.HasPrefix(clean, "..") || filepath.IsAbs(clean) {
			return "", "", fmt.Errorf("source: unsafe path %q in commit %s", e.path, commit.Hash)
		}
		rd, err := e.file.Reader()
		if err != nil {
			return "", "", fmt.Errorf("source: read %s: %w", e.path, err)
		}
		data, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return "", "", fmt.Errorf("source: read %s: %w", e.path, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.path, len(data))
		h.Write(data)
		// The checkout sits in the data folder beside the control plane: owner-only like the rest.
		if write {
			p := filepath.Join(tmp, clean)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return "", "", fmt.Errorf("source: export: %w", err)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return "", "", fmt.Errorf("source: export: %w", err)
			}
		}
	}
	if write {
		if err := os.Rename(tmp, dir); err != nil {
			// The checkout is named by its commit: one another process finished first holds the same files.
			if _, statErr := os.Stat(dir); statErr != nil {
				return "", "", fmt.Errorf("source: export: %w", err)
			}
		}
		s.prune(commit.Hash.String())
	}
	return dir, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// prune keeps the newest few checkouts so the data folder does not grow with every commit.
func (s *Source) prune(keep string) {
	entries, err := os.ReadDir(s.out)
	if err != nil {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.Name() != keep {
			all = append(all, aged{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i, a := range all {
		if i >= 4 {
			_ = os.RemoveAll(filepath.Join(s.out, a.name))
		}
	}
}

// Jitter returns d ± 10%, so replicas and repositories polled on the same interval do not hit the remote at
// the same instant.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}
