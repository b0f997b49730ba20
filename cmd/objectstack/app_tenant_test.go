package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
)

// cliApp writes an app folder (one text field per object) and returns it.
func cliApp(t *testing.T, name, version, extra string, objects ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name+"-"+version)
	files := map[string]string{"app.yaml": fmt.Sprintf("name: %s\nlabel: %s\nversion: %s\nobjects: [%s]\n%s", name, name, version, strings.Join(objects, ", "), extra)}
	for _, o := range objects {
		files["objects/"+o+".yaml"] = "name: " + o + "\nfields:\n  title: { type: text }\n"
	}
	writeTree(t, dir, files)
	return dir
}

func cliBundle(t *testing.T, name, version string, objects ...string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"bundle.yaml": fmt.Sprintf("name: %s\nversion: %s\nobjects: [%s]\n", name, version, strings.Join(objects, ", "))}
	for _, o := range objects {
		files["objects/"+o+".yaml"] = "name: " + o + "\nfields:\n  title: { type: text }\n"
	}
	writeTree(t, dir, files)
	return dir
}

// Issue 15 item 3: `app check --db FILE` cannot know a tenant's quotas. Run against a tenant (its id and data dir),
// one check reports all four categories of the protocol: kernel_version, object_conflict, dependency_missing and
// quota_exceeded; install refuses the same app, and one that fits the quota goes in.
func TestAppCommandsAgainstATenant(t *testing.T) {
	data := t.TempDir()
	if out, errOut, code := runCLI(t, "tenant", "create", "acme", "--org-id", "org-1", "--quota", "maxObjects=1", "--data-dir", data); code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, out, errOut)
	}
	tenant := []string{"--tenant", "acme", "--data-dir", data}
	crm := cliApp(t, "crm", "1.0.0", "", "crm_contact")
	if out, errOut, code := runCLI(t, append([]string{"app", "install", "--app", crm}, tenant...)...); code != 0 {
		t.Fatalf("install crm (1 object, quota 1): exit %d\n%s%s", code, out, errOut)
	}
	// Claims crm's object, adds one more (over maxObjects 1), needs a newer kernel and an app nobody installed.
	bad := cliApp(t, "sales", "1.0.0", "minKernelVersion: 99.0.0\ndependencies: [\"billing@>=1.0.0\"]\n", "crm_contact", "sales_deal")
	out, errOut, code := runCLI(t, append([]string{"app", "check", "--app", bad, "--json"}, tenant...)...)
	var chk apps.AppCompatibilityCheck
	if code != exitFailed || json.Unmarshal([]byte(out), &chk) != nil || chk.Compatible {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	cats := map[string]bool{}
	for _, is := range chk.Issues {
		if is.Severity == "error" {
			cats[is.Category] = true
		}
	}
	var got []string
	for c := range cats {
		got = append(got, c)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "dependency_missing,kernel_version,object_conflict,quota_exceeded" {
		t.Fatalf("categories %v:\n%s", got, out)
	}
	out, errOut, code = runCLI(t, append([]string{"app", "install", "--app", bad}, tenant...)...)
	if code != exitFailed || !strings.Contains(out+errOut, "[quota_exceeded]") {
		t.Fatalf("install of the incompatible app: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = runCLI(t, append([]string{"app", "list"}, tenant...)...); code != 0 || strings.Contains(out, "sales") || !strings.Contains(out, "crm 1.0.0") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if _, _, code = runCLI(t, "app", "list", "--tenant", "acme", "--db", filepath.Join(data, "x.db"), "--data-dir", data); code != exitUsage {
		t.Errorf("--tenant with --db: exit %d, want usage", code)
	}
}

// Issue 15 item 2, CLI side: invoicing (needing inventory >=1.1.0 <2.0.0) is installed; `app check` and
// `app upgrade` of inventory 2.0.0 must refuse, naming invoicing and its constraint, and leave 1.2.0 installed.
func TestAppUpgradeBreakingADependentIsRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tenant.db")
	for _, dir := range []string{
		cliApp(t, "inventory", "1.2.0", "", "inv_item"),
		cliApp(t, "invoicing", "1.0.0", "dependencies: [\"inventory@>=1.1.0 <2.0.0\"]\n", "inv_invoice"),
	} {
		if out, errOut, code := runCLI(t, "app", "install", "--db", db, "--app", dir); code != 0 {
			t.Fatalf("install %s: exit %d\n%s%s", dir, code, out, errOut)
		}
	}
	inv2 := cliApp(t, "inventory", "2.0.0", "", "inv_item")
	want := "invoicing 1.0.0 requires inventory >=1.1.0 <2.0.0"
	out, errOut, code := runCLI(t, "app", "check", "--db", db, "--app", inv2)
	if code != exitFailed || !strings.Contains(out, "[dependency_missing]") || !strings.Contains(out, want) {
		t.Fatalf("check inventory 2.0.0: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "app", "upgrade", "--db", db, "--app", inv2)
	if code != exitFailed || !strings.Contains(out+errOut, want) {
		t.Fatalf("upgrade inventory 2.0.0: exit %d\n%s%s", code, out, errOut)
	}
	inv1 := cliApp(t, "inventory", "1.0.0", "", "inv_item")
	out, errOut, code = runCLI(t, "app", "upgrade", "--db", db, "--app", inv1, "--allow-downgrade")
	if code != exitFailed || !strings.Contains(out+errOut, "downgrading inventory from 1.2.0 to 1.0.0") {
		t.Fatalf("downgrade inventory 1.0.0: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ = runCLI(t, "app", "list", "--db", db); !strings.Contains(out, "inventory 1.2.0") {
		t.Fatalf("inventory moved:\n%s", out)
	}
}

// Issue 15 item 8, CLI side: maxObjects holds for bundles (tenant create --bundle, apply --tenant) as it does for
// apps, and maxDeploymentsPerDay counts the tenant's deployments today; every refusal names quota_exceeded.
func TestBundleQuotasFromTheCLI(t *testing.T) {
	data := t.TempDir()
	two := cliBundle(t, "crm", "1.0.0", "crm_account", "crm_contact")
	out, errOut, code := runCLI(t, "tenant", "create", "small", "--org-id", "o", "--quota", "maxObjects=1", "--bundle", two, "--data-dir", data)
	if code == 0 || !strings.Contains(out+errOut, "quota_exceeded") || !strings.Contains(out+errOut, "maxObjects") {
		t.Fatalf("tenant create --quota maxObjects=1 --bundle <2 objects>: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ = runCLI(t, "tenant", "list", "--data-dir", data); strings.Contains(out, "small") {
		t.Fatalf("a refused create left a tenant:\n%s", out)
	}
	// The example CRM bundle seeds 3 accounts: over maxRecordsPerObject 2, refused before anything exists.
	crm := filepath.Join("..", "..", "examples", "bundles", "crm")
	out, errOut, code = runCLI(t, "tenant", "create", "seeded", "--org-id", "o", "--quota", "maxRecordsPerObject=2", "--bundle", crm, "--data-dir", data)
	if code == 0 || !strings.Contains(out+errOut, "quota_exceeded") || !strings.Contains(out+errOut, "3 seed records") {
		t.Fatalf("tenant create --quota maxRecordsPerObject=2 --bundle crm: exit %d\n%s%s", code, out, errOut)
	}

	if out, errOut, code = runCLI(t, "tenant", "create", "small", "--org-id", "o", "--quota", "maxObjects=1,maxDeploymentsPerDay=2", "--data-dir", data); code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, out, errOut)
	}
	tenant := []string{"--tenant", "small", "--data-dir", data}
	out, errOut, code = runCLI(t, append([]string{"apply", "--bundle", two}, tenant...)...)
	if code != exitFailed || !strings.Contains(out+errOut, "[quota_exceeded]") || !strings.Contains(out+errOut, "maxObjects quota of 1") {
		t.Fatalf("apply of 2 objects to a tenant with maxObjects 1: exit %d\n%s%s", code, out, errOut)
	}
	one := cliBundle(t, "crm", "1.0.0", "crm_account")
	if out, errOut, code = runCLI(t, append([]string{"apply", "--bundle", one}, tenant...)...); code != 0 {
		t.Fatalf("apply of 1 object: exit %d\n%s%s", code, out, errOut)
	}
	// Second deployment today: fits maxDeploymentsPerDay 2. The third does not.
	oneMore := func(version, field string) (string, int) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"bundle.yaml": "name: crm\nversion: " + version + "\nobjects: [crm_account]\n",
			"objects/crm_account.yaml": "name: crm_account\nfields:\n  title: { type: text }\n  " + field + ": { type: text }\n"})
		out, errOut, code := runCLI(t, append([]string{"apply", "--bundle", dir}, tenant...)...)
		return out + errOut, code
	}
	if all, code := oneMore("1.1.0", "phone"); code != 0 {
		t.Fatalf("second deployment today: exit %d\n%s", code, all)
	}
	all, code := oneMore("1.2.0", "email")
	if code != exitFailed || !strings.Contains(all, "[quota_exceeded]") || !strings.Contains(all, "maxDeploymentsPerDay quota of 2") {
		t.Fatalf("third deployment today: exit %d\n%s", code, all)
	}
}

