package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"gopkg.in/yaml.v3"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// allTargetsEnv makes TestSnapshotRelease build every platform of .goreleaser.yaml (16 builds of
// two binaries; far too slow for every test run) instead of the host's alone.
const allTargetsEnv = "OBJECTSTACK_RELEASE_ALL_TARGETS"

// The go-plugin handshake Terraform and OpenTofu use: with this cookie the provider prints
// core-version|protocol-version|network|address|protocol on its first stdout line.
const magicCookie = "TF_PLUGIN_MAGIC_COOKIE=d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

// TestSnapshotRelease runs `goreleaser release --snapshot` with .goreleaser.yaml (only the output
// folder and, unless OBJECTSTACK_RELEASE_ALL_TARGETS=1, the platform list changed) and a signing
// key generated for the test, then checks what a registry release needs: the archive names, that the
// provider zip holds only the plugin and that the plugin answers the handshake, the CLI archive, that
// SHA256SUMS matches every file (the registry manifest included) and that its detached signature
// verifies against the key — and fails for a changed SHA256SUMS.
func TestSnapshotRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Minute)
	defer cancel()
	goreleaser, err := GoReleaser.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GPGSign.Build(ctx, os.Stderr); err != nil {
		t.Fatal(err)
	}
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	config := snapshotConfig(t, root, dist, os.Getenv(allTargetsEnv) == "1")

	env := append(os.Environ(), "PATH="+filepath.Dir(tofu.GoBinary())+string(os.PathListSeparator)+os.Getenv("PATH"),
		// GoReleaser reads the commit only when the repository has a remote URL; a worktree or a fresh
		// `git init` may have none, so one is given for its git commands alone (git's config-by-environment).
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=remote.origin.url", "GIT_CONFIG_VALUE_0=https://github.com/objectstack-ai/terraform-provider-objectstack")

	// The committed file, all platforms: valid and free of deprecated settings.
	check := exec.CommandContext(ctx, goreleaser, "check", "--config", filepath.Join(root, ".goreleaser.yaml"))
	check.Dir, check.Env = root, env
	if out, err := check.CombinedOutput(); err != nil || strings.Contains(strings.ToLower(string(out)), "deprecat") {
		t.Fatalf("goreleaser check .goreleaser.yaml: %v\n%s", err, out)
	}

	entity, armoredKey := testSigningKey(t)
	cmd := exec.CommandContext(ctx, goreleaser, "release", "--snapshot", "--clean", "--config", config, "--parallelism", "2")
	cmd.Dir = root
	cmd.Env = append(env, "GPG_PRIVATE_KEY="+armoredKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser release --snapshot: %v\n%s", err, out)
	}
	if strings.Contains(string(out), armoredKey[40:80]) {
		t.Fatalf("goreleaser's output shows the private key")
	}

	var meta struct{ Version string }
	if b, err := os.ReadFile(filepath.Join(dist, "metadata.json")); err != nil || json.Unmarshal(b, &meta) != nil || meta.Version == "" {
		t.Fatalf("dist/metadata.json: %v %s", err, b)
	}
	version := meta.Version
	short, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+-snapshot\.g` + strings.TrimSpace(string(short)) + `$`).MatchString(version) {
		t.Errorf("snapshot version %q, want <next patch>-snapshot.g%s", version, strings.TrimSpace(string(short)))
	}
	const project = "terraform-provider-objectstack"
	sums := filepath.Join(dist, project+"_"+version+"_SHA256SUMS")
	want := []string{filepath.Base(sums), filepath.Base(sums) + ".sig"}
	targets := [][2]string{{runtime.GOOS, runtime.GOARCH}}
	if os.Getenv(allTargetsEnv) == "1" {
		targets = nil
		for _, goos := range []string{"darwin", "freebsd", "linux", "windows"} {
			for _, goarch := range []string{"amd64", "arm64"} {
				targets = append(targets, [2]string{goos, goarch})
			}
		}
	}
	for _, tg := range targets {
		want = append(want, fmt.Sprintf("%s_%s_%s_%s.zip", project, version, tg[0], tg[1]))
		ext := ".tar.gz"
		if tg[0] == "windows" {
			ext = ".zip"
		}
		want = append(want, fmt.Sprintf("objectstack_%s_%s_%s%s", version, tg[0], tg[1], ext))
	}
	slices.Sort(want)
	var got []string
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".zip") || strings.HasSuffix(e.Name(), ".tar.gz") || strings.Contains(e.Name(), "SHA256SUMS")) {
			got = append(got, e.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("release artifacts\n got %v\nwant %v", got, want)
	}

	// SHA256SUMS: one line per archive plus the registry manifest, each hash right.
	manifestName := project + "_" + version + "_manifest.json"
	listed := map[string]string{}
	f, err := os.Open(sums)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		listed[name] = sum
	}
	f.Close()
	for _, name := range want {
		if strings.Contains(name, "SHA256SUMS") {
			continue
		}
		if listed[name] != fileSHA256(t, filepath.Join(dist, name)) {
			t.Errorf("SHA256SUMS: %s listed as %q, file hashes to %s", name, listed[name], fileSHA256(t, filepath.Join(dist, name)))
		}
		delete(listed, name)
	}
	if listed[manifestName] != fileSHA256(t, filepath.Join(root, "terraform-registry-manifest.json")) {
		t.Errorf("SHA256SUMS: the registry manifest %s is listed as %q, want the hash of terraform-registry-manifest.json", manifestName, listed[manifestName])
	}
	delete(listed, manifestName)
	if len(listed) != 0 {
		t.Errorf("SHA256SUMS lists files the release does not have: %v", listed)
	}

	// The detached signature verifies with the public key, and fails for changed sums.
	sumsData, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(sums + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	keyring := openpgp.EntityList{entity}
	if signer, err := openpgp.CheckDetachedSignature(keyring, bytes.NewReader(sumsData), bytes.NewReader(sig), nil); err != nil {
		t.Fatalf("the signature of SHA256SUMS does not verify: %v", err)
	} else if signer.PrimaryKey.KeyId != entity.PrimaryKey.KeyId {
		t.Fatalf("signed by %X, want %X", signer.PrimaryKey.KeyId, entity.PrimaryKey.KeyId)
	}
	tampered := bytes.Replace(sumsData, []byte(version), []byte(version+"x"), 1)
	if _, err := openpgp.CheckDetachedSignature(keyring, bytes.NewReader(tampered), bytes.NewReader(sig), nil); err == nil {
		t.Fatalf("the signature verifies a changed SHA256SUMS")
	}

	// The host's provider zip: the plugin alone, answering the handshake.
	plugin := project + "_v" + version + exeSuffix()
	zipPath := filepath.Join(dist, fmt.Sprintf("%s_%s_%s_%s.zip", project, version, runtime.GOOS, runtime.GOARCH))
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != plugin {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("%s holds %v, want only %s", filepath.Base(zipPath), names, plugin)
	}
	providerBin := filepath.Join(dir, plugin)
	extract(t, zr.File[0], providerBin)
	zr.Close()
	handshake(t, ctx, providerBin)

	// The host's CLI archive: the objectstack binary that runs.
	cliArchive := filepath.Join(dist, fmt.Sprintf("objectstack_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH))
	if runtime.GOOS != "windows" {
		names, cli := untarFile(t, cliArchive, "objectstack", dir)
		if !slices.Contains(names, "README.md") {
			t.Errorf("%s holds %v, want objectstack and README.md", filepath.Base(cliArchive), names)
		}
		if out, err := exec.CommandContext(ctx, cli, "plan", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--repo") {
			t.Errorf("objectstack plan --help from the release: %v\n%s", err, out)
		}
	}
}

// TestSignerRefusesWithoutKey: a release run without GPG_PRIVATE_KEY must not leave SHA256SUMS
// silently unsigned (make release passes --skip=sign and says so instead).
func TestSignerRefusesWithoutKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	signer, err := GPGSign.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(file, []byte("x  y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, signer, "--output", file+".sig", file)
	cmd.Env = append(os.Environ(), "GPG_PRIVATE_KEY=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "GPG_PRIVATE_KEY is empty") {
		t.Fatalf("gpgsign without a key: %v %s", err, out)
	}
	if _, err := os.Stat(file + ".sig"); !os.IsNotExist(err) {
		t.Fatalf("gpgsign without a key wrote a signature")
	}
}

// snapshotConfig writes .goreleaser.yaml with dist pointed at the test's folder and, unless all is
// set, each build limited to the host platform. Everything else is the file as committed.
func snapshotConfig(t *testing.T, root, dist string, all bool) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	cfg["dist"] = dist
	if !all {
		builds, _ := cfg["builds"].([]any)
		if len(builds) != 2 {
			t.Fatalf(".goreleaser.yaml has %d builds, want the provider and the CLI", len(builds))
		}
		for _, bl := range builds {
			m := bl.(map[string]any)
			m["goos"] = []string{runtime.GOOS}
			m["goarch"] = []string{runtime.GOARCH}
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "goreleaser.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testSigningKey makes an OpenPGP key for this test only and returns it with its armored private key.
func testSigningKey(t *testing.T) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity("ObjectStack release test", "", "release-test@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return e, buf.String()
}

// handshake starts the plugin as Terraform would and checks its first stdout line is a protocol-6
// gRPC go-plugin handshake, then stops it.
func handshake(t *testing.T, ctx context.Context, bin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), magicCookie, "PLUGIN_PROTOCOL_VERSIONS=6")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the provider printed no handshake: %v\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`^1\|6\|(unix|tcp)\|[^|]+\|grpc\|`).MatchString(line) {
		t.Fatalf("handshake line %q, want 1|6|unix|…|grpc|…", line)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func extract(t *testing.T, zf *zip.File, to string) {
	t.Helper()
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// untarFile lists a .tar.gz and extracts the entry called name into dir.
func untarFile(t *testing.T, archive, name, dir string) ([]string, string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var out string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == name {
			out = filepath.Join(dir, name)
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if out == "" {
		t.Fatalf("%s holds %v, no %s", archive, names, name)
	}
	return names, out
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
