package apps

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

func TestConstraint(t *testing.T) {
	cases := []struct {
		c     string
		allow []string
		deny  []string
	}{
		{"", []string{"0.0.1", "9.9.9"}, nil},
		{"*", []string{"1.0.0"}, nil},
		{"1.2.3", []string{"1.2.3", "v1.2.3"}, []string{"1.2.4", "1.2.2"}},
		{"=1.2.3", []string{"1.2.3"}, []string{"1.3.0"}},
		{">=1.2.0 <2.0.0", []string{"1.2.0", "1.9.9"}, []string{"1.1.9", "2.0.0", "2.0.0-rc.1"}},
		{">1.0.0", []string{"1.0.1"}, []string{"1.0.0"}},
		{"<=1.0.0", []string{"1.0.0", "0.1.0"}, []string{"1.0.1"}},
		{"^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"2.0.0", "1.2.2"}},
		{"^0.2.3", []string{"0.2.9"}, []string{"0.3.0"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4"}},
		{"~1.2.3", []string{"1.2.9"}, []string{"1.3.0"}},
		{"~1", []string{"1.9.0"}, []string{"2.0.0"}},
		{">=1.0", []string{"1.0.0"}, []string{"0.9.0"}},
	}
	for _, tc := range cases {
		c, err := ParseConstraint(tc.c)
		if err != nil {
			t.Fatalf("%q: %v", tc.c, err)
		}
		for _, v := range tc.allow {
			if !c.Allows(v) {
				t.Errorf("%q should allow %s", tc.c, v)
			}
		}
		for _, v := range tc.deny {
			if c.Allows(v) {
				t.Errorf("%q should not allow %s", tc.c, v)
			}
		}
	}
	for _, bad := range []string{">=banana", "1.x.0", ">> 1.0.0"} {
		if _, err := ParseConstraint(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestLoadExamples(t *testing.T) {
	for _, name := range []string{"helpdesk", "helpdesk-1.1.0", "helpdesk-sla"} {
		app := mustLoad(t, exampleDir(name))
		if !app.Manifest.HasSeedData || len(app.Datasets) == 0 {
			t.Errorf("%s: hasSeedData should be derived true", name)
		}
		again := mustLoad(t, exampleDir(name))
		if app.Checksum == "" || app.Checksum != again.Checksum {
			t.Errorf("%s: checksum not stable: %q vs %q", name, app.Checksum, again.Checksum)
		}
	}
	v1 := mustLoad(t, exampleDir("helpdesk"))
	v11 := mustLoad(t, exampleDir("helpdesk-1.1.0"))
	if v1.Checksum == v11.Checksum {
		t.Error("different app contents share a checksum")
	}
	sla := mustLoad(t, exampleDir("helpdesk-sla"))
	if len(sla.Manifest.Dependencies) != 1 || sla.Manifest.Dependencies[0].Name != "helpdesk" || sla.Manifest.Dependencies[0].Version != ">=1.0.0 <2.0.0" {
		t.Errorf("dependencies = %+v", sla.Manifest.Dependencies)
	}
	b, _ := json.Marshal(sla.Manifest)
	var back struct {
		Dependencies []string `json:"dependencies"`
		HasSeedData  bool     `json:"hasSeedData"`
		Views        []string `json:"views"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Dependencies) != 1 || back.Dependencies[0] != "helpdesk@>=1.0.0 <2.0.0" || !back.HasSeedData || back.Views == nil {
		t.Errorf("manifest JSON = %s", b)
	}
	var rt Manifest
	if err := json.Unmarshal(b, &rt); err != nil || rt.Dependencies[0] != sla.Manifest.Dependencies[0] {
		t.Errorf("manifest JSON does not round-trip: %v %+v", err, rt.Dependencies)
	}
}

func TestLoadManifestObjectMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	writeFiles(t, dir, map[string]string{
		"app.yaml":            "name: shop\nlabel: Shop\nversion: 1.0.0\nobjects: [shop_order, shop_ghost]\n",
		"objects/order.yaml":  "name: shop_order\nfields:\n  name: { type: text }\n",
		"objects/extra.yaml":  "name: shop_extra\nfields:\n  name: { type: text }\n",
		"seed/orders.yaml":    "object: shop_order\nrecords:\n  - { name: o1 }\n",
		"views/unlisted.yaml": "name: shop_board\nobject: shop_order\n",
	})
	_, res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid {
		t.Fatal("want invalid")
	}
	// Listed but not defined: names the object and app.yaml, at the objects[1] path.
	found := false
	for _, is := range res.Issues {
		if is.Code == bundle.CodeMissingContent && strings.Contains(is.Message, "shop_ghost") && is.Path == "objects[1]" && strings.HasSuffix(is.File, "shop/app.yaml") && is.Line == 4 {
			found = true
		}
	}
	if !found {
		t.Errorf("no missing_content issue for shop_ghost at app.yaml:4 objects[1]:\n%s", FormatIssues(dir, res))
	}
	// Defined but not listed: names the object's file and app.yaml.
	if !hasIssue(res, bundle.CodeUnlistedContent, "object shop_extra is defined in") {
		t.Errorf("no unlisted issue for shop_extra:\n%s", FormatIssues(dir, res))
	}
	if !hasIssue(res, bundle.CodeUnlistedContent, "view shop_board") {
		t.Errorf("no unlisted issue for the view:\n%s", FormatIssues(dir, res))
	}
}

func TestLoadValidationIssues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bad")
	writeFiles(t, dir, map[string]string{
		"app.yaml": `name: Bad-App
version: one
minKernelVersion: latest
objects: [bad_thing]
dependencies:
  - "other@>=banana"
  - { name: bad_app }
config:
  tier: { type: string, default: 3, enum: [basic, pro] }
  speed: { type: float }
`,
		"objects/thing.yaml": "name: bad_thing\nfields:\n  name: { type: text }\n  qty: { type: number }\n  done: { type: boolean }\n",
		"seed/things.yaml": `object: bad_thing
mode: merge
records:
  - { name: a }
`,
		"seed/more.yaml": `- object: bad_thing
  records:
    - { name: a, qty: lots }
    - { name: b, colour: red }
    - { qty: 3 }
    - { name: c, done: maybe }
    - { name: c }
- object: not_mine
  records: [ { name: x } ]
`,
	})
	_, res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ code, msg string }{
		{bundle.CodeInvalidIdentifier, `name "Bad-App"`},
		{bundle.CodeMissingRequired, "label is required"},
		{bundle.CodeInvalidVersion, `version "one"`},
		{bundle.CodeInvalidVersion, `minKernelVersion "latest"`},
		{bundle.CodeInvalidVersion, `">=banana" is not a semantic version`},
		{bundle.CodeInvalidDefault, `default of config key "tier"`},
		{bundle.CodeInvalidEnum, `config key "speed" has type "float"`},
		{bundle.CodeInvalidEnum, `mode "merge"`},
		{bundle.CodeInvalidRecord, "must be a number"},
		{bundle.CodeInvalidRecord, `no field "colour"`},
		{bundle.CodeInvalidRecord, "record has no name"},
		{bundle.CodeInvalidRecord, "must be true or false"},
		{bundle.CodeInvalidRecord, `name "c" repeats records[3]`},
		{bundle.CodeDanglingReference, `object not_mine`},
	}
	for _, w := range want {
		if !hasIssue(res, w.code, w.msg) {
			t.Errorf("missing issue %s %q", w.code, w.msg)
		}
	}
	if t.Failed() {
		t.Log(FormatIssues(dir, res))
	}
	for _, is := range res.Issues {
		if is.File == "" || is.Path == "" && is.Code != bundle.CodeParseError {
			t.Errorf("issue without file or path: %+v", is)
		}
	}
}

func TestResolveConfig(t *testing.T) {
	app := mustLoad(t, exampleDir("helpdesk"))
	m := app.Manifest
	m.Config["region"] = ConfigDecl{Type: ConfigString, Required: true}
	cfg, err := m.ResolveConfig(map[string]any{"region": "eu", "first_response_hours": int64(8)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg["default_priority"] != "normal" || cfg["first_response_hours"] != 8.0 || cfg["auto_assign"] != false || cfg["region"] != "eu" {
		t.Errorf("config = %v", cfg)
	}
	_, err = m.ResolveConfig(map[string]any{"colour": "red", "first_response_hours": "soon", "default_priority": "asap"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, s := range []string{`"colour" is not declared`, `"first_response_hours" must be a number`, `"default_priority" must be one of ["low", "normal", "urgent"]`, `"region" is required`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if v, err := m.ParseConfigValue("auto_assign", "true"); err != nil || v != true {
		t.Errorf("ParseConfigValue = %v, %v", v, err)
	}
	if _, err := m.ParseConfigValue("first_response_hours", "x"); err == nil {
		t.Error("want an error for a non-number")
	}
}

func TestCatalogResolveChainAndCycle(t *testing.T) {
	root := t.TempDir()
	cat := filepath.Join(root, "catalog")
	simpleApp(t, cat, "app_c", "1.0.0", nil, "c_thing")
	simpleApp(t, cat, "app_c", "2.0.0", nil, "c_thing")
	simpleApp(t, cat, "app_b", "1.0.0", []string{"app_c@^1.0.0"}, "b_thing")
	simpleApp(t, cat, "app_a", "1.0.0", []string{"app_b@>=1.0.0", "app_c"}, "a_thing")
	c, err := LoadCatalog(cat)
	if err != nil {
		t.Fatal(err)
	}
	order, err := c.Resolve("app_a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range order {
		got = append(got, a.Manifest.Name+"@"+a.Manifest.Version)
	}
	if strings.Join(got, " ") != "app_c@1.0.0 app_b@1.0.0 app_a@1.0.0" {
		t.Errorf("order = %v", got)
	}

	// C missing from the catalog: the error names the chain a → b → c.
	missing := filepath.Join(root, "missing")
	simpleApp(t, missing, "app_b", "1.0.0", []string{"app_c@^1.0.0"}, "b_thing")
	simpleApp(t, missing, "app_a", "1.0.0", []string{"app_b"}, "a_thing")
	c2, err := LoadCatalog(missing)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Resolve("app_a")
	var me *MissingDependencyError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "app_a → app_b → app_c") || !strings.Contains(err.Error(), "^1.0.0") {
		t.Errorf("err = %v", err)
	}

	// A cycle is a validation error naming it.
	cyc := filepath.Join(root, "cycle")
	simpleApp(t, cyc, "app_a", "1.0.0", []string{"app_b"}, "a_thing")
	simpleApp(t, cyc, "app_b", "1.0.0", []string{"app_c"}, "b_thing")
	simpleApp(t, cyc, "app_c", "1.0.0", []string{"app_a@>=1.0.0"}, "c_thing")
	_, err = LoadCatalog(cyc)
	if !IsCycle(err) || !strings.Contains(err.Error(), "dependency cycle: app_a → app_b → app_c → app_a") {
		t.Errorf("err = %v", err)
	}
}

func TestCatalogExamples(t *testing.T) {
	c, err := LoadCatalog(filepath.Join("..", "..", "examples", "apps"))
	if err != nil {
		t.Fatal(err)
	}
	order, err := c.Resolve("helpdesk_sla")
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0].Manifest.Name != "helpdesk" || order[0].Manifest.Version != "1.1.0" || order[1].Manifest.Name != "helpdesk_sla" {
		t.Errorf("order = %v", order)
	}
	if vs := c.Versions("helpdesk"); len(vs) != 2 {
		t.Errorf("helpdesk versions = %d", len(vs))
	}
}
