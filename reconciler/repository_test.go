package reconciler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tenant"
)

func TestExampleRepositoryIsValid(t *testing.T) {
	repo, err := LoadRepository(filepath.Join("..", "examples", "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	if !repo.Valid() {
		t.Fatalf("examples/gitops is invalid: %+v", repo.Errors())
	}
	if repo.Bundles["crm"] == nil || repo.Apps["helpdesk"] == nil {
		t.Fatalf("example content: bundles %v apps %v", len(repo.Bundles), len(repo.Apps))
	}
	tenants := []tenant.Tenant{
		{ID: "acme", Status: tenant.StatusActive, Plan: "free", Region: "us-east"},
		{ID: "canary-co", Status: tenant.StatusActive, Plan: "pro", Labels: map[string]string{"tier": "paid", "canary": "true"}},
		{ID: "eu-big", Status: tenant.StatusActive, Plan: "enterprise", Region: "eu-west", Labels: map[string]string{"tier": "paid"}},
		{ID: "globex", Status: tenant.StatusSuspended},
		{ID: "nobody", Status: tenant.StatusActive, Plan: "free"},
	}
	waves, desired := repo.Resolve(tenants)
	if u := repo.UnknownTenants(tenants); strings.Join(u, ",") != "globex" {
		t.Fatalf("unknown tenants: %v (globex is named but suspended)", u)
	}
	got := map[string][]string{}
	for _, d := range desired {
		for _, u := range d.Units {
			got[d.Tenant.ID] = append(got[d.Tenant.ID], string(u.Owner))
		}
	}
	want := map[string]string{"acme": "bundle:crm", "canary-co": "bundle:crm", "eu-big": "bundle:crm app:helpdesk"}
	if len(got) != len(want) {
		t.Fatalf("targeted tenants: %v (suspended and unselected tenants are not targeted)", got)
	}
	for id, w := range want {
		if strings.Join(got[id], " ") != w {
			t.Fatalf("%s gets %v, want %s", id, got[id], w)
		}
	}
	if len(waves) != 2 || waves[0].Name != "canary" || len(waves[0].Members) != 1 || waves[0].Members[0].Tenant.ID != "canary-co" || len(waves[1].Members) != 2 {
		t.Fatalf("waves: %+v", waves)
	}
	for _, d := range desired {
		if d.Tenant.ID == "eu-big" {
			if d.Units[1].AppRef.ConfigOverrides["default_priority"] != "urgent" || len(d.Units[1].Allow) != 1 {
				t.Fatalf("helpdesk unit: %+v", d.Units[1])
			}
		}
	}
}

func TestRepositoryIssuesNameFileAndPath(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("objectstack.yaml", "apiVersion: objectstack.ai/v1\ntargets:\n  - bundles: [core, missing]\n    selector: {}\n")
	for p, s := range coreBundle("1.0.0") {
		write(p, string(s))
	}
	// An untargeted bundle that is broken still makes the revision invalid.
	write("bundles/spare/bundle.yaml", "name: spare\nversion: 1.0.0\nobjects: [thing]\n")
	write("bundles/spare/objects/thing.yaml", "name: thing\nfields:\n  size: { type: bigly }\n")
	repo, err := LoadRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	if repo.Valid() {
		t.Fatal("repository with a dangling target and a broken bundle must be invalid")
	}
	var dangling, broken bool
	for _, is := range repo.Errors() {
		if is.File == "objectstack.yaml" && is.Path == "targets[0].bundles[1]" && strings.Contains(is.Message, "bundles/missing") && is.Line == 3 {
			dangling = true
		}
		if is.File == "bundles/spare/objects/thing.yaml" && strings.Contains(is.Path, "size") {
			broken = true
		}
	}
	if !dangling || !broken {
		t.Fatalf("issues: %+v", repo.Errors())
	}
	// No objectstack.yaml at all.
	empty := t.TempDir()
	repo, err = LoadRepository(empty)
	if err != nil || repo.Valid() || repo.Errors()[0].File != "objectstack.yaml" {
		t.Fatalf("empty repository: %+v %v", repo, err)
	}
}
