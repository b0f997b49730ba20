package platform_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

// TestTursoSeedRequestShape pins the create body Turso documents for forks and point-in-time
// restores: "seed":{"type":"database","name":"<src>","timestamp":"<RFC 3339>"} (plus turso-cli's
// "value" spelling of the name).
func TestTursoSeedRequestShape(t *testing.T) {
	f := newFakeAPI(t)
	p := newTurso(t, f)
	at := time.Date(2026, 11, 30, 9, 46, 8, 123456789, time.UTC)
	if _, err := p.CreateDatabase(testCtx(t), platform.CreateOptions{Name: "acme-restored", Group: "eu",
		Seed: &platform.Seed{Type: platform.SeedTypeDatabase, Database: "acme", Timestamp: &at}}); err != nil {
		t.Fatal(err)
	}
	bodies := f.bodies["POST /databases"]
	if len(bodies) != 1 {
		t.Fatalf("POST /databases sent %d times, want 1", len(bodies))
	}
	var got struct {
		Name, Group string
		Seed        map[string]string
	}
	if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"type": "database", "name": "acme", "value": "acme", "timestamp": "2026-11-30T09:46:08.123456789Z"}
	if got.Name != "acme-restored" || got.Group != "eu" || len(got.Seed) != len(want) {
		t.Fatalf("body = %s", bodies[0])
	}
	for k, v := range want {
		if got.Seed[k] != v {
			t.Fatalf("seed.%s = %q, want %q (body %s)", k, got.Seed[k], v, bodies[0])
		}
	}
}

// TestTursoSeedTimestampRefusal: the API's refusal of a timestamp outside the retention is
// ErrNoRestorePoint, not a missing database and not "already exists".
func TestTursoSeedTimestampRefusal(t *testing.T) {
	f := newFakeAPI(t)
	f.inject("POST /databases", status(400, `{"error":"invalid timestamp: outside of the retention period"}`))
	p := newTurso(t, f)
	at := time.Now().Add(-90 * 24 * time.Hour)
	_, err := p.CreateDatabase(testCtx(t), platform.CreateOptions{Name: "acme-restored",
		Seed: &platform.Seed{Database: "acme", Timestamp: &at}})
	if !errors.Is(err, platform.ErrNoRestorePoint) || errors.Is(err, platform.ErrAlreadyExists) || errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("err = %v; want ErrNoRestorePoint only", err)
	}
	if n := f.count("POST /databases"); n != 1 {
		t.Fatalf("a refused seed was sent %d times, want 1 (not retried)", n)
	}
}
