package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// CanonicalJSON encodes v as JSON with every object's keys sorted, no insignificant whitespace, no HTML escaping
// and numbers in one normal form (1, 1.0 and 1e0 are all 1). Two values that mean the same encode to the same bytes.
func CanonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	writeCanonical(&buf, generic)
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		_ = canonMap(buf, x, func(k string) error { writeCanonical(buf, x[k]); return nil })
	case []any:
		_ = canonArray(buf, len(x), func(i int) error { writeCanonical(buf, x[i]); return nil })
	case string:
		writeString(buf, x)
	case json.Number:
		buf.WriteString(canonicalNumber(x))
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	default:
		buf.WriteString("null")
	}
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

func canonicalNumber(n json.Number) string {
	s := string(n)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	if !strings.ContainsAny(s, ".eE") {
		return s // a large integer: keep every digit
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checksumOf hashes the canonical form of v. Values that cannot be encoded (only possible for objects built in code
// with NaN or non-JSON values in Extra) hash their error text, which never collides with valid content.
func checksumOf(v any) string {
	b, err := CanonicalJSON(v)
	if err != nil {
		return sha256Hex([]byte("unencodable: " + err.Error()))
	}
	return sha256Hex(b)
}

// ObjectChecksum is the SHA-256 (hex) of an object's canonical JSON: independent of key order, of the order of its
// fields, of YAML vs. JSON and of formatting; Source and Lines are not part of it.
func ObjectChecksum(o Object) string {
	b, err := canonicalObject(&o)
	if err != nil {
		return sha256Hex([]byte("unencodable: " + err.Error()))
	}
	return sha256Hex(b)
}

// ObjectsChecksum is the checksum of a set of objects, independent of their order.
func ObjectsChecksum(objs []Object) string {
	var buf bytes.Buffer
	writeObjects(&buf, objs)
	return sha256Hex(buf.Bytes())
}

// writeObjects writes the canonical JSON array of objs in name order.
func writeObjects(buf *bytes.Buffer, objs []Object) {
	idx := make([]int, len(objs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return objs[idx[a]].Name < objs[idx[b]].Name })
	var w canonWriter
	var scratch bytes.Buffer
	_ = canonArray(buf, len(idx), func(n int) error {
		b, err := w.canonical(&scratch, &objs[idx[n]])
		if err != nil {
			b, _ = json.Marshal("unencodable: " + err.Error())
		}
		buf.Write(b)
		return nil
	})
}

// Checksum is the canonical SHA-256 (hex) of a bundle's semantic content: the manifest without its checksum, the
// objects, views, flows, permissions and seed data. It does not depend on key order, field order, YAML vs. JSON,
// whitespace, comments, file names, or the order of names in the manifest's lists.
func Checksum(b *Bundle) string {
	m := b.Manifest
	m.Checksum = ""
	m.Objects = sortedStrings(m.Objects)
	m.Views = sortedStrings(m.Views)
	m.Flows = sortedStrings(m.Flows)
	m.Permissions = sortedStrings(m.Permissions)
	seeds := make([]any, len(b.SeedData))
	for i, ds := range b.SeedData {
		if ds.ExternalID == "" {
			ds.ExternalID = DefaultExternalID
		}
		if ds.Mode == "" {
			ds.Mode = DefaultSeedMode
		}
		if ds.Env == nil {
			ds.Env = DefaultSeedEnv
		}
		seeds[i] = ds
	}
	// Keys in sorted order: the document is canonical JSON itself.
	var buf bytes.Buffer
	buf.WriteString(`{"flows":`)
	writeRecords(&buf, sortedRecords(b.Flows))
	buf.WriteString(`,"manifest":`)
	mb, err := CanonicalJSON(m)
	if err != nil {
		mb, _ = json.Marshal("unencodable: " + err.Error())
	}
	buf.Write(mb)
	buf.WriteString(`,"objects":`)
	writeObjects(&buf, b.Objects)
	buf.WriteString(`,"permissions":`)
	writeRecords(&buf, sortedRecords(b.Permissions))
	buf.WriteString(`,"seedData":`)
	writeRecords(&buf, sortedRecords(seeds))
	buf.WriteString(`,"views":`)
	writeRecords(&buf, sortedRecords(b.Views))
	buf.WriteByte('}')
	return sha256Hex(buf.Bytes())
}

func writeRecords(buf *bytes.Buffer, recs []json.RawMessage) {
	buf.WriteByte('[')
	for i, r := range recs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(r)
	}
	buf.WriteByte(']')
}

func sortedStrings(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// sortedRecords orders records by their canonical encoding, so the files they came from do not matter.
func sortedRecords[T any](recs []T) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(recs))
	for _, r := range recs {
		b, err := CanonicalJSON(r)
		if err != nil {
			b, _ = json.Marshal("unencodable: " + err.Error())
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}
