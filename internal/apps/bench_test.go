package apps

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// benchApp writes an app with nObjects objects of ten fields each (text, number, boolean, select, date, tags,
// lookup, ...) and perObject seed rows per object.
func benchApp(b *testing.B, nObjects, perObject int) *App {
	dir := filepath.Join(b.TempDir(), "bench")
	files := map[string]string{}
	var names []string
	for i := 0; i < nObjects; i++ {
		name := fmt.Sprintf("bench_obj_%02d", i)
		names = append(names, name)
		var o strings.Builder
		fmt.Fprintf(&o, "name: %s\nlabel: Bench %d\nfields:\n", name, i)
		o.WriteString("  name: { type: text, required: true, unique: true }\n")
		o.WriteString("  title: { type: text, maxLength: 200 }\n")
		o.WriteString("  body: { type: textarea }\n")
		o.WriteString("  amount: { type: currency }\n")
		o.WriteString("  qty: { type: number, defaultValue: 0 }\n")
		o.WriteString("  done: { type: boolean, defaultValue: false }\n")
		o.WriteString("  stage: { type: select, options: [ { label: A, value: aa }, { label: B, value: bb } ] }\n")
		o.WriteString("  due: { type: date }\n")
		o.WriteString("  labels: { type: tags }\n")
		if i > 0 {
			fmt.Fprintf(&o, "  parent: { type: lookup, reference: bench_obj_%02d }\n", i-1)
		}
		o.WriteString("indexes:\n  - { fields: [stage, due] }\n")
		files["objects/"+name+".yaml"] = o.String()

		var s strings.Builder
		fmt.Fprintf(&s, "object: %s\nrecords:\n", name)
		for r := 0; r < perObject; r++ {
			fmt.Fprintf(&s, "  - { name: r%04d, title: \"Row %d of %s\", body: Some text, amount: %d.5, qty: %d, done: %t, stage: aa, due: \"2026-01-%02d\", labels: [x, y] }\n",
				r, r, name, r, r, r%2 == 0, r%28+1)
		}
		files["seed/"+name+".yaml"] = s.String()
	}
	files["app.yaml"] = "name: bench\nlabel: Bench\nversion: 1.0.0\nobjects: [" + strings.Join(names, ", ") + "]\n"
	writeFiles(b, dir, files)
	return mustLoad(b, dir)
}

// BenchmarkInstall20Objects1000Seeds installs a 20-object app with 1,000 seed rows into a fresh tenant database
// file: check, plan, DDL, seed data and registry in one transaction (target ≤ 100 ms/op).
func BenchmarkInstall20Objects1000Seeds(b *testing.B) {
	app := benchApp(b, 20, 50)
	ctx := context.Background()
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := database.Open(filepath.Join(dir, fmt.Sprintf("tenant-%d.db", i)), "")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Install(ctx, db, app, InstallOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.SeededRecords != 1000 || len(res.CreatedTables) != 20 {
			b.Fatalf("result = %+v", res)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}
