package apps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

const secretToken = "ghp_S3CR3TTOKENabcdefghijklmnopqrstuvwxyz01"

// TestAppLinksOutsideTheFolderAreRefused: app.yaml or an object file that is a link leading outside the
// app folder is refused without reading it, and a manifest that is not YAML (or not a mapping) is reported
// by name and line only — the decoder used to quote its first characters, a token's included.
func TestAppLinksOutsideTheFolderAreRefused(t *testing.T) {
	outside := t.TempDir()
	token := filepath.Join(outside, "token")
	if err := os.WriteFile(token, []byte(secretToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stolen := filepath.Join(outside, "stolen.yaml")
	if err := os.WriteFile(stolen, []byte("name: shop_stolen\nlabel: Stolen\nfields:\n  - key: leaked\n    type: text\n    label: Leaked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(name string, res bundle.ValidationResult, wantCode string) {
		t.Helper()
		if res.Valid {
			t.Errorf("%s: valid", name)
		}
		found := false
		for _, is := range res.Issues {
			if is.Code == wantCode {
				found = true
			}
			if text := is.Message + " " + is.Path; strings.Contains(text, secretToken[:10]) || strings.Contains(text, "leaked") || strings.Contains(text, "root:x") {
				t.Errorf("%s: an issue quotes the file: %s", name, is.String())
			}
		}
		if !found {
			t.Errorf("%s: no %s issue:\n%s", name, wantCode, FormatIssues(name, res))
		}
	}

	// app.yaml is a link to a token file.
	dir := filepath.Join(t.TempDir(), "shop")
	writeFiles(t, dir, map[string]string{"objects/shop_order.yaml": "name: shop_order\nlabel: Order\nfields: {}\n"})
	if err := os.Symlink(token, filepath.Join(dir, ManifestFile)); err != nil {
		t.Fatal(err)
	}
	_, res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("linked app.yaml", res, bundle.CodeUnsafeLink)

	// An object file linked from outside.
	dir = filepath.Join(t.TempDir(), "shop")
	writeFiles(t, dir, map[string]string{ManifestFile: "name: shop\nlabel: Shop\nversion: 1.0.0\nobjects: [shop_order]\n",
		"objects/shop_order.yaml": "name: shop_order\nlabel: Order\nfields: {}\n"})
	if err := os.Symlink(stolen, filepath.Join(dir, "objects", "shop_stolen.yaml")); err != nil {
		t.Fatal(err)
	}
	app, res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("linked object", res, bundle.CodeUnsafeLink)
	for _, o := range app.Objects {
		if o.Name == "shop_stolen" {
			t.Error("the object outside the app folder was read")
		}
	}

	// Manifests that are not app manifests at all.
	for name, content := range map[string]string{
		"token":   secretToken + "\n",
		"passwd":  "root:x:0:0:root:/root:/bin/bash\n",
		"broken":  secretToken + ": [\n",
		"a list":  "- " + secretToken + "\n",
		"aliased": "name: *" + secretToken + "\n",
	} {
		dir := filepath.Join(t.TempDir(), "app")
		writeFiles(t, dir, map[string]string{ManifestFile: content})
		_, res, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		check(name, res, bundle.CodeParseError)
	}
}
