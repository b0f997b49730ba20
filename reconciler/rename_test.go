package reconciler

import (
	"context"
	"testing"
)

// TestReconcileRename: a revision that renames an object and a field (renamedFrom) reaches every tenant as the
// RENAME DDL in its one batch — rows and values kept — and the next reconcile of the same revision has nothing
// to do.
func TestReconcileRename(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, prodTenants[:2])
	e.remote.Write(merge(map[string][]byte{"objectstack.yaml": repoConfig("")}, coreBundle("1.0.0")))
	e.remote.Commit("core 1.0.0")
	if sum, err := e.reconciler(Options{}).Once(ctx); err != nil || !sum.OK() || sum.Applied != 2 {
		t.Fatalf("first rollout: %+v %v", sum, err)
	}
	for _, ts := range prodTenants[:2] {
		if _, err := e.db(ts.id).ExecContext(ctx, `INSERT INTO note (id, title, body) VALUES ('n1', 'Hello', 'kept')`); err != nil {
			t.Fatal(err)
		}
	}
	e.remote.Write(map[string][]byte{
		"bundles/core/objects/note.yaml": nil,
		"bundles/core/bundle.yaml":       []byte("name: core\nversion: 1.1.0\nobjects: [memo]\n"),
		"bundles/core/objects/memo.yaml": []byte("name: memo\nrenamedFrom: note\nlabel: Memo\nfields:\n" +
			"  title: { type: text, label: Title, required: true, maxLength: 200 }\n" +
			"  content: { type: textarea, label: Content, renamedFrom: body }\n"),
	})
	e.remote.Commit("core 1.1.0: note → memo, body → content")
	sum, err := e.reconciler(Options{}).Once(ctx)
	if err != nil || !sum.OK() || sum.Applied != 2 {
		t.Fatalf("rename rollout: %+v %v", sum, err)
	}
	for _, ts := range prodTenants[:2] {
		var content string
		if err := e.db(ts.id).QueryRowContext(ctx, `SELECT content FROM memo WHERE id = 'n1'`).Scan(&content); err != nil || content != "kept" {
			t.Fatalf("%s: content %q %v", ts.id, content, err)
		}
		if n := e.deployments(ts.id, "bundle:core", ""); n != 2 {
			t.Fatalf("%s: %d deployments of bundle:core, want 2 (1.0.0, and the rename)", ts.id, n)
		}
	}
	again, err := e.reconciler(Options{}).Once(ctx)
	if err != nil || !again.OK() || again.Applied != 0 {
		t.Fatalf("second reconcile of the same revision: %+v %v", again, err)
	}
}
