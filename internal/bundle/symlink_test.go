package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretToken is what a token file next to a CI checkout might hold.
const secretToken = "ghp_S3CR3TTOKENabcdefghijklmnopqrstuvwxyz01"

// TestLinksOutsideTheBundleAreRefused: a link in a bundle folder to a file outside it applied that file's
// content, and a link to a token file or /etc/passwd echoed its first characters in the error — which
// matters for CI running `objectstack plan` on a pull request's checkout. Links that lead outside the
// folder are refused (an error naming the file, nothing from the target); links inside it still work.
func TestLinksOutsideTheBundleAreRefused(t *testing.T) {
	outside := t.TempDir()
	stolen := filepath.Join(outside, "stolen.yaml")
	if err := os.WriteFile(stolen, []byte("name: stolen\nlabel: Stolen\nfields:\n  - key: leaked\n    type: text\n    label: Leaked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(outside, "token")
	if err := os.WriteFile(token, []byte(secretToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(outside, "views"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "views", "v.yaml"), []byte("name: "+secretToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeBundle(t, map[string]string{
		"bundle.yaml":          baseManifest,
		"objects/account.yaml": "name: account\nlabel: Account\nfields:\n  - key: title\n    type: text\n    label: Title\n",
		"shared/contact.yaml":  "name: contact\nlabel: Contact\nfields:\n  - key: email\n    type: email\n    label: Email\n",
	})
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(stolen, "objects/stolen.yaml")                                  // absolute, outside
	link("../../"+filepath.Base(outside)+"/token", "objects/token.yaml") // relative, climbing out
	link("/etc/passwd", "objects/passwd.yaml")
	link("../shared/contact.yaml", "objects/contact.yaml") // inside the bundle: fine
	link(filepath.Join(outside, "views"), "views")         // a whole folder outside
	link("nowhere.yaml", "objects/dangling.yaml")

	b, res := loadOK(t, dir)
	var names []string
	for _, o := range b.Objects {
		names = append(names, o.Name)
	}
	if strings.Join(names, ",") != "account,contact" {
		t.Errorf("objects read: %v; want account and contact (the link inside the folder) only", names)
	}
	if len(b.Views) != 0 {
		t.Errorf("views read through a linked folder: %v", b.Views)
	}
	refused := map[string]bool{}
	for _, is := range res.Issues {
		if is.Code == CodeUnsafeLink {
			refused[filepath.Base(is.File)] = true
		}
		if text := is.Message + " " + is.Path; strings.Contains(text, secretToken) || strings.Contains(text, "root:") || strings.Contains(text, "leaked") {
			t.Errorf("an issue echoes the target's content: %s", is.String())
		}
	}
	for _, f := range []string{"stolen.yaml", "token.yaml", "passwd.yaml", "views", "dangling.yaml"} {
		if !refused[f] {
			t.Errorf("%s: not refused as a link leading outside:%s", f, dumpIssues(res))
		}
	}
	if res.Valid {
		t.Error("a bundle with links leading outside is valid")
	}

	// The manifest itself.
	dir2 := writeBundle(t, map[string]string{"objects/a.yaml": "name: a\nlabel: A\nfields: []\n"})
	if err := os.Symlink(token, filepath.Join(dir2, "bundle.yaml")); err != nil {
		t.Fatal(err)
	}
	_, res = loadOK(t, dir2)
	if res.Valid || countCode(res, CodeUnsafeLink) != 1 || strings.Contains(dumpIssues(res), secretToken) {
		t.Errorf("linked manifest:%s", dumpIssues(res))
	}
}

// TestUnparseableFilesShowOnlyNameAndLine: a file in the bundle that is not a definition (a token, a
// password file) must not have its content quoted back by the YAML or JSON decoder's message.
func TestUnparseableFilesShowOnlyNameAndLine(t *testing.T) {
	dir := writeBundle(t, map[string]string{
		"bundle.yaml":       baseManifest,
		"objects/a.yaml":    secretToken + ": [\n",
		"objects/b.yaml":    "x: *" + secretToken + "\n", // an unknown alias names it
		"objects/c.json":    secretToken + "\n",
		"objects/d.yaml":    "key: \"" + secretToken + "\\q\"\n", // a bad escape
		"objects/e.yaml":    "root:x:0:0:root:/root:/bin/bash\n" + secretToken + "\n",
		"views/passwd.yaml": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
		"objects/f.yaml":    "\t" + secretToken + "\n",
	})
	_, res := loadOK(t, dir)
	for _, is := range res.Issues {
		if text := is.String(); strings.Contains(text, secretToken[:10]) || strings.Contains(text, "root:x") || strings.Contains(text, "nologin") {
			t.Errorf("an issue quotes the file: %s", text)
		}
	}
	if res.Valid {
		t.Errorf("broken files are valid:%s", dumpIssues(res))
	}
}
