// Package docsgen owns the generated registry documentation (docs/): it builds the provider, asks
// OpenTofu for the provider schema (`tofu providers schema -json`, so no Terraform download is needed)
// and renders docs/ with tfplugindocs from that schema and the examples/ folder. Its test fails when
// the committed docs/ are stale and regenerates them with -update.
package docsgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

// exampleDirs are the examples/ folders tfplugindocs reads (the tfplugindocs layout).
var exampleDirs = []string{"provider", "resources", "data-sources", "ephemeral-resources"}

// Generate renders the documentation of the provider in the repository at root into outDir
// (created, or replaced when it exists).
func Generate(ctx context.Context, root, outDir string, log io.Writer) error {
	tofuBin, err := tofu.Tofu(ctx, log)
	if err != nil {
		return err
	}
	docsBin, err := tofu.TFPluginDocs(ctx, log)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "objectstack-docs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	schemaFile, err := providerSchema(ctx, tofuBin, tmp)
	if err != nil {
		return err
	}
	// tfplugindocs works on a provider folder; give it a scratch one holding only what it reads.
	site := filepath.Join(tmp, "site")
	for _, d := range exampleDirs {
		if err := copyTree(filepath.Join(root, "examples", d), filepath.Join(site, "examples", d)); err != nil {
			return err
		}
	}
	if err := copyTree(filepath.Join(root, "templates"), filepath.Join(site, "templates")); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, docsBin, "generate",
		"--provider-dir", site,
		"--provider-name", tofu.ProviderType,
		"--rendered-provider-name", "ObjectStack",
		"--providers-schema", schemaFile,
	)
	cmd.Env = tofu.Env(filepath.Join(tmp, "tofu.rc"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tfplugindocs generate: %w\n%s", err, out.String())
	}
	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	return copyTree(filepath.Join(site, "docs"), outDir)
}

// providerSchema builds the provider, installs it through dev_overrides and writes the output of
// `tofu providers schema -json` to a file, returning its path.
func providerSchema(ctx context.Context, tofuBin, tmp string) (string, error) {
	plugins := filepath.Join(tmp, "plugins")
	work := filepath.Join(tmp, "work")
	for _, d := range []string{plugins, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if _, err := tofu.BuildProvider(ctx, plugins); err != nil {
		return "", err
	}
	rc := filepath.Join(tmp, "tofu.rc")
	if err := tofu.WriteCLIConfig(rc, plugins); err != nil {
		return "", err
	}
	mainTF := fmt.Sprintf("terraform {\n  required_providers {\n    %s = { source = %q }\n  }\n}\n", tofu.ProviderType, tofu.ProviderSource)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(mainTF), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, tofuBin, "providers", "schema", "-json")
	cmd.Dir = work
	cmd.Env = tofu.Env(rc)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tofu providers schema -json: %w\n%s", err, stderr.String())
	}
	// tfplugindocs looks the provider up under Terraform's default address; OpenTofu reports it
	// under registry.opentofu.org. Re-key the one schema so both agree.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return "", fmt.Errorf("tofu providers schema -json: %w", err)
	}
	var schemas map[string]json.RawMessage
	if err := json.Unmarshal(doc["provider_schemas"], &schemas); err != nil {
		return "", fmt.Errorf("tofu providers schema -json: provider_schemas: %w", err)
	}
	s, ok := schemas[tofu.ProviderAddress]
	if !ok {
		return "", fmt.Errorf("tofu providers schema -json: no schema for %s", tofu.ProviderAddress)
	}
	doc["provider_schemas"], _ = json.Marshal(map[string]json.RawMessage{"registry.terraform.io/hashicorp/" + tofu.ProviderType: s})
	data, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	file := filepath.Join(tmp, "schema.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return "", err
	}
	return file, nil
}

// copyTree copies the regular files below src to dst; a missing src copies nothing.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
