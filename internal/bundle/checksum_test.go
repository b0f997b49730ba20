package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func crm(t testing.TB) *Bundle {
	t.Helper()
	b, res := loadOK(t, filepath.Join(examplesDir(t), "crm"))
	if !res.Valid {
		t.Fatalf("crm example invalid:%s", dumpIssues(res))
	}
	return b
}

func TestChecksumSameForJSONWithOtherOrderAndFileNames(t *testing.T) {
	b := crm(t)
	files := map[string]string{}
	// Manifest as JSON with keys and list entries in another order.
	names := slices.Clone(b.Manifest.Objects)
	slices.Reverse(names)
	mj, _ := json.Marshal(names)
	files["bundle.json"] = fmt.Sprintf(`{"objects": %s, "description": %q, "version": %q, "name": %q}`, mj, b.Manifest.Extra["description"], b.Manifest.Version, b.Manifest.Name)
	for i, o := range b.Objects {
		o.Fields = slices.Clone(o.Fields)
		slices.Reverse(o.Fields)
		data, err := json.MarshalIndent(o, "", "    ")
		if err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("objects/%03d_other_name.json", 100-i)] = string(data)
	}
	seed, _ := json.Marshal(b.SeedData[0])
	files["seed/data.json"] = string(seed)

	dir := writeBundle(t, files)
	b2, res := loadOK(t, dir)
	if !res.Valid {
		t.Fatalf("JSON copy invalid:%s", dumpIssues(res))
	}
	if b2.Checksum != b.Checksum {
		t.Fatalf("checksum differs between YAML and reordered JSON:\n yaml %s\n json %s", b.Checksum, b2.Checksum)
	}
}

func TestChecksumIgnoresFormattingCommentsAndKeyOrder(t *testing.T) {
	a := writeBundle(t, map[string]string{
		"bundle.yaml": "name: t\nversion: 1.0.0\nobjects: [x]\n",
		"objects/x.yaml": `name: x
label: X
fields:
  a: { type: text, required: true, maxLength: 10 }
  b: { type: number, defaultValue: 1 }
indexes:
  - { fields: [a, b], unique: true }
`,
	})
	bb := writeBundle(t, map[string]string{
		"bundle.yml": "# comment\nversion: \"1.0.0\"\nobjects:\n  - x\nname: t\n",
		"objects/renamed.yml": `# A comment that must not matter.
fields:
  b:
    defaultValue: 1.0
    type: number
  a:
    maxLength: 10
    required: true
    type: text
indexes:
  - unique: true
    fields:
      - a
      - b
label: "X"
name: x
`,
	})
	ba, ra := loadOK(t, a)
	bb2, rb := loadOK(t, bb)
	if !ra.Valid || !rb.Valid {
		t.Fatalf("invalid:%s%s", dumpIssues(ra), dumpIssues(rb))
	}
	if ba.Checksum != bb2.Checksum {
		t.Fatalf("checksums differ: %s vs %s", ba.Checksum, bb2.Checksum)
	}
	if ObjectChecksum(ba.Objects[0]) != ObjectChecksum(bb2.Objects[0]) {
		t.Fatal("object checksums differ")
	}
}

func TestChecksumIgnoresNonContent(t *testing.T) {
	b := crm(t)
	base := Checksum(b)
	c := *b
	c.Manifest.Checksum = strings.Repeat("a", 64)
	c.Dir = "/elsewhere"
	c.Objects = slices.Clone(b.Objects)
	slices.Reverse(c.Objects)
	for i := range c.Objects {
		c.Objects[i].Source = "other.yaml"
		c.Objects[i].Lines = nil
	}
	if got := Checksum(&c); got != base {
		t.Fatalf("checksum changed with manifest.checksum/source/order: %s vs %s", got, base)
	}
	objs := slices.Clone(b.Objects)
	slices.Reverse(objs)
	if ObjectsChecksum(objs) != ObjectsChecksum(b.Objects) {
		t.Fatal("ObjectsChecksum depends on order")
	}
}

