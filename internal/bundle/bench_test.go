package bundle

import (
	"fmt"
	"strings"
	"testing"
)

// writeLargeBundle writes a bundle of n objects, each with a dozen fields of assorted types, a lookup to the
// previous object, options and two indexes.
func writeLargeBundle(b testing.TB, n int) string {
	files := map[string]string{}
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("object_%03d", i)
		names = append(names, name)
		var s strings.Builder
		fmt.Fprintf(&s, "name: %s\nlabel: Object %d\nfields:\n", name, i)
		s.WriteString("  title: { type: text, label: Title, required: true, maxLength: 200 }\n")
		s.WriteString("  body: { type: markdown }\n")
		s.WriteString("  amount: { type: currency, precision: 18, scale: 2, min: 0 }\n")
		s.WriteString("  qty: { type: number, defaultValue: 1 }\n")
		s.WriteString("  done: { type: boolean, defaultValue: false }\n")
		s.WriteString("  due: { type: date }\n")
		s.WriteString("  email: { type: email, unique: true }\n")
		s.WriteString("  tags: { type: tags }\n")
		s.WriteString("  data: { type: json }\n")
		s.WriteString("  status:\n    type: select\n    defaultValue: open\n    options:\n")
		s.WriteString("      - { label: Open, value: open }\n      - { label: Closed, value: closed }\n      - { label: Waiting, value: waiting }\n")
		if i > 0 {
			fmt.Fprintf(&s, "  parent: { type: lookup, reference: %s, deleteBehavior: set_null }\n", names[i-1])
		}
		s.WriteString("indexes:\n  - { fields: [status, due] }\n  - { fields: [title], unique: true }\n")
		files["objects/"+name+".yaml"] = s.String()
	}
	files["bundle.yaml"] = "name: big\nversion: 1.0.0\nobjects: [" + strings.Join(names, ", ") + "]\n"
	return writeBundle(b, files)
}

func BenchmarkLoadValidate200Objects(b *testing.B) {
	dir := writeLargeBundle(b, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, res, err := Load(dir)
		if err != nil || !res.Valid {
			b.Fatalf("err=%v issues=%s", err, dumpIssues(res))
		}
	}
}

func BenchmarkObjectsChecksum200(b *testing.B) {
	bd, _, err := Load(writeLargeBundle(b, 200))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = ObjectsChecksum(bd.Objects)
	}
}
