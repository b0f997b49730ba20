package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestResolveDefaultsAndEnvironment(t *testing.T) {
	for _, k := range []string{"OBJECTSTACK_BACKEND", "OBJECTSTACK_DATA_DIR", "OBJECTSTACK_API_URL", "OBJECTSTACK_ORG", "TURSO_ORG",
		"OBJECTSTACK_API_TOKEN", "TURSO_API_TOKEN", "OBJECTSTACK_GROUP", "OBJECTSTACK_MAX_RETRIES"} {
		t.Setenv(k, "")
	}
	s, errs := Resolve(Model{})
	if len(errs) != 0 {
		t.Fatalf("defaults: %v", errs)
	}
	if s.Backend != BackendLocal || s.DataDir != DefaultDataDir || s.Group != DefaultGroup || s.MaxRetries != DefaultMaxRetries {
		t.Fatalf("defaults: %+v", s)
	}

	// Environment fills what the configuration leaves out; TURSO_* are fallbacks of OBJECTSTACK_*.
	t.Setenv("OBJECTSTACK_BACKEND", "turso")
	t.Setenv("TURSO_ORG", "from-turso-org")
	t.Setenv("TURSO_API_TOKEN", "secret-1")
	t.Setenv("OBJECTSTACK_API_TOKEN", "secret-2")
	t.Setenv("OBJECTSTACK_MAX_RETRIES", "7")
	s, errs = Resolve(Model{Group: types.StringValue("tenants")})
	if len(errs) != 0 {
		t.Fatalf("env: %v", errs)
	}
	if s.Backend != BackendTurso || s.Organization != "from-turso-org" || s.APIToken != "secret-2" || s.Group != "tenants" || s.MaxRetries != 7 {
		t.Fatalf("env: %+v", s)
	}
	// The attribute wins over the environment.
	s, _ = Resolve(Model{Organization: types.StringValue("attr-org"), MaxRetries: types.Int64Value(0)})
	if s.Organization != "attr-org" || s.MaxRetries != 0 {
		t.Fatalf("attribute precedence: %+v", s)
	}
}

func TestResolveErrorsNameTheSetting(t *testing.T) {
	for _, k := range []string{"OBJECTSTACK_ORG", "TURSO_ORG", "OBJECTSTACK_API_TOKEN", "TURSO_API_TOKEN", "OBJECTSTACK_API_URL", "OBJECTSTACK_MAX_RETRIES"} {
		t.Setenv(k, "")
	}
	_, errs := Resolve(Model{Backend: types.StringValue("turso"), APIURL: types.StringValue("http://api.example.com")})
	got := map[string]string{}
	for _, e := range errs {
		got[e.Attribute] = e.Message
	}
	for _, attr := range []string{"organization", "api_token", "api_url"} {
		if got[attr] == "" {
			t.Errorf("no error for %s; got %v", attr, errs)
		}
	}
	t.Setenv("OBJECTSTACK_BACKEND", "postgres")
	if _, errs := Resolve(Model{}); len(errs) != 1 || errs[0].Attribute != "backend" {
		t.Errorf("bad backend from env: %v", errs)
	}
	t.Setenv("OBJECTSTACK_BACKEND", "")
	t.Setenv("OBJECTSTACK_MAX_RETRIES", "many")
	if _, errs := Resolve(Model{}); len(errs) != 1 || errs[0].Attribute != "max_retries" {
		t.Errorf("bad max_retries from env: %v", errs)
	}
}

func TestCheckAPIURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.turso.tech":  true,
		"http://127.0.0.1:8080":   true,
		"http://localhost:8080/":  true,
		"http://api.turso.tech":   false,
		"ftp://api.turso.tech":    false,
		"not a url":               false,
		"https://":                false,
		"http://[::1]:9000/v1/xx": true,
	} {
		if msg := checkAPIURL(raw); (msg == "") != ok {
			t.Errorf("checkAPIURL(%q) = %q, want ok=%v", raw, msg, ok)
		}
	}
}

func TestSettingsKeyHidesToken(t *testing.T) {
	k := Settings{Backend: "turso", APIToken: "super-secret-token"}.key()
	if strings.Contains(k, "super-secret-token") {
		t.Fatal("client cache key contains the API token")
	}
	if k == (Settings{Backend: "turso", APIToken: "other"}).key() {
		t.Fatal("different tokens share a client")
	}
}