func TestChecksumChangesWithEverySchemaRelevantValue(t *testing.T) {
	b := crm(t)
	st, _ := b.Object("support_ticket")
	base := ObjectChecksum(*st)
	bundleBase := Checksum(b)
	intp := func(i int) *int { return &i }
	mutations := map[string]func(o *Object){
		"name":         func(o *Object) { o.Name = "ticket" },
		"label":        func(o *Object) { o.Label = "Ticket" },
		"field type":   func(o *Object) { f, _ := o.Field("hours_spent"); f.Type = TypeCurrency },
		"field key":    func(o *Object) { o.Fields[1].Key = "title" },
		"required":     func(o *Object) { f, _ := o.Field("description"); f.Required = true },
		"unique":       func(o *Object) { f, _ := o.Field("subject"); f.Unique = true },
		"default":      func(o *Object) { f, _ := o.Field("status"); f.DefaultValue = "open" },
		"default type": func(o *Object) { f, _ := o.Field("escalated"); f.DefaultValue = "false" },
		"option value": func(o *Object) {
			f, _ := o.Field("status")
			f.Options = slices.Clone(f.Options)
			f.Options[2].Value = "waiting"
		},
		"option order": func(o *Object) {
			f, _ := o.Field("priority")
			f.Options = slices.Clone(f.Options)
			slices.Reverse(f.Options)
		},
		"reference":         func(o *Object) { f, _ := o.Field("account"); f.Reference = "contact" },
		"deleteBehavior":    func(o *Object) { f, _ := o.Field("account"); f.DeleteBehavior = "cascade" },
		"columnName":        func(o *Object) { f, _ := o.Field("subject"); f.ColumnName = "title" },
		"maxLength":         func(o *Object) { f, _ := o.Field("subject"); f.MaxLength = intp(201) },
		"precision":         func(o *Object) { f, _ := o.Field("hours_spent"); f.Precision = intp(8) },
		"index fields":      func(o *Object) { o.Indexes = slices.Clone(o.Indexes); o.Indexes[1].Fields = []string{"status"} },
		"index unique":      func(o *Object) { o.Indexes = slices.Clone(o.Indexes); o.Indexes[0].Unique = true },
		"index added":       func(o *Object) { o.Indexes = append(slices.Clone(o.Indexes), Index{Fields: []string{"due_at"}}) },
		"field removed":     func(o *Object) { o.Fields = o.Fields[:len(o.Fields)-1] },
		"extra (UI key)":    func(o *Object) { o.Extra = map[string]any{"enable": map[string]any{"trash": false}} },
		"field extra":       func(o *Object) { f, _ := o.Field("subject"); f.Extra = map[string]any{"inlineHelpText": "x"} },
		"abstract":          func(o *Object) { o.Abstract = true },
		"soft delete":       func(o *Object) { o.SoftDelete = &SoftDelete{Enabled: true} },
		"number default":    func(o *Object) { f, _ := o.Field("hours_spent"); f.DefaultValue = 1.5 },
		"number default 2":  func(o *Object) { f, _ := o.Field("hours_spent"); f.DefaultValue = 2 },
		"autonumber format": func(o *Object) { f, _ := o.Field("ticket_number"); f.AutonumberFormat = "T-{0}" },
	}
	seen := map[string]string{}
	for name, mutate := range mutations {
		o := *st
		o.Fields = slices.Clone(st.Fields)
		mutate(&o)
		got := ObjectChecksum(o)
		if got == base {
			t.Errorf("%s: object checksum unchanged", name)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s give the same checksum", name, prev)
		}
		seen[got] = name

		c := *b
		c.Objects = slices.Clone(b.Objects)
		for i := range c.Objects {
			if c.Objects[i].Name == st.Name {
				c.Objects[i] = o
			}
		}
		if Checksum(&c) == bundleBase {
			t.Errorf("%s: bundle checksum unchanged", name)
		}
	}
	for name, mutate := range map[string]func(c *Bundle){
		"version":     func(c *Bundle) { c.Manifest.Version = "1.0.1" },
		"bundle name": func(c *Bundle) { c.Manifest.Name = "crm2" },
		"seed value": func(c *Bundle) {
			c.SeedData = slices.Clone(c.SeedData)
			c.SeedData[0].Records = []map[string]any{{"name": "Other"}}
		},
		"seed mode": func(c *Bundle) { c.SeedData = slices.Clone(c.SeedData); c.SeedData[0].Mode = "insert" },
		"view":      func(c *Bundle) { c.Views = append(c.Views, map[string]any{"name": "v"}) },
		"flow":      func(c *Bundle) { c.Flows = append(c.Flows, map[string]any{"name": "f"}) },
		"perm":      func(c *Bundle) { c.Permissions = append(c.Permissions, map[string]any{"name": "p"}) },
	} {
		c := *b
		mutate(&c)
		if Checksum(&c) == bundleBase {
			t.Errorf("%s: bundle checksum unchanged", name)
		}
	}
}

