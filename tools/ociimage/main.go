// Command ociimage builds the reconciler's container image without a Docker daemon: a FROM-scratch
// image of one layer holding the static objectstack binary, an /etc/passwd naming the non-root
// user 65532, and the Mozilla/NSS CA roots (from golang.org/x/crypto/x509roots/fallback, so the
// image needs no distribution package). The entrypoint is `objectstack reconcile`; there is no shell.
// It writes a tarball that `docker load`, `podman load`, `crane push` and `skopeo copy
// docker-archive:` accept, and optionally an OCI image layout folder.
//
// Its own module (tools/ociimage) keeps go-containerregistry out of the provider's module graph.
//
//	ociimage -binary dist/objectstack -out reconciler.tar -tag ghcr.io/objectstack-ai/objectstack-reconciler:0.1.0 \
//	  -source https://github.com/objectstack-ai/terraform-provider-objectstack -revision $(git rev-parse HEAD) -version 0.1.0
package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's fixed layout.
const (
	binaryPath = "/usr/local/bin/objectstack"
	certsPath  = "/etc/ssl/certs/ca-certificates.crt"
	uid        = 65532 // "nonroot", as in distroless images
	homeDir    = "/home/nonroot"
	listenPort = "9090/tcp"
)

type options struct {
	binary, out, layoutDir, tag string
	source, revision, version   string
	arch                        string
	created                     time.Time
}

func main() {
	var o options
	var created string
	flag.StringVar(&o.binary, "binary", "", "static linux objectstack binary (CGO_ENABLED=0) (required)")
	flag.StringVar(&o.out, "out", "", "image tarball to write (required)")
	flag.StringVar(&o.layoutDir, "layout", "", "also write an OCI image layout into this folder")
	flag.StringVar(&o.tag, "tag", "ghcr.io/objectstack-ai/objectstack-reconciler:dev", "image reference recorded in the tarball")
	flag.StringVar(&o.source, "source", "https://github.com/objectstack-ai/terraform-provider-objectstack", "org.opencontainers.image.source")
	flag.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision: the commit built (required)")
	flag.StringVar(&o.version, "version", "", "org.opencontainers.image.version (required)")
	flag.StringVar(&o.arch, "arch", "amd64", "architecture the binary was built for")
	flag.StringVar(&created, "created", "", "creation time, RFC 3339 (default: the Unix epoch, so equal inputs give an equal image)")
	flag.Parse()
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			fail(fmt.Errorf("-created %q: %w", created, err))
		}
		o.created = t.UTC()
	} else {
		o.created = time.Unix(0, 0).UTC()
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ociimage:", err)
	os.Exit(1)
}

func run(o options) error {
	for flagName, v := range map[string]string{"-binary": o.binary, "-out": o.out, "-revision": o.revision, "-version": o.version} {
		if v == "" {
			return fmt.Errorf("%s is required", flagName)
		}
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return fmt.Errorf("read -binary: %w", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return fmt.Errorf("-binary %s is not a Linux (ELF) executable", o.binary)
	}
	img, err := build(o, bin)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(o.tag)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", o.tag, err)
	}
	if err := tarball.WriteToFile(o.out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if o.layoutDir != "" {
		p, err := layout.Write(o.layoutDir, empty.Index)
		if err != nil {
			return fmt.Errorf("write OCI layout %s: %w", o.layoutDir, err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.Name()})); err != nil {
			return fmt.Errorf("write OCI layout %s: %w", o.layoutDir, err)
		}
	}
	return nil
}

func build(o options, bin []byte) (v1.Image, error) {
	rootfs, err := rootFS(bin, o.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: o.created}, CreatedBy: "ociimage (tools/ociimage): objectstack binary, passwd, CA roots",
	}})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", o.arch
	cfg.Created = v1.Time{Time: o.created}
	cfg.Config.User = strconv.Itoa(uid) + ":" + strconv.Itoa(uid)
	cfg.Config.Entrypoint = []string{binaryPath, "reconcile"}
	cfg.Config.Cmd = nil
	cfg.Config.WorkingDir = homeDir
	cfg.Config.Env = []string{"HOME=" + homeDir, "SSL_CERT_FILE=" + certsPath}
	cfg.Config.ExposedPorts = map[string]struct{}{listenPort: {}}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.title":    "objectstack-reconciler",
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return img, nil
}

// rootFS is the single layer: directories, /etc/passwd and /etc/group, the CA roots and the binary.
func rootFS(bin []byte, mtime time.Time) ([]byte, error) {
	certs, err := caRoots()
	if err != nil {
		return nil, err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:" + homeDir + ":/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(p string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(p string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/ssl", 0o755, 0) },
		func() error { return dir("etc/ssl/certs", 0o755, 0) },
		func() error { return file(certsPath[1:], 0o644, certs) },
		func() error { return dir("home", 0o755, 0) },
		func() error { return dir(homeDir[1:], 0o700, uid) },
		func() error { return dir("tmp", 0o1777, 0) },
		func() error { return dir("usr", 0o755, 0) },
		func() error { return dir("usr/local", 0o755, 0) },
		func() error { return dir("usr/local/bin", 0o755, 0) },
		func() error { return file(binaryPath[1:], 0o755, bin) },
		tw.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// caRoots is the NSS root store as a PEM bundle. Roots with a distrust-after constraint are left
// out: a PEM file cannot carry the constraint, and trusting them without it would be wider than NSS.
func caRoots() ([]byte, error) {
	var out bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if out.Len() == 0 {
		return nil, errors.New("no CA roots in golang.org/x/crypto/x509roots/fallback/bundle")
	}
	return out.Bytes(), nil
}
