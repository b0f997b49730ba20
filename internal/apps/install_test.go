package apps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

var ctx = context.Background()

func TestInstallFreshAndInstalled(t *testing.T) {
	db, _ := newDB(t)
	app := mustLoad(t, exampleDir("helpdesk"))
	res := install(t, db, app, InstallOptions{})
	if res.Action != ActionInstall || res.AppID != "helpdesk" || res.Version != "1.0.0" || res.SeededRecords != 10 {
		t.Errorf("result = %+v", res)
	}
	if want := []string{"helpdesk_agent", "helpdesk_category", "helpdesk_ticket"}; !reflect.DeepEqual(res.CreatedTables, want) {
		t.Errorf("createdTables = %v", res.CreatedTables)
	}
	if !reflect.DeepEqual(res.InstalledObjects, []string{"helpdesk_agent", "helpdesk_category", "helpdesk_ticket"}) && len(res.InstalledObjects) != 3 {
		t.Errorf("installedObjects = %v", res.InstalledObjects)
	}
	if n := count(t, db, `SELECT count(*) FROM helpdesk_category`); n != 4 {
		t.Errorf("categories = %d", n)
	}
	// Values are encoded per field type: JSON text for tags, 0/1 for booleans; ids are generated when absent.
	var skills string
	var onDuty int
	if err := db.QueryRow(`SELECT skills, on_duty FROM helpdesk_agent WHERE name = 'alan'`).Scan(&skills, &onDuty); err != nil {
		t.Fatal(err)
	}
	if skills != `["account_access"]` || onDuty != 0 {
		t.Errorf("alan: skills=%q on_duty=%d", skills, onDuty)
	}
	var id string
	if err := db.QueryRow(`SELECT id FROM helpdesk_ticket WHERE name = 'HD-2'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if len(id) != 16 || strings.Trim(id, idAlphabet) != "" {
		t.Errorf("generated id %q is not a 16-char nanoid", id)
	}
	if n := count(t, db, `SELECT count(*) FROM helpdesk_ticket t JOIN helpdesk_category c ON c.id = t.category WHERE t.name = 'HD-1' AND c.name = 'billing'`); n != 1 {
		t.Error("seeded lookup does not join")
	}

	list, err := Installed(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "helpdesk" || list[0].Version != "1.0.0" || list[0].Checksum != app.Checksum || list[0].Config["default_priority"] != "normal" {
		t.Errorf("installed = %+v", list)
	}
	reg, err := schema.RegisteredObjects(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reg {
		if r.Owner != "app:helpdesk" {
			t.Errorf("object %s owned by %s", r.Name, r.Owner)
		}
	}
	if len(reg) != 3 {
		t.Errorf("registered = %d", len(reg))
	}

	// Same version, same contents, same config: nothing to do, nothing written.
	again, err := Install(ctx, db, app, InstallOptions{})
	if err != nil || again.Action != ActionNone || !again.Success || again.SeededRecords != 0 {
		t.Errorf("second install = %+v, %v", again, err)
	}
}

func TestSeedIdempotent(t *testing.T) {
	db, _ := newDB(t)
	app := mustLoad(t, exampleDir("helpdesk"))
	install(t, db, app, InstallOptions{})
	rows := func() int {
		return count(t, db, `SELECT (SELECT count(*) FROM helpdesk_category) + (SELECT count(*) FROM helpdesk_agent) + (SELECT count(*) FROM helpdesk_ticket)`)
	}
	if rows() != 10 {
		t.Fatalf("rows = %d", rows())
	}
	var idBefore string
	if err := db.QueryRow(`SELECT id FROM helpdesk_ticket WHERE name = 'HD-3'`).Scan(&idBefore); err != nil {
		t.Fatal(err)
	}
	// A user edits a seeded row; a reinstall (changed config forces one) upserts by external id.
	if _, err := db.Exec(`UPDATE helpdesk_ticket SET subject = 'edited' WHERE name = 'HD-3'`); err != nil {
		t.Fatal(err)
	}
	res := install(t, db, app, InstallOptions{ConfigOverrides: map[string]any{"auto_assign": true}})
	if res.Action != ActionReinstall || res.SeededRecords != 10 {
		t.Errorf("reinstall = %+v", res)
	}
	if rows() != 10 {
		t.Errorf("rows after reinstall = %d, want 10 (no duplicates)", rows())
	}
	var idAfter, subject string
	if err := db.QueryRow(`SELECT id, subject FROM helpdesk_ticket WHERE name = 'HD-3'`).Scan(&idAfter, &subject); err != nil {
		t.Fatal(err)
	}
	if idAfter != idBefore || subject != "Export to CSV fails" {
		t.Errorf("upsert kept id %q→%q, subject %q", idBefore, idAfter, subject)
	}
	inst, _, _ := IsInstalled(ctx, db, "helpdesk")
	if inst.Config["auto_assign"] != true {
		t.Errorf("config not stored: %v", inst.Config)
	}
	// Uninstall keeping data, then install again: the tables are adopted and the seed rows are not duplicated.
	if err := Uninstall(ctx, db, "helpdesk", UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	res = install(t, db, app, InstallOptions{})
	if res.Action != ActionInstall || len(res.CreatedTables) != 0 {
		t.Errorf("re-install after uninstall = %+v", res)
	}
	if rows() != 10 {
		t.Errorf("rows after uninstall + install = %d, want 10", rows())
	}
}

func TestSkipSeedData(t *testing.T) {
	db, _ := newDB(t)
	res := install(t, db, mustLoad(t, exampleDir("helpdesk")), InstallOptions{SkipSeedData: true})
	if res.SeededRecords != 0 || count(t, db, `SELECT count(*) FROM helpdesk_ticket`) != 0 {
		t.Errorf("seed data written despite skipSeedData: %+v", res)
	}
}

func TestCheckKernelVersion(t *testing.T) {
	db, _ := newDB(t)
	dir := filepath.Join(t.TempDir(), "future")
	writeFiles(t, dir, map[string]string{
		"app.yaml":           "name: future\nlabel: Future\nversion: 1.0.0\nminKernelVersion: 99.0.0\nobjects: [future_thing]\n",
		"objects/thing.yaml": "name: future_thing\nfields:\n  name: { type: text }\n",
	})
	app := mustLoad(t, dir)
	chk, err := Check(ctx, db, app, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	is := issuesOf(chk, CategoryKernelVersion)
	if chk.Compatible || len(is) != 1 || !strings.Contains(is[0].Message, "99.0.0") || !strings.Contains(is[0].Message, KernelVersion) {
		t.Errorf("check = %+v", chk)
	}
	res, err := Install(ctx, db, app, InstallOptions{})
	if !errors.Is(err, ErrIncompatible) || res.Success || !strings.Contains(res.Error, "kernel_version") {
		t.Errorf("install = %+v, %v", res, err)
	}
	if tables := tableNames(t, db); len(tables) != 0 {
		t.Errorf("refused install created tables %v", tables)
	}
}

func TestCheckObjectConflict(t *testing.T) {
	db, _ := newDB(t)
	// bundle:crm already owns helpdesk_category.
	obj := bundle.Object{Name: "helpdesk_category", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText}}}
	p, err := schema.PlanOwner(ctx, db, schema.BundleOwner("crm"), []bundle.Object{obj}, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	app := mustLoad(t, exampleDir("helpdesk"))
	chk, err := Check(ctx, db, app, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	is := issuesOf(chk, CategoryObjectConflict)
	if chk.Compatible || len(is) != 1 || !strings.Contains(is[0].Message, "helpdesk_category") || !strings.Contains(is[0].Message, "bundle:crm") {
		t.Errorf("check = %+v", chk)
	}
	// PlanInstall still returns the check (no schema plan while the conflict stands); Install refuses.
	plan, err := PlanInstall(ctx, db, app, InstallOptions{})
	if err != nil || plan.Check.Compatible || plan.Schema != nil {
		t.Errorf("plan = %+v, %v", plan, err)
	}
	if _, err := Install(ctx, db, app, InstallOptions{}); !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "bundle:crm") {
		t.Errorf("install err = %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 'helpdesk_ticket'`); n != 0 {
		t.Error("refused install created helpdesk_ticket")
	}
}

