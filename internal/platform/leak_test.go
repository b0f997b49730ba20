package platform_test

import (
	"fmt"
	"strings"
	"testing"
)

// assertNoSecrets fails when an error (or any text) of a fault path carries the Platform API token or
// anything shaped like a database token. Every fault-path test calls it: the happy-path secret tests
// never see the errors a retry, a drop or a refusal produces.
func assertNoSecrets(t *testing.T, apiToken string, vs ...any) {
	t.Helper()
	for _, v := range vs {
		if v == nil {
			continue
		}
		text := fmt.Sprintf("%v | %+v | %#v", v, v, v)
		if apiToken != "" && strings.Contains(text, apiToken) {
			t.Fatalf("the API token leaked into: %.300q", text)
		}
		if m := jwtShape.FindString(text); m != "" {
			t.Fatalf("a database token leaked into: %.300q", text)
		}
	}
}
