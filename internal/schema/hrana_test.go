package schema_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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

// openHrana starts a loopback dev server with one database and opens it over Hrana twice: two clients, as a
// reconciler and a person at a shell would be.
func openHrana(t *testing.T) (a, b *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base, stop, err := devserver.StartLocal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	platformCall(t, "POST", base+"/v1/organizations/acme/databases", `{"name":"tenant-two","group":"default"}`, nil)
	var tok struct {
		JWT string `json:"jwt"`
	}
	platformCall(t, "POST", base+"/v1/organizations/acme/databases/tenant-two/auth/tokens?authorization=full-access", "", &tok)
	for _, p := range []**sql.DB{&a, &b} {
		db, err := database.Open(devserver.DatabaseURL(base, "tenant-two"), tok.JWT)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		*p = db
	}
	return a, b
}

// TestStaleAndLeaseOverHrana: the checks a batch makes before it runs anything hold over Hrana — a plan made
// before someone else changed the schema or the registry is refused as stale, a lease held by another holder
// refuses the batch and names the holder, and in each case nothing of the plan was applied.
func TestStaleAndLeaseOverHrana(t *testing.T) {
	ctx := context.Background()
	db, other := openHrana(t)
	owner := schema.BundleOwner("crm")
	v1 := []bundle.Object{{Name: "account", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText}}}}
	v2 := []bundle.Object{{Name: "account", Fields: []bundle.Field{{Key: "name", Type: bundle.TypeText}, {Key: "tier", Type: bundle.TypeText}}}}
	p, err := schema.PlanOwner(ctx, db, owner, v1, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	hasTier := func() bool {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('account') WHERE name = 'tier'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	// Stale: another client adds an index between plan and apply.
	p, err = schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `CREATE INDEX by_hand ON account (name)`); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test"}); !errors.Is(err, schema.ErrStalePlan) {
		t.Fatalf("want ErrStalePlan after a concurrent schema change, got %v", err)
	}
	if hasTier() {
		t.Fatal("a stale plan was applied")
	}

	// Stale: another owner registers objects (a registry change without DDL of this owner's tables).
	p, err = schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := schema.PlanOwner(ctx, other, schema.BundleOwner("other"), []bundle.Object{{Name: "memo", Fields: []bundle.Field{{Key: "body", Type: bundle.TypeText}}}}, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, other, q, schema.ApplyOptions{Source: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test"}); !errors.Is(err, schema.ErrStalePlan) {
		t.Fatalf("want ErrStalePlan after another owner's apply, got %v", err)
	}

	// Lease: another holder takes the migration lease after the plan.
	p, err = schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.AcquireLock(ctx, other, "reconciler-9", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test", Holder: "cli-1"})
	var le *schema.LockedError
	if !errors.As(err, &le) || le.Holder != "reconciler-9" {
		t.Fatalf("want LockedError by reconciler-9, got %v", err)
	}
	if hasTier() {
		t.Fatal("a plan was applied under another holder's lease")
	}
	if err := schema.ReleaseLock(ctx, other, "reconciler-9"); err != nil {
		t.Fatal(err)
	}
	p, err = schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test", Holder: "cli-1"}); err != nil || !hasTier() {
		t.Fatalf("apply after the lease was released: %v", err)
	}
}

// TestInterruptedBatchOverHrana cuts the client off while the server runs a long migration batch (a rebuild of
// a 100,000-row table): whatever the moment, the database is afterwards fully at the old schema or fully at
// the new one with every row, and a later plan converges it.
func TestInterruptedBatchOverHrana(t *testing.T) {
	ctx := context.Background()
	db, other := openHrana(t)
	owner := schema.BundleOwner("big")
	v1 := []bundle.Object{{Name: "item", Fields: []bundle.Field{{Key: "n", Type: bundle.TypeNumber}}}}
	v2 := []bundle.Object{{Name: "item", Fields: []bundle.Field{{Key: "n", Type: bundle.TypeText}}}} // a rebuild
	p, err := schema.PlanOwner(ctx, db, owner, v1, schema.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(ctx, db, p, schema.ApplyOptions{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	const rows = 100000
	if _, err := other.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
INSERT INTO item (id, n) SELECT 'i' || x, x FROM c`, rows); err != nil {
		t.Fatal(err)
	}
	sawOld, sawNew := false, false
	for _, cut := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond, 10 * time.Second} {
		p, err := schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.UpToDate {
			// The previous round committed: go back to v1 so every round starts from the old schema.
			back, err := schema.PlanOwner(ctx, db, owner, v1, schema.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := schema.Apply(ctx, db, back, schema.ApplyOptions{Source: "test", Allow: schema.AllDestructiveKinds}); err != nil {
				t.Fatal(err)
			}
			if p, err = schema.PlanOwner(ctx, db, owner, v2, schema.PlanOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, cut)
		_, applyErr := schema.Apply(cctx, db, p, schema.ApplyOptions{Source: "test", Allow: schema.AllDestructiveKinds})
		cancel()
		var typ string
		var n int
		// The server finishes or rolls back on its own; wait for the write lock to be free again.
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := other.QueryRowContext(ctx, `SELECT (SELECT type FROM pragma_table_info('item') WHERE name = 'n'), (SELECT count(*) FROM item)`).Scan(&typ, &n)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n != rows {
			t.Fatalf("cut after %s (apply error %v): %d rows, want %d", cut, applyErr, n, rows)
		}
		switch typ {
		case "REAL":
			sawOld = true
		case "TEXT":
			sawNew = true
		default:
			t.Fatalf("cut after %s: column n has type %q", cut, typ)
		}
		var ok string
		if err := other.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity after a cut: %q %v", ok, err)
		}
	}
	if !sawNew {
		t.Fatal("no round committed: the test did not exercise a completed batch")
	}
	t.Logf("saw old schema after a cut: %v", sawOld)
}