func TestCheckDependencyMissing(t *testing.T) {
	db, _ := newDB(t)
	sla := mustLoad(t, exampleDir("helpdesk-sla"))
	chk, err := Check(ctx, db, sla, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	is := issuesOf(chk, CategoryDependencyMissing)
	var errs []CompatibilityIssue
	for _, i := range is {
		if i.Severity == "error" {
			errs = append(errs, i)
		}
	}
	if chk.Compatible || len(errs) != 1 || !strings.Contains(errs[0].Message, "helpdesk >=1.0.0 <2.0.0") || !strings.Contains(errs[0].Message, "not installed") {
		t.Errorf("check = %+v", chk)
	}

	// An installed version outside the constraint is named with the constraint and the installed version.
	old := simpleApp(t, t.TempDir(), "helpdesk", "0.9.0", nil, "helpdesk_legacy")
	install(t, db, old, InstallOptions{})
	chk, _ = Check(ctx, db, sla, InstallOptions{})
	is = issuesOf(chk, CategoryDependencyMissing)
	if chk.Compatible || len(is) == 0 || !strings.Contains(is[0].Message, ">=1.0.0 <2.0.0") || !strings.Contains(is[0].Message, "0.9.0 is installed") {
		t.Errorf("check = %+v", chk)
	}
}

func TestDependencyChainInstall(t *testing.T) {
	db, _ := newDB(t)
	root := t.TempDir()
	c := simpleApp(t, filepath.Join(root, "cat"), "app_c", "1.0.0", nil, "c_thing")
	b := simpleApp(t, filepath.Join(root, "cat"), "app_b", "1.0.0", []string{"app_c@^1.0.0"}, "b_thing")
	a := simpleApp(t, filepath.Join(root, "cat"), "app_a", "1.0.0", []string{"app_b"}, "a_thing")

	// A needs B needs C; nothing installed, B is in the catalog but C is not: both links are reported, C with
	// its chain.
	catBOnly, err := NewCatalog(b)
	if err != nil {
		t.Fatal(err)
	}
	chk, err := Check(ctx, db, a, InstallOptions{Catalog: catBOnly})
	if err != nil {
		t.Fatal(err)
	}
	msgs := issuesOf(chk, CategoryDependencyMissing)
	joined := ""
	for _, m := range msgs {
		joined += m.Message + "\n"
	}
	if chk.Compatible || !strings.Contains(joined, "app_a requires app_b (any version), which is not installed") ||
		!strings.Contains(joined, "app_b requires app_c ^1.0.0, which is not installed (chain app_a → app_b → app_c)") {
		t.Errorf("issues:\n%s", joined)
	}

	// Install in the catalog's order; then B's chain is satisfied.
	full, err := NewCatalog(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	order, err := full.Resolve("app_a")
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range order {
		install(t, db, app, InstallOptions{})
	}
	// Uninstalling C while B depends on it is refused, naming B.
	err = Uninstall(ctx, db, "app_c", UninstallOptions{})
	if !errors.Is(err, ErrHasDependents) || !strings.Contains(err.Error(), "app_b") {
		t.Errorf("uninstall app_c: %v", err)
	}
	// Uninstalling B while A depends on it is refused too; top-down works.
	if err := Uninstall(ctx, db, "app_b", UninstallOptions{}); !errors.Is(err, ErrHasDependents) || !strings.Contains(err.Error(), "app_a") {
		t.Errorf("uninstall app_b: %v", err)
	}
	for _, n := range []string{"app_a", "app_b", "app_c"} {
		if err := Uninstall(ctx, db, n, UninstallOptions{Purge: true}); err != nil {
			t.Fatalf("uninstall %s: %v", n, err)
		}
	}
	if tables := tableNames(t, db); len(tables) != 0 {
		t.Errorf("tables left after purge: %v", tables)
	}
}

func TestCheckQuota(t *testing.T) {
	db, _ := newDB(t)
	app := mustLoad(t, exampleDir("helpdesk"))
	chk, err := Check(ctx, db, app, InstallOptions{Limits: Limits{MaxObjects: ptr(2), MaxRecordsPerObject: ptr(3)}})
	if err != nil {
		t.Fatal(err)
	}
	is := issuesOf(chk, CategoryQuotaExceeded)
	if chk.Compatible || len(is) != 2 {
		t.Fatalf("check = %+v", chk)
	}
	if !strings.Contains(is[0].Message, "maxObjects quota of 2") || !strings.Contains(is[0].Message, "would have 3 objects") {
		t.Errorf("maxObjects issue = %q", is[0].Message)
	}
	if !strings.Contains(is[1].Message, "helpdesk_category would hold 4 records") || !strings.Contains(is[1].Message, "maxRecordsPerObject quota of 3") {
		t.Errorf("maxRecordsPerObject issue = %q", is[1].Message)
	}
	// Skipping seed data drops the record quota issue; existing rows count once the table exists.
	chk, _ = Check(ctx, db, app, InstallOptions{SkipSeedData: true, Limits: Limits{MaxRecordsPerObject: ptr(3)}})
	if !chk.Compatible {
		t.Errorf("check = %+v", chk)
	}
	install(t, db, app, InstallOptions{SkipSeedData: true})
	for i := 0; i < 3; i++ {
		if _, err := db.Exec(`INSERT INTO helpdesk_agent (id, name, full_name, email) VALUES (?, ?, 'X', 'x@example.com')`, newID(), newID()); err != nil {
			t.Fatal(err)
		}
	}
	chk, _ = Check(ctx, db, app, InstallOptions{Limits: Limits{MaxRecordsPerObject: ptr(5)}})
	is = issuesOf(chk, CategoryQuotaExceeded)
	if len(is) != 1 || !strings.Contains(is[0].Message, "helpdesk_agent would hold 6 records (3 existing + 3 new") {
		t.Errorf("check = %+v", chk)
	}
	// Upgrading in place does not count the app's own objects twice.
	chk, _ = Check(ctx, db, app, InstallOptions{SkipSeedData: true, Limits: Limits{MaxObjects: ptr(3)}})
	if !chk.Compatible {
		t.Errorf("own objects counted twice: %+v", chk)
	}
}

func TestCheckReportsEveryIssue(t *testing.T) {
	db, _ := newDB(t)
	obj := bundle.Object{Name: "multi_thing", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText}}}
	p, err := schema.PlanOwner(ctx, db, schema.BundleOwner("crm"), []bundle.Object{obj}, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "multi")
	writeFiles(t, dir, map[string]string{
		"app.yaml":           "name: multi\nlabel: Multi\nversion: 1.0.0\nminKernelVersion: 50.0.0\nobjects: [multi_thing, multi_other]\ndependencies: [ghost, \"phantom@^2.0.0\"]\n",
		"objects/thing.yaml": "name: multi_thing\nfields:\n  name: { type: text }\n",
		"objects/other.yaml": "name: multi_other\nfields:\n  name: { type: text }\n",
	})
	chk, err := Check(ctx, db, mustLoad(t, dir), InstallOptions{Limits: Limits{MaxObjects: ptr(1)}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, is := range chk.Issues {
		got[is.Category]++
	}
	want := map[string]int{CategoryKernelVersion: 1, CategoryObjectConflict: 1, CategoryDependencyMissing: 2, CategoryQuotaExceeded: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("issue counts = %v, want %v\n%+v", got, want, chk.Issues)
	}
}

func TestUpgradeKeepsData(t *testing.T) {
	db, _ := newDB(t)
	v1 := mustLoad(t, exampleDir("helpdesk"))
	v11 := mustLoad(t, exampleDir("helpdesk-1.1.0"))
	install(t, db, v1, InstallOptions{})
	if _, err := db.Exec(`INSERT INTO helpdesk_ticket (id, name, subject, status, requester_email) VALUES ('user-ticket-1', 'U-1', 'Printer on fire', 'open', 'pat@example.org')`); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanInstall(ctx, db, v11, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Action != ActionUpgrade || plan.InstalledVersion != "1.0.0" || len(plan.Schema.Migration.Statements) == 0 || len(plan.Schema.Destructive) != 0 {
		t.Errorf("plan = %+v", plan)
	}
	res := install(t, db, v11, InstallOptions{})
	if res.Action != ActionUpgrade || res.PreviousVersion != "1.0.0" || !reflect.DeepEqual(res.CreatedTables, []string{"helpdesk_macro"}) {
		t.Errorf("upgrade = %+v", res)
	}
	if n := count(t, db, `SELECT count(*) FROM helpdesk_ticket`); n != 4 {
		t.Errorf("tickets after upgrade = %d, want 4 (3 seeded + 1 user row)", n)
	}
	if !hasColumn(t, db, "helpdesk_ticket", "channel") || !hasColumn(t, db, "helpdesk_ticket", "satisfaction") {
		t.Error("new columns missing after upgrade")
	}
	var subject, channel string
	if err := db.QueryRow(`SELECT subject, channel FROM helpdesk_ticket WHERE id = 'user-ticket-1'`).Scan(&subject, &channel); err != nil {
		t.Fatal(err)
	}
	if subject != "Printer on fire" || channel != "email" {
		t.Errorf("user row after upgrade: subject=%q channel=%q", subject, channel)
	}
	if err := db.QueryRow(`SELECT channel FROM helpdesk_ticket WHERE name = 'HD-2'`).Scan(&channel); err != nil || channel != "chat" {
		t.Errorf("HD-2 channel = %q, %v (seed upsert of the new version)", channel, err)
	}
	if n := count(t, db, `SELECT count(*) FROM helpdesk_macro`); n != 2 {
		t.Errorf("macros = %d", n)
	}
	inst, _, _ := IsInstalled(ctx, db, "helpdesk")
	if inst.Version != "1.1.0" || inst.Checksum != v11.Checksum || len(inst.Objects) != 4 {
		t.Errorf("installed = %+v", inst)
	}

	// Downgrade: refused by default; allowed, it still needs the destructive kinds it implies.
	if _, err := Install(ctx, db, v1, InstallOptions{}); !errors.Is(err, ErrDowngrade) {
		t.Errorf("downgrade err = %v", err)
	}
	_, err = Install(ctx, db, v1, InstallOptions{AllowDowngrade: true})
	var de *schema.DestructiveError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "helpdesk_macro") {
		t.Errorf("downgrade without allow = %v", err)
	}
	if !hasColumn(t, db, "helpdesk_ticket", "channel") {
		t.Error("refused downgrade changed the schema")
	}
	res = install(t, db, v1, InstallOptions{AllowDowngrade: true, Allow: []schema.DestructiveKind{schema.DropTable, schema.DropColumn}})
	if res.Action != ActionDowngrade || hasColumn(t, db, "helpdesk_ticket", "channel") || count(t, db, `SELECT count(*) FROM helpdesk_ticket`) != 4 {
		t.Errorf("downgrade = %+v", res)
	}
}

func TestUninstall(t *testing.T) {
	db, _ := newDB(t)
	hd := mustLoad(t, exampleDir("helpdesk"))
	sla := mustLoad(t, exampleDir("helpdesk-sla"))
	install(t, db, hd, InstallOptions{})
	install(t, db, sla, InstallOptions{})
	if err := Uninstall(ctx, db, "helpdesk", UninstallOptions{Purge: true}); !errors.Is(err, ErrHasDependents) || !strings.Contains(err.Error(), "helpdesk_sla") {
		t.Fatalf("uninstall helpdesk with a dependent: %v", err)
	}
	if err := Uninstall(ctx, db, "nothing_here", UninstallOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall unknown: %v", err)
	}

	// Default: the data stays, ownership goes.
	if err := Uninstall(ctx, db, "helpdesk_sla", UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM helpdesk_sla_policy`); n != 3 {
		t.Errorf("policies kept = %d", n)
	}
	reg, _ := schema.RegisteredObjects(ctx, db)
	for _, r := range reg {
		if r.Owner == "app:helpdesk_sla" {
			t.Errorf("object %s still owned by app:helpdesk_sla", r.Name)
		}
	}
	if _, ok, _ := IsInstalled(ctx, db, "helpdesk_sla"); ok {
		t.Error("helpdesk_sla still registered")
	}

	// Purge: the tables go.
	if err := Uninstall(ctx, db, "helpdesk", UninstallOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tableNames(t, db) {
		if tb != "helpdesk_sla_policy" {
			t.Errorf("table %s left after purge", tb)
		}
	}
	if list, _ := Installed(ctx, db); len(list) != 0 {
		t.Errorf("installed = %+v", list)
	}
	if reg, _ := schema.RegisteredObjects(ctx, db); len(reg) != 0 {
		t.Errorf("registered = %+v", reg)
	}
}

func TestPlanInstallWritesNothing(t *testing.T) {
	db, _ := newDB(t)
	plan, err := PlanInstall(ctx, db, mustLoad(t, exampleDir("helpdesk")), InstallOptions{ConfigOverrides: map[string]any{"default_priority": "urgent"}})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Check.Compatible || plan.Action != ActionInstall || plan.SeedRecords != 10 || len(plan.Seed) != 3 || plan.Config["default_priority"] != "urgent" {
		t.Errorf("plan = %+v", plan)
	}
	creates := 0
	for _, s := range plan.Schema.Migration.Statements {
		if s.Kind == schema.KindCreateTable {
			creates++
		}
	}
	if creates != 3 {
		t.Errorf("create statements = %d", creates)
	}
	if n := count(t, db, `SELECT count(*) FROM sqlite_schema`); n != 0 {
		t.Errorf("PlanInstall wrote %d schema objects", n)
	}
	if _, err := PlanInstall(ctx, db, mustLoad(t, exampleDir("helpdesk")), InstallOptions{ConfigOverrides: map[string]any{"default_priority": "asap", "colour": 1}}); err == nil ||
		!strings.Contains(err.Error(), `"default_priority"`) || !strings.Contains(err.Error(), `"colour"`) {
		t.Errorf("bad config err = %v", err)
	}
}

func TestSeedModes(t *testing.T) {
	db, _ := newDB(t)
	dir := filepath.Join(t.TempDir(), "modes")
	files := map[string]string{
		"app.yaml":       "name: modes\nlabel: Modes\nversion: 1.0.0\nobjects: [mode_a, mode_b, mode_c]\n",
		"objects/a.yaml": "name: mode_a\nfields:\n  name: { type: text }\n  n: { type: number }\n",
		"objects/b.yaml": "name: mode_b\nfields:\n  name: { type: text }\n  n: { type: number }\n",
		"objects/c.yaml": "name: mode_c\nfields:\n  code: { type: text }\n  n: { type: number }\n",
		"seed/a.yaml":    "object: mode_a\nmode: ignore\nrecords:\n  - { name: x, n: 1 }\n  - { name: y, n: 1 }\n",
		"seed/b.yaml":    "object: mode_b\nmode: replace\nrecords:\n  - { name: x, n: 1 }\n",
		"seed/c.yaml":    "object: mode_c\nexternalId: code\nmode: update\nrecords:\n  - { code: k1, n: 5 }\n",
	}
	writeFiles(t, dir, files)
	app := mustLoad(t, dir)
	install(t, db, app, InstallOptions{})
	if _, err := db.Exec(`UPDATE mode_a SET n = 9 WHERE name = 'x'; INSERT INTO mode_b (id, name, n) VALUES ('b-user', 'user', 7); INSERT INTO mode_c (id, code, n) VALUES ('c1', 'k1', 0)`); err != nil {
		t.Fatal(err)
	}
	if res := install(t, db, app, InstallOptions{}); res.Action != ActionNone {
		t.Errorf("same version and checksum: action %s", res.Action)
	}
	// Same checksum and config: a no-op, so force the seeds with a new version.
	writeFiles(t, dir, map[string]string{"app.yaml": strings.Replace(files["app.yaml"], "1.0.0", "1.0.1", 1)})
	install(t, db, mustLoad(t, dir), InstallOptions{})
	if n := count(t, db, `SELECT n FROM mode_a WHERE name = 'x'`); n != 9 {
		t.Errorf("ignore mode overwrote an existing row: n=%d", n)
	}
	if n := count(t, db, `SELECT count(*) FROM mode_b`); n != 1 || count(t, db, `SELECT count(*) FROM mode_b WHERE name = 'user'`) != 0 {
		t.Errorf("replace mode kept other rows: %d", n)
	}
	if n := count(t, db, `SELECT n FROM mode_c WHERE code = 'k1'`); n != 5 || count(t, db, `SELECT count(*) FROM mode_c`) != 1 {
		t.Errorf("update mode: n=%d", n)
	}

	// insert mode refuses a duplicate external id, and the whole upgrade rolls back.
	writeFiles(t, dir, map[string]string{
		"app.yaml":    strings.Replace(files["app.yaml"], "1.0.0", "1.0.2", 1),
		"seed/a.yaml": "object: mode_a\nmode: insert\nrecords:\n  - { name: x, n: 2 }\n",
	})
	_, err := Install(ctx, db, mustLoad(t, dir), InstallOptions{})
	if err == nil || !strings.Contains(err.Error(), "mode insert refuses duplicates") {
		t.Errorf("insert duplicate err = %v", err)
	}
	// The plan's pre-flight already names it (rule, object, column, count, sample), before anything is written.
	_, err = PlanInstall(ctx, db, mustLoad(t, dir), InstallOptions{})
	if pe, ok := schema.AsPreflightError(err); !ok || len(pe.Failures) != 1 || pe.Failures[0].Rule != schema.RuleSeedConflict ||
		pe.Failures[0].Object != "mode_a" || pe.Failures[0].Field != "name" || pe.Failures[0].Count != 1 || pe.Failures[0].Samples[0] != "name='x'" {
		t.Errorf("plan of an insert-mode duplicate: %v", err)
	}
	if inst, _, _ := IsInstalled(ctx, db, "modes"); inst.Version != "1.0.1" {
		t.Errorf("failed upgrade changed the registry: %+v", inst)
	}
	// env selects datasets.
	writeFiles(t, dir, map[string]string{"seed/a.yaml": "object: mode_a\nenv: [dev]\nrecords:\n  - { name: devonly }\n"})
	install(t, db, mustLoad(t, dir), InstallOptions{})
	if n := count(t, db, `SELECT count(*) FROM mode_a WHERE name = 'devonly'`); n != 0 {
		t.Error("a dev-only dataset was seeded in prod")
	}
}

func TestSeedLargeDatasetBatches(t *testing.T) {
	db, _ := newDB(t)
	dir := filepath.Join(t.TempDir(), "big")
	var b strings.Builder
	b.WriteString("object: big_row\nrecords:\n")
	for i := 0; i < 700; i++ {
		fmt.Fprintf(&b, "  - { name: r%d, a: x, b: %d, c: true, d: [p, q] }\n", i, i)
	}
	// One record with a different key set goes through its own statement.
	b.WriteString("  - { name: odd }\n")
	writeFiles(t, dir, map[string]string{
		"app.yaml":       "name: big\nlabel: Big\nversion: 1.0.0\nobjects: [big_row]\nunknownThing: 1\n",
		"objects/r.yaml": "name: big_row\nfields:\n  name: { type: text }\n  a: { type: text }\n  b: { type: number }\n  c: { type: boolean }\n  d: { type: tags }\n",
		"seed/r.yaml":    b.String(),
	})
	app, res, err := Load(dir)
	if err != nil || !res.Valid || res.WarningCount != 1 || !hasIssue(res, bundle.CodeUnknownKey, "unknownThing") {
		t.Fatalf("load: %v %+v", err, res)
	}
	r := install(t, db, app, InstallOptions{})
	if r.SeededRecords != 701 || count(t, db, `SELECT count(*) FROM big_row`) != 701 || count(t, db, `SELECT count(DISTINCT id) FROM big_row`) != 701 {
		t.Errorf("seeded = %d", r.SeededRecords)
	}
	if count(t, db, `SELECT count(*) FROM big_row WHERE c = 1 AND d = '["p","q"]' AND b = 699`) != 1 {
		t.Error("values not encoded as expected")
	}
}

func TestInstallRefusesInvalidApp(t *testing.T) {
	db, _ := newDB(t)
	dir := filepath.Join(t.TempDir(), "broken")
	writeFiles(t, dir, map[string]string{
		"app.yaml":       "name: broken\nlabel: Broken\nversion: 1.0.0\nobjects: [broken_a, broken_b]\n",
		"objects/a.yaml": "name: broken_a\nfields:\n  name: { type: text }\n",
	})
	app, res, err := Load(dir)
	if err != nil || res.Valid {
		t.Fatalf("load: %v %+v", err, res)
	}
	r, err := Install(ctx, db, app, InstallOptions{})
	if !errors.Is(err, ErrInvalidApp) || r.Success || !strings.Contains(err.Error(), "broken_b") {
		t.Errorf("install of an invalid app: %+v, %v", r, err)
	}
	if n := count(t, db, `SELECT count(*) FROM sqlite_schema`); n != 0 {
		t.Errorf("invalid app wrote %d schema objects", n)
	}
}

// The example apps share a tenant with the example CRM bundle: no object conflicts either way.
func TestAppsCoexistWithCRMBundle(t *testing.T) {
	db, _ := newDB(t)
	b, res, err := bundle.Load(filepath.Join("..", "..", "examples", "bundles", "crm"))
	if err != nil || !res.Valid {
		t.Fatalf("load crm bundle: %v\n%v", err, res.Err())
	}
	p, err := schema.PlanOwner(ctx, db, schema.BundleOwner(b.Manifest.Name), b.Objects, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"helpdesk", "helpdesk-sla"} {
		app := mustLoad(t, exampleDir(name))
		chk, err := Check(ctx, db, app, InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(issuesOf(chk, CategoryObjectConflict)) != 0 {
			t.Errorf("%s conflicts with the CRM bundle: %+v", name, chk.Issues)
		}
		install(t, db, app, InstallOptions{})
	}
	// And the bundle can still be planned without touching the apps' tables.
	p, err = schema.PlanOwner(ctx, db, schema.BundleOwner(b.Manifest.Name), b.Objects, schema.PlanOptions{})
	if err != nil || !p.UpToDate {
		t.Errorf("crm bundle after installing the apps: up to date %v, %v", p != nil && p.UpToDate, err)
	}
}

func TestInstallRespectsMigrationLease(t *testing.T) {
	db, _ := newDB(t)
	if err := schema.AcquireLock(ctx, db, "terraform-run-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	app := mustLoad(t, exampleDir("helpdesk"))
	_, err := Install(ctx, db, app, InstallOptions{})
	var le *schema.LockedError
	if !errors.As(err, &le) || le.Holder != "terraform-run-1" {
		t.Fatalf("install under someone else's lease: %v", err)
	}
	if tables := tableNames(t, db); len(tables) != 0 {
		t.Errorf("locked install created %v", tables)
	}
	install(t, db, app, InstallOptions{Holder: "terraform-run-1"})
	if err := Uninstall(ctx, db, "helpdesk", UninstallOptions{}); !errors.As(err, &le) {
		t.Errorf("uninstall under someone else's lease: %v", err)
	}
	if err := Uninstall(ctx, db, "helpdesk", UninstallOptions{Holder: "terraform-run-1"}); err != nil {
		t.Error(err)
	}
}
