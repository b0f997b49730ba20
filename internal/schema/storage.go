package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

// The registry stores object definitions in bundle's own JSON form (ordered fields, extra keys kept),
// which reads back into an identical bundle.Object.

func encodeObject(o bundle.Object) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode object %s: %w", o.Name, err)
	}
	return b, nil
}

func decodeObject(b []byte) (bundle.Object, error) {
	var o bundle.Object
	if err := json.Unmarshal(b, &o); err != nil {
		return bundle.Object{}, fmt.Errorf("decode stored object: %w", err)
	}
	return o, nil
}

// joinJSON builds a JSON array from already-encoded definitions.
func joinJSON(defs [][]byte) []byte {
	out := []byte{'['}
	for i, d := range defs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, d...)
	}
	return append(out, ']')
}

func decodeObjects(b []byte) ([]bundle.Object, error) {
	var out []bundle.Object
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode stored object set: %w", err)
	}
	return out, nil
}

// objectChecksum is the checksum recorded per object in _objectstack_objects: bundle's canonical one.
func objectChecksum(o bundle.Object) (string, error) {
	return bundle.ObjectChecksum(o), nil
}

// setChecksum is the checksum of an owner's object set: the hash of its (name, object checksum) pairs in
// name order. OwnerChecksum computes the same from the registry, so a plan is up to date exactly when
// the two agree.
func setChecksum(pairs map[string]string) string {
	if len(pairs) == 0 {
		return ""
	}
	names := make([]string, 0, len(pairs))
	for n := range pairs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\n", n, pairs[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
