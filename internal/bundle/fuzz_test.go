package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadObject feeds arbitrary bytes to the object parser as YAML and as JSON. It must never panic, must explain
// every rejection with an error issue, and whatever it accepts must survive the registry's JSON round trip with the
// same checksum. `go test` runs only the seeds; `go test -fuzz FuzzLoadObject` explores.
func FuzzLoadObject(f *testing.F) {
	for _, ex := range []string{"crm", "crm-v2"} {
		files, _ := filepath.Glob(filepath.Join(examplesDir(f), ex, "objects", "*.yaml"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, false)
			if o, _ := ParseObject(p, data); o != nil {
				j, err := json.Marshal(o)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(j, true)
			}
		}
	}
	for _, s := range []string{
		"name: x\nfields:\n  a: { type: text\n",
		"name: x\nfields:\n  a: { type: text }\n  a: { type: text }\n",
		`{"name": "x", "fields": {"a": {"type": "text"}, "a": {}}}`,
		"a: &a [*a]\n",
		"name: 'x\"; DROP TABLE y; --'\nfields: {}\n",
		"name: x\nfields:\n  f: { type: number, defaultValue: 1e400, min: -0 }\n",
	} {
		f.Add([]byte(s), s[0] == '{')
	}
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		name := "x.yaml"
		if asJSON {
			name = "x.json"
		}
		o, issues := ParseObject(name, data)
		if o == nil {
			if len(Result(issues).Errors()) == 0 {
				t.Fatalf("rejected without an error issue: %v", issues)
			}
			return
		}
		_ = ValidateObjects([]Object{*o}, Context{KnownObjects: []string{"account"}})
		fast, err := canonicalObject(o)
		slow, err2 := CanonicalJSON(o)
		if err != nil || err2 != nil || string(fast) != string(slow) {
			t.Fatalf("fast canonical form differs (%v, %v):\nfast %s\nslow %s", err, err2, fast, slow)
		}
		if len(Result(issues).Errors()) > 0 {
			return
		}
		enc, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal accepted object: %v", err)
		}
		var back Object
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("unmarshal own output %s: %v", enc, err)
		}
		if ObjectChecksum(back) != ObjectChecksum(*o) {
			t.Fatalf("round trip changed the checksum:\n in  %s", enc)
		}
	})
}