func TestObjectJSONRoundTrip(t *testing.T) {
	for _, b := range []*Bundle{crm(t)} {
		for _, o := range b.Objects {
			o.Extra["weights"] = []any{float64(2), int64(3), 2.5, map[string]any{"k": nil}}
			data, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			// fields come out as an object, in declaration order.
			last := -1
			for _, f := range o.Fields {
				i := strings.Index(string(data), `"`+f.Key+`":{`)
				if i < 0 || i < last {
					t.Fatalf("%s: field %s missing or out of order in %s", o.Name, f.Key, data)
				}
				last = i
			}
			var back Object
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("%s: %v", o.Name, err)
			}
			want := o
			want.Source, want.Lines = "", nil
			if !reflect.DeepEqual(back, want) {
				t.Fatalf("%s: round trip differs\n got %#v\nwant %#v", o.Name, back, want)
			}
			if ObjectChecksum(back) != ObjectChecksum(o) {
				t.Fatalf("%s: checksum changed by a round trip", o.Name)
			}
		}
	}
}

func TestObjectUnmarshalRejectsBadDefinitions(t *testing.T) {
	for _, in := range []string{
		`{"name": "x", "fields": {"a": {"type": "text"}, "a": {"type": "text"}}}`,
		`{"name": "x", "fields": {"a": {"type": "text", "required": "yes"}}}`,
		`{"name": "x", "fields": []}`,
		`[1]`,
		`{"name": "x", "fields": {`,
	} {
		var o Object
		if err := json.Unmarshal([]byte(in), &o); err == nil {
			t.Errorf("Unmarshal(%s) accepted", in)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	a, err := CanonicalJSON(map[string]any{"b": 1.0, "a": []any{"<&>", int64(2), 1e21, 0.5}, "c": nil})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":["<&>",2,1e+21,0.5],"b":1,"c":null}`
	if string(a) != want {
		t.Fatalf("got  %s\nwant %s", a, want)
	}
}

func TestFastCanonicalMatchesGeneric(t *testing.T) {
	check := func(o Object) {
		t.Helper()
		fast, err := canonicalObject(&o)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := CanonicalJSON(o)
		if err != nil {
			t.Fatal(err)
		}
		if string(fast) != string(slow) {
			t.Fatalf("%s:\nfast %s\nslow %s", o.Name, fast, slow)
		}
	}
	for _, ex := range []string{"crm", "crm-v2"} {
		b, _ := loadOK(t, filepath.Join(examplesDir(t), ex))
		for _, o := range b.Objects {
			check(o)
		}
	}
	yes := true
	one, big, frac := 1.0, 1e300, 0.25
	check(Object{Name: "odd \"name\" é\n", Active: &yes, SoftDelete: &SoftDelete{}, Indexes: []Index{{}}, Extra: map[string]any{
		"type": "shadowed?", "z": []any{1e20, int64(1) << 60, -0.0, "\u2028<>&", map[string]any{"b": nil, "a": false}}}, Fields: []Field{
		{Key: "a", Type: TypeNumber, Min: &one, Max: &big, DefaultValue: frac},
		{Key: "b", Type: TypeVector, VectorConfig: &VectorConfig{Indexed: &yes}, CurrencyConfig: &CurrencyConfig{}, SummaryOperations: &SummaryOperations{}},
		{Key: "c", Type: TypeSelect, Options: []Option{{}}, DefaultValue: []string{"x"}, Extra: map[string]any{"label": 1, "q": float32(1.5)}},
		{Key: "c", Type: TypeText}, // duplicate key: the generic encoder decides
	}})
}
