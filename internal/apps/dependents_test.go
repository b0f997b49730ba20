package apps

import (
	"errors"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// Issue 15 item 2: with invoicing installed needing inventory >=1.1.0 <2.0.0, installing inventory 2.0.0 (or
// downgrading it to 1.0.0) must be refused up front, naming invoicing and its constraint — not reported by
// `app check invoicing` after the upgrade broke it.
func TestUpgradeBreakingDependentIsRefused(t *testing.T) {
	db, _ := newDB(t)
	root := t.TempDir()
	inv12 := simpleApp(t, root, "inventory", "1.2.0", nil, "inv_item")
	invoicing := simpleApp(t, root, "invoicing", "1.0.0", []string{"inventory@>=1.1.0 <2.0.0"}, "invoicing_invoice")
	install(t, db, inv12, InstallOptions{})
	install(t, db, invoicing, InstallOptions{})

	for _, tc := range []struct {
		version, verb string
	}{{"2.0.0", "upgrading"}, {"1.0.0", "downgrading"}} {
		next := simpleApp(t, root, "inventory", tc.version, nil, "inv_item")
		p, err := PlanInstall(ctx, db, next, InstallOptions{AllowDowngrade: true})
		if err != nil {
			t.Fatal(err)
		}
		is := issuesOf(p.Check, CategoryDependencyMissing)
		if p.Check.Compatible || len(is) != 1 {
			t.Fatalf("inventory %s: check = %+v", tc.version, p.Check)
		}
		for _, want := range []string{"invoicing 1.0.0 requires inventory >=1.1.0 <2.0.0", tc.verb + " inventory from 1.2.0 to " + tc.version} {
			if !strings.Contains(is[0].Message, want) {
				t.Errorf("inventory %s: issue %q lacks %q", tc.version, is[0].Message, want)
			}
		}
		if _, err := Install(ctx, db, next, InstallOptions{AllowDowngrade: true}); !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "invoicing") {
			t.Errorf("install inventory %s: err = %v", tc.version, err)
		}
		if a, _, _ := IsInstalled(ctx, db, "inventory"); a.Version != "1.2.0" {
			t.Errorf("inventory is at %s after a refused install of %s", a.Version, tc.version)
		}
	}
	// An upgrade the constraint allows goes through.
	install(t, db, simpleApp(t, root, "inventory", "1.9.0", nil, "inv_item"), InstallOptions{})

	// In one revision that also replaces invoicing (a GitOps push of both), the new invoicing is judged on its own.
	inv2 := simpleApp(t, root, "inventory", "2.0.0", nil, "inv_item")
	invoicing2 := simpleApp(t, root, "invoicing", "2.0.0", []string{"inventory@>=2.0.0"}, "invoicing_invoice")
	st, err := schema.ReadState(ctx, db, Reads([]*App{inv2, invoicing2}, nil))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := NewTenant(st)
	if err != nil {
		t.Fatal(err)
	}
	tn.Replacing("invoicing")
	for _, a := range []*App{inv2, invoicing2} {
		p, err := tn.PlanInstall(a, InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Check.Compatible {
			t.Fatalf("%s %s in a revision that replaces invoicing: %+v", a.Manifest.Name, a.Manifest.Version, p.Check)
		}
	}
}
