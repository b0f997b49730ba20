package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
)

// versionedApp is apps/<name> at version with one object and optional dependencies ("name@constraint").
func versionedApp(name, version, object string, deps ...string) map[string][]byte {
	manifest := "name: " + name + "\nlabel: " + name + "\nversion: " + version + "\nobjects: [" + object + "]\n"
	if len(deps) > 0 {
		manifest += "dependencies: [\"" + strings.Join(deps, "\", \"") + "\"]\n"
	}
	return map[string][]byte{
		"apps/" + name + "/app.yaml":                    []byte(manifest),
		"apps/" + name + "/objects/" + object + ".yaml": []byte("name: " + object + "\nlabel: " + object + "\nfields:\n  title: { type: text, label: Title }\n"),
	}
}

// Issue 15 item 2, GitOps side: the repository deploys inventory; a team installed invoicing (needing inventory
// >=1.1.0 <2.0.0) on the tenant with the CLI. A push of inventory 2.0.0 must fail the tenant at plan time, naming
// invoicing and its constraint, and change nothing; a later push that moves both apps goes through in one batch.
func TestReconcileRefusesUpgradeBreakingDependent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []tenantSpec{{"t-a", map[string]string{"env": "prod"}}})
	r := e.reconciler(Options{})
	cfg := func(list string) []byte {
		return []byte("apiVersion: objectstack.ai/v1\ntargets:\n  - apps: [" + list + "]\n    selector: {labels: {env: prod}}\n")
	}
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": cfg("inventory")}, versionedApp("inventory", "1.2.0", "inv_item")))
	e.remote.Commit("inventory 1.2.0")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	dir := t.TempDir()
	for p, data := range versionedApp("invoicing", "1.0.0", "inv_invoice", "inventory@>=1.1.0 <2.0.0") {
		full := filepath.Join(dir, strings.TrimPrefix(p, "apps/invoicing/"))
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	invoicing, vr, err := apps.Load(dir)
	if err != nil || !vr.Valid {
		t.Fatalf("load invoicing: %v %+v", err, vr)
	}
	if out, err := apps.Install(ctx, e.db("t-a"), invoicing, apps.InstallOptions{Source: "cli"}); err != nil || !out.Success {
		t.Fatalf("cli install: %+v %v", out, err)
	}

	e.remote.Write(versionedApp("inventory", "2.0.0", "inv_item"))
	e.remote.Commit("inventory 2.0.0")
	sum, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if oc := outcomes(sum); oc["t-a"] != OutcomeFailed {
		t.Fatalf("inventory 2.0.0 over invoicing's constraint: %+v", sum)
	}
	st := e.status("t-a")
	for _, want := range []string{"[dependency_missing]", "invoicing 1.0.0 requires inventory >=1.1.0 <2.0.0", "upgrading inventory from 1.2.0 to 2.0.0"} {
		mustContain(t, st.Message, want)
	}
	if a, _, _ := apps.IsInstalled(ctx, e.db("t-a"), "inventory"); a.Version != "1.2.0" {
		t.Fatalf("inventory moved to %s although the tenant was refused", a.Version)
	}

	// Moving both in one revision: the repository now owns invoicing 2.0.0, which accepts inventory 2.
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": cfg("inventory, invoicing")},
		versionedApp("invoicing", "2.0.0", "inv_invoice", "inventory@>=2.0.0 <3.0.0")))
	e.remote.Commit("invoicing 2.0.0 with inventory 2.0.0")
	if sum, err := r.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("moving both: %+v %v %s", sum, err, e.status("t-a").Message)
	}
}
