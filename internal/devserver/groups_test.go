package devserver

import (
	"testing"
)

// TestPlatformGroupEndpoints holds the group endpoints to Turso's documented bodies and status
// codes: {"group": Group} answers, {"error": "..."} failures with 400/404/409.
func TestPlatformGroupEndpoints(t *testing.T) {
	ts := startServer(t, Options{})
	call := func(method, path string, body any, wantStatus int, wantRaw string) map[string]any {
		t.Helper()
		st, m, raw := ts.apiCall(method, path, body)
		if st != wantStatus || (wantRaw != "" && raw != wantRaw) {
			t.Fatalf("%s %s: %d %s, want %d %s", method, path, st, raw, wantStatus, wantRaw)
		}
		return m
	}
	call("POST", "/groups", map[string]any{"name": "eu", "location": "aws-eu-west-1"}, 200, "")
	call("POST", "/groups", map[string]any{"name": "eu", "location": "aws-eu-west-1"}, 409, `{"error":"group already exists"}`)
	call("POST", "/groups", map[string]any{"name": "mars", "location": "mars-1"}, 400, `{"error":"invalid location: mars-1"}`)
	call("POST", "/groups/nogroup/locations/aws-us-west-2", nil, 404, `{"error":"group not found"}`)
	call("POST", "/groups/eu/locations/mars-1", nil, 400, `{"error":"invalid location: mars-1"}`)

	m := call("POST", "/groups/eu/locations/aws-us-west-2", nil, 200, "")
	g := m["group"].(map[string]any)
	if locs := g["locations"].([]any); g["primary"] != "aws-eu-west-1" || len(locs) != 2 || locs[0] != "aws-eu-west-1" || locs[1] != "aws-us-west-2" {
		t.Fatalf("after add location: %v", g)
	}
	call("DELETE", "/groups/eu/locations/aws-eu-west-1", nil, 400, "")
	m = call("DELETE", "/groups/eu/locations/aws-us-west-2", nil, 200, "")
	if locs := m["group"].(map[string]any)["locations"].([]any); len(locs) != 1 {
		t.Fatalf("after remove location: %v", m)
	}

	_, m, _ = ts.do("GET", "/v1/locations", ts.api, nil)
	if m["locations"].(map[string]any)["aws-eu-west-1"] == nil {
		t.Fatalf("locations: %v", m)
	}

	call("POST", "/databases", map[string]any{"name": "shop-eu", "group": "eu"}, 200, "")
	call("DELETE", "/groups/eu", nil, 400, `{"error":"group eu still has databases (e.g. shop-eu); delete them first"}`)

	// Database configuration: delete_protection stops the delete with the setting named.
	m = call("PATCH", "/databases/shop-eu/configuration", map[string]any{"delete_protection": true, "block_reads": true, "size_limit": "1mb"}, 200, "")
	if m["delete_protection"] != true || m["block_reads"] != true || m["size_limit"] != "1000000" {
		t.Fatalf("patch configuration: %v", m)
	}
	call("GET", "/databases/shop-eu/configuration", nil, 200, `{"allow_attach":false,"block_reads":true,"block_writes":false,"delete_protection":true,"size_limit":"1000000"}`)
	call("DELETE", "/databases/shop-eu", nil, 400, `{"error":"database shop-eu has delete protection enabled; disable it in its configuration first"}`)
	call("PATCH", "/databases/shop-eu/configuration", map[string]any{"delete_protection": false}, 200, "")
	call("DELETE", "/databases/shop-eu", nil, 200, "")

	// Group configuration and tokens.
	m = call("PATCH", "/groups/eu/configuration", map[string]any{"delete_protection": true}, 200, "")
	if m["group"].(map[string]any)["delete_protection"] != true {
		t.Fatalf("patch group configuration: %v", m)
	}
	call("DELETE", "/groups/eu", nil, 400, `{"error":"group eu has delete protection enabled; disable it in its configuration first"}`)
	call("PATCH", "/groups/eu/configuration", map[string]any{"delete_protection": false}, 200, "")
	m = call("POST", "/groups/eu/auth/tokens?expiration=1h&authorization=read-only", nil, 200, "")
	if m["jwt"] == "" {
		t.Fatalf("group token: %v", m)
	}
	call("POST", "/groups/eu/auth/tokens?expiration=soon", nil, 400, `{"error":"Invalid expiration format"}`)
	call("POST", "/groups/nogroup/auth/tokens", nil, 404, `{"error":"group not found"}`)
	call("POST", "/groups/eu/auth/rotate", nil, 200, "")
	call("POST", "/groups/nogroup/auth/rotate", nil, 404, `{"error":"group not found"}`)
	call("DELETE", "/groups/eu", nil, 200, "")
	call("GET", "/groups/eu", nil, 404, `{"error":"group not found"}`)
}

// TestGroupStateSurvivesRestart: locations, delete protection and the token generation are in
// the registry, not only in memory.
func TestGroupStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.groups[groupKey("o", "eu")] = &groupEntry{org: "o", name: "eu", uuid: "u", location: "aws-eu-west-1"}
	if err := s.reg.insertGroup(t.Context(), s.groups[groupKey("o", "eu")]); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	err = s.setGroupStateLocked(t.Context(), "o", "eu", groupState{locations: []string{"aws-us-west-2"}, deleteProtection: true, gen: 3})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st := s2.groupStateLocked("o", "eu")
	if len(st.locations) != 1 || st.locations[0] != "aws-us-west-2" || !st.deleteProtection || st.gen != 3 {
		t.Fatalf("after restart: %+v", st)
	}
}
