package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// fastDSN is the production file URL with synchronous=OFF: the tests here are about schema and data,
// not durability, and the shared machine's fsyncs would otherwise dominate their run time. The crash
// test opens its databases with the production settings.
func fastDSN(t interface{ Fatal(...any) }, path string) string {
	u, err := database.FileURL(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(u, "synchronous%28NORMAL%29", "synchronous%28OFF%29", 1)
}

func openDB(t testing.TB, name string) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	db, err := database.Open(fastDSN(t, path), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func fld(key string, typ bundle.FieldType, mods ...func(*bundle.Field)) bundle.Field {
	f := bundle.Field{Key: key, Type: typ}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func required(f *bundle.Field) { f.Required = true }
func unique(f *bundle.Field)   { f.Unique = true }
func indexed(f *bundle.Field)  { f.Index = true }
func def(v any) func(*bundle.Field) {
	return func(f *bundle.Field) { f.DefaultValue = v }
}
func ref(target string) func(*bundle.Field) { return func(f *bundle.Field) { f.Reference = target } }

func obj(name string, fields ...bundle.Field) bundle.Object {
	return bundle.Object{Name: name, Fields: fields}
}

func mustPlan(t testing.TB, db *sql.DB, owner Owner, objs ...bundle.Object) *Plan {
	t.Helper()
	p, err := PlanOwner(context.Background(), db, owner, objs, PlanOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func mustApply(t testing.TB, db *sql.DB, owner Owner, allow []DestructiveKind, objs ...bundle.Object) *Plan {
	t.Helper()
	p := mustPlan(t, db, owner, objs...)
	if _, err := Apply(context.Background(), db, p, ApplyOptions{Allow: allow, Source: "test"}); err != nil {
		t.Fatalf("apply: %v\nstatements:\n%s", err, planSQL(p))
	}
	return p
}

func planSQL(p *Plan) string {
	var b strings.Builder
	for _, s := range p.Migration.Statements {
		b.WriteString(s.SQL)
		b.WriteString(";\n")
	}
	return b.String()
}

// describeSchema renders the user tables of db order-insensitively (columns sorted by name): the
// "migrated equals fresh" comparison ignores column order, which only a rebuild could change.
func describeSchema(t testing.TB, db *sql.DB) string {
	t.Helper()
	s, err := introspect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return describe(s)
}

func describe(s *dbSchema) string {
	var b strings.Builder
	for _, tn := range sortedKeys(s.Tables) {
		t := s.Tables[tn]
		cols := append([]column(nil), t.Columns...)
		sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
		b.WriteString("table " + tn + "\n")
		for _, c := range cols {
			j, _ := json.Marshal(c)
			b.WriteString("  col " + string(j) + "\n")
		}
		for _, ix := range t.Indexes {
			j, _ := json.Marshal(ix)
			b.WriteString("  idx " + string(j) + "\n")
		}
		for _, tr := range t.triggers {
			b.WriteString("  trigger " + tr.Name + "\n")
		}
	}
	for _, v := range s.Views {
		b.WriteString("view " + v.Name + "\n")
	}
	return b.String()
}

func execT(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