// Issue 15 item 8, storage: maxStorageBytes is the platform's size limit on the tenant database; a deployment that
// outgrows it is refused by the database itself, and the error must say which quota it hit, not only SQLite's
// "database or disk is full".
func TestStorageQuotaNamedWhenTheDatabaseIsFull(t *testing.T) {
	data := t.TempDir()
	if out, errOut, code := runCLI(t, "tenant", "create", "tiny", "--org-id", "o", "--quota", "maxStorageBytes=40960", "--data-dir", data); code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := runCLI(t, "apply", "--tenant", "tiny", "--data-dir", data, "--bundle", filepath.Join("..", "..", "examples", "bundles", "crm"))
	all := out + errOut
	if code != exitFailed || !strings.Contains(all, "[quota_exceeded]") || !strings.Contains(all, "maxStorageBytes") || !strings.Contains(all, "nothing was applied") {
		t.Fatalf("apply over the size limit: exit %d\n%s", code, all)
	}
	out, errOut, code = runCLI(t, "app", "install", "--tenant", "tiny", "--data-dir", data, "--app", filepath.Join("..", "..", "examples", "apps", "helpdesk"))
	if all = out + errOut; code != exitFailed || !strings.Contains(all, "[quota_exceeded]") || !strings.Contains(all, "maxStorageBytes") {
		t.Fatalf("app install over the size limit: exit %d\n%s", code, all)
	}
}
