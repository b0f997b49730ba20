package schema_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

func platformCall(t *testing.T, method, url, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer dev")
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestApplyOverHrana runs plan, apply (including a table rebuild), drift-free re-plan and rollback over
// Hrana v2 (libsql-client-go's http client against the loopback dev server): the apply path must not
// depend on anything only a local SQLite file offers.
func TestApplyOverHrana(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, stop, err := devserver.StartLocal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	platformCall(t, "POST", base+"/v1/organizations/acme/databases", `{"name":"tenant-one","group":"default"}`, nil)
	var tok struct {
		JWT string `json:"jwt"`
	}
	platformCall(t, "POST", base+"/v1/organizations/acme/databases/tenant-one/auth/tokens?authorization=full-access", "", &tok)
	db, err := database.Open(devserver.DatabaseURL(base, "tenant-one"), tok.JWT)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	owner := schema.BundleOwner("crm")
	v1 := []bundle.Object{
		{Name: "account", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText, Required: true, DefaultValue: "x\"; DROP TABLE y; --"}, {Key: "score", Type: bundle.TypeNumber, Unique: true}}},
		{Name: "contact", Fields: []bundle.Field{{Key: "account", Type: bundle.TypeMasterDetail, Reference: "account"}}},
	}
	v2 := []bundle.Object{
		{Name: "account", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText, Required: true, DefaultValue: "x\"; DROP TABLE y; --"}, {Key: "score", Type: bundle.TypeText, Unique: true}, {Key: "tier", Type: bundle.TypeText}}},
		{Name: "contact", Fields: []bundle.Field{{Key: "account", Type: bundle.TypeMasterDetail, Reference: "account"}}},
	}
	apply := func(objs []bundle.Object) *schema.DeployExecutionResult {
		t.Helper()
		p, err := schema.PlanOwner(ctx, db, owner, objs, schema.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "hrana-test"})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		return res
	}
	apply(v1)
	for i := 0; i < 20; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO account (id, name, score) VALUES (?, ?, ?)`, fmt.Sprint("a", i), fmt.Sprint("n", i), i); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO contact (id, account) VALUES (?, ?)`, fmt.Sprint("c", i), fmt.Sprint("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Apply relies on a *sql.Conn being one Hrana stream (one server-side SQLite connection), so that
	// PRAGMA foreign_keys=OFF sent before BEGIN governs the migration transaction.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var fk int
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = ON`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("a session setting did not survive on one *sql.Conn over Hrana: %d %v", fk, err)
	}
	conn.Close()
	res := apply(v2) // number → text: a rebuild of the parent table
	var n int
	var score string
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM contact`).Scan(&n); err != nil || n != 20 {
		t.Fatalf("contacts after parent rebuild: %d %v", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT score FROM account WHERE id = 'a7'`).Scan(&score); err != nil || score != "7.0" {
		t.Fatalf("converted score %q %v", score, err)
	}
	p, err := schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
	if err != nil || !p.UpToDate {
		t.Fatalf("second plan over Hrana not empty: %v %+v", err, p)
	}
	if _, err := schema.Rollback(ctx, db, res.DeploymentID, schema.ApplyOptions{Allow: schema.AllDestructiveKinds}); err != nil {
		t.Fatalf("rollback over Hrana: %v", err)
	}
	if p, err = schema.PlanOwner(ctx, db, owner, v1, schema.PlanOptions{}); err != nil || !p.UpToDate {
		t.Fatalf("after rollback not at v1: %v", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM account WHERE score = 7`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after rollback: %d %v", n, err)
	}
}
