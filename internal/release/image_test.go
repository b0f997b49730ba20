package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// imageSizeLimit bounds the compressed image: one static binary and the CA roots. A base image or
// a second binary slipping in would show here first.
const imageSizeLimit = 60 << 20

// TestReconcilerImage builds the reconciler image the way `make image` does — a static
// CGO_ENABLED=0 objectstack binary packed by tools/ociimage, no Docker daemon — into a tarball, and
// inspects it with nothing but the standard library: the config (non-root user, `objectstack
// reconcile` entrypoint, OCI labels), the single layer (one executable, no shell, a passwd line for
// the user, parseable CA roots), the binary (static: no interpreter, no shared libraries) and the size.
func TestReconcilerImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	builder, err := OCIImage.Build(ctx, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	root, err := tofu.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "objectstack")
	// The same flags as the package tests' builds (no -trimpath), so the compile cache is shared;
	// `make image` adds -trimpath.
	build := exec.CommandContext(ctx, tofu.GoBinary(), "build", "-ldflags", "-s -w", "-o", bin, "./cmd/objectstack")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build objectstack: %v\n%s", err, out)
	}
	tarball := filepath.Join(dir, "image.tar")
	layoutDir := filepath.Join(dir, "layout")
	const revision = "0123456789abcdef0123456789abcdef01234567"
	cmd := exec.CommandContext(ctx, builder, "-binary", bin, "-arch", runtime.GOARCH, "-out", tarball, "-layout", layoutDir,
		"-tag", "ghcr.io/objectstack-ai/objectstack-reconciler:1.2.3", "-revision", revision, "-version", "1.2.3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ociimage: %v\n%s", err, out)
	}

	files := readTar(t, tarball)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	if !slices.Equal(manifest[0].RepoTags, []string{"ghcr.io/objectstack-ai/objectstack-reconciler:1.2.3"}) {
		t.Errorf("tags %v", manifest[0].RepoTags)
	}
	var cfg struct {
		OS, Architecture string
		Config           struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			Labels       map[string]string
			ExposedPorts map[string]struct{}
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("config %s: %v", manifest[0].Config, err)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/local/bin/objectstack", "reconcile"}) || len(cfg.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/objectstack-ai/terraform-provider-objectstack",
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.version":  "1.2.3",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := cfg.Config.ExposedPorts["9090/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 9090/tcp", cfg.Config.ExposedPorts)
	}
	if len(manifest[0].Layers) != 1 || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("%d layers, want 1", len(manifest[0].Layers))
	}

	// The layer.
	layerGz := files[manifest[0].Layers[0]]
	st, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image tarball %.1f MiB, layer %.1f MiB compressed", float64(st.Size())/(1<<20), float64(len(layerGz))/(1<<20))
	if st.Size() > imageSizeLimit {
		t.Errorf("image is %d bytes, over the %d limit", st.Size(), imageSizeLimit)
	}
	zr, err := gzip.NewReader(bytes.NewReader(layerGz))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	var executables []string
	layer := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			layer[name] = b
			if h.Mode&0o111 != 0 {
				executables = append(executables, name)
			}
		case tar.TypeSymlink, tar.TypeLink:
			t.Errorf("link %s -> %s in the image (none expected)", name, h.Linkname)
		}
		if strings.HasSuffix(name, "/sh") || strings.HasSuffix(name, "/bash") || strings.HasSuffix(name, "/busybox") {
			t.Errorf("a shell in the image: %s", name)
		}
	}
	if !slices.Equal(executables, []string{"/usr/local/bin/objectstack"}) {
		t.Errorf("executables %v, want only /usr/local/bin/objectstack", executables)
	}
	if !strings.Contains(string(layer["/etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no line for uid 65532:\n%s", layer["/etc/passwd"])
	}
	roots := 0
	for rest := layer["/etc/ssl/certs/ca-certificates.crt"]; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		roots++
	}
	if roots < 100 {
		t.Errorf("%d CA roots in /etc/ssl/certs/ca-certificates.crt, want the NSS store (over 100)", roots)
	}

	// The binary is static and is the objectstack CLI.
	exe := filepath.Join(dir, "from-image")
	if err := os.WriteFile(exe, layer["/usr/local/bin/objectstack"], 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatalf("the image's binary is not ELF: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the image's binary asks for a dynamic loader: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Errorf("the image's binary links %v", libs)
	}
	f.Close()
	if runtime.GOOS == "linux" {
		out, err := exec.CommandContext(ctx, exe, "reconcile", "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--repo") || !strings.Contains(string(out), "--replica-id") {
			t.Errorf("objectstack reconcile --help from the image: %v\n%s", err, out)
		}
	}

	// The OCI layout holds the same image.
	var index struct {
		Manifests []struct {
			MediaType   string
			Digest      string
			Annotations map[string]string
		}
	}
	b, err := os.ReadFile(filepath.Join(layoutDir, "index.json"))
	if err != nil || json.Unmarshal(b, &index) != nil || len(index.Manifests) != 1 {
		t.Fatalf("OCI layout index.json: %v %s", err, b)
	}
	if m := index.Manifests[0]; m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Annotations["org.opencontainers.image.ref.name"] == "" {
		t.Errorf("OCI layout manifest %+v", m)
	}
	blob := filepath.Join(layoutDir, "blobs", strings.Replace(index.Manifests[0].Digest, ":", string(filepath.Separator), 1))
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("OCI layout: manifest blob missing: %v", err)
	}
}

// readTar reads a whole (small enough) tarball into memory by entry name.
func readTar(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}
