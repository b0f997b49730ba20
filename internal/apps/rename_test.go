package apps

import (
	"path/filepath"
	"testing"
)

// TestUpgradeRenames: an app version that renames its object and a field (renamedFrom) upgrades with the RENAME
// DDL — nothing destructive — and the tenant's rows keep their values under the new names.
func TestUpgradeRenames(t *testing.T) {
	db, _ := newDB(t)
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "v1"), map[string]string{
		"app.yaml":                "name: kb\nlabel: KB\nversion: 1.0.0\nobjects: [kb_article]\n",
		"objects/kb_article.yaml": "name: kb_article\nfields:\n  name: { type: text }\n  body: { type: textarea }\n",
	})
	writeFiles(t, filepath.Join(root, "v2"), map[string]string{
		"app.yaml":             "name: kb\nlabel: KB\nversion: 1.1.0\nobjects: [kb_page]\n",
		"objects/kb_page.yaml": "name: kb_page\nrenamedFrom: kb_article\nfields:\n  title: { type: text, renamedFrom: name }\n  body: { type: textarea }\n",
	})
	install(t, db, mustLoad(t, filepath.Join(root, "v1")), InstallOptions{})
	if _, err := db.Exec(`INSERT INTO kb_article (id, name, body) VALUES ('k1', 'Reset a password', 'Click reset.')`); err != nil {
		t.Fatal(err)
	}
	v2 := mustLoad(t, filepath.Join(root, "v2"))
	plan, err := PlanInstall(ctx, db, v2, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Schema.Destructive) != 0 || len(plan.Schema.Migration.Statements) < 2 ||
		plan.Schema.Migration.Statements[0].SQL != `ALTER TABLE "kb_article" RENAME TO "kb_page"` ||
		plan.Schema.Migration.Statements[1].SQL != `ALTER TABLE "kb_page" RENAME COLUMN "name" TO "title"` {
		t.Fatalf("plan = %+v", plan.Schema.Migration.Statements)
	}
	res := install(t, db, v2, InstallOptions{})
	if res.Action != ActionUpgrade {
		t.Fatalf("upgrade = %+v", res)
	}
	var title, body string
	if err := db.QueryRow(`SELECT title, body FROM kb_page WHERE id = 'k1'`).Scan(&title, &body); err != nil || title != "Reset a password" || body != "Click reset." {
		t.Fatalf("row after upgrade: %q %q %v", title, body, err)
	}
	if hasColumn(t, db, "kb_page", "name") || count(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 'kb_article'`) != 0 {
		t.Fatal("old names still there")
	}
	inst, _, _ := IsInstalled(ctx, db, "kb")
	if inst.Version != "1.1.0" || len(inst.Objects) != 1 || inst.Objects[0] != "kb_page" {
		t.Fatalf("installed = %+v", inst)
	}
}
