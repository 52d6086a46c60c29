package dbopt

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/dbopt/querytrace"
	"modernc.org/sqlite"
)

func openSQLite(t *testing.T, rec *querytrace.Recorder) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	db := querytrace.Open(&sqlite.Driver{}, path, rec)
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestHealthSQLite(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db, path := openSQLite(t, rec)
	ctx := context.Background()
	stmts := []string{
		`CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT)`,
		`CREATE INDEX events_kind ON events (kind)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000)
		 INSERT INTO events (kind, payload) SELECT 'k' || (i % 10), hex(randomblob(400)) FROM n`,
		`DELETE FROM events WHERE id > 1500`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for range 3 {
		var c int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE payload = ?`, "x").Scan(&c); err != nil {
			t.Fatal(err)
		}
	}
	// A recorded string with two statements: EXPLAIN covers only the first,
	// so checks must refuse it rather than run the DROP.
	rec.Record("SELECT 1; DROP TABLE events", time.Millisecond, nil, nil)
	// The optimizer's own statistics queries scan too, through the same
	// handle; they are not the application's to fix.
	rec.Record(`/* perfengine */ SELECT count(DISTINCT "payload") FROM (SELECT "payload" FROM "events" LIMIT 10000)`, time.Millisecond, nil, nil)
	o, err := New("sqlite:"+path, WithRecorder(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Initialize(ctx); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	defer o.Close()
	r, err := o.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	tests := []struct{ check, status string }{
		{"slow_queries", StatusOK},
		{"analyze", StatusWarning},
		{"vacuum", StatusWarning},
		{"wal_checkpoint", StatusOK},
		{"full_scans", StatusWarning},
	}
	for _, tc := range tests {
		c := r.Check(tc.check)
		if c == nil || c.Status != tc.status {
			t.Errorf("check %s = %+v, want %s", tc.check, c, tc.status)
		}
	}
	// The fix the analyze check names clears it: PRAGMA optimize, run on a
	// pool's connection that never queried the table, would not.
	plan, err := o.MaintenancePlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range plan {
		if task.Kind != TaskAnalyze {
			continue
		}
		if res, err := o.RunMaintenance(ctx, task, Window{}); err != nil || !strings.HasPrefix(res.Statement, "ANALYZE ") {
			t.Fatalf("RunMaintenance(%+v) = %+v, %v", task, res, err)
		}
	}
	if after, err := o.Health(ctx); err != nil || after.Check("analyze").Status != StatusOK {
		t.Errorf("analyze check after its fix: %+v, %v; want ok", after.Check("analyze"), err)
	}
	if c := r.Check("full_scans"); c != nil {
		for _, it := range c.Items {
			if strings.Contains(it.Detail, "perfengine") {
				t.Errorf("full_scans reports the optimizer's own query: %s", it.Detail)
			}
		}
	}
	// Once attached, the optimizer's own statements are not recorded at all
	// (each would cost a histogram), while the application's still are.
	rec.Record(`/* perfengine */ SELECT count(*) FROM "events"`, time.Millisecond, nil, nil)
	rec.Record(`SELECT kind FROM events WHERE id = ?`, time.Millisecond, nil, nil)
	var recorded []string
	for _, s := range rec.Snapshot() {
		recorded = append(recorded, s.Query)
	}
	if slices.Contains(recorded, `/* perfengine */ SELECT count(*) FROM "events"`) || !slices.Contains(recorded, `SELECT kind FROM events WHERE id = ?`) {
		t.Errorf("recorded after WithRecorder: %q", recorded)
	}
	if _, err := o.IndexSuggestions(ctx); err != nil {
		t.Fatalf("IndexSuggestions: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatalf("events is gone after health checks: %v", err)
	}
	ms, err := o.Metrics(ctx)
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	got := map[string]float64{}
	for _, m := range ms {
		got[m.Name] = m.Value
	}
	if got[MetricFreelistRatio] < 0.5 || got[MetricSizeBytes] <= 0 {
		t.Errorf("Metrics = %v, want a freelist ratio over 0.5 and a size", got)
	}
}

func TestParsePlanDetail(t *testing.T) {
	tests := []struct {
		in   string
		want planStep
	}{
		{"SCAN products", planStep{kind: "SCAN", table: "products"}},
		{"SCAN TABLE products AS p", planStep{kind: "SCAN", table: "products"}},
		{"SEARCH products USING INDEX products_name_idx (name=?)", planStep{kind: "SEARCH", table: "products", index: "products_name_idx", eq: 1}},
		{"SEARCH o USING COVERING INDEX o_ab (a=? AND b>? AND b<?)", planStep{kind: "SEARCH", table: "o", index: "o_ab", eq: 1, rng: 2}},
		{"SEARCH products USING INTEGER PRIMARY KEY (rowid=?)", planStep{kind: "SEARCH", table: "products", index: "INTEGER PRIMARY KEY", eq: 1}},
		{"SEARCH t USING AUTOMATIC COVERING INDEX (a=?)", planStep{kind: "SEARCH", table: "t", eq: 1}},
		{"USE TEMP B-TREE FOR ORDER BY", planStep{kind: "SORT"}},
		{"CORRELATED SCALAR SUBQUERY 1", planStep{kind: "OTHER"}},
		{"SEARCH", planStep{kind: "OTHER"}},
	}
	for _, tc := range tests {
		got := parsePlanDetail(tc.in)
		tc.want.detail = tc.in
		if got != tc.want {
			t.Errorf("parsePlanDetail(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSQLiteParams(t *testing.T) {
	tests := []struct {
		in   string
		pg   string
		want int
	}{
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2", 2},
		{"SELECT '?' FROM t WHERE a = ?2 AND b = ?1", "SELECT '?' FROM t WHERE a = $2 AND b = $1", 2},
		{"SELECT `x` FROM t -- ?", `SELECT "x" FROM t -- ?`, 0},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?", 0},
		{"SELECT /* ? */ a FROM t WHERE b = ?", "SELECT /* ? */ a FROM t WHERE b = $1", 1},
	}
	for _, tc := range tests {
		if got := toPgParams(tc.in); got != tc.pg {
			t.Errorf("toPgParams(%q) = %q, want %q", tc.in, got, tc.pg)
		}
		if got := countSQLiteParams(tc.in); got != tc.want {
			t.Errorf("countSQLiteParams(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func ExampleOptimizer_Advise_sqlite() {
	dir, _ := osMkdirTemp()
	defer osRemoveAll(dir)
	db, _ := sql.Open("sqlite", filepath.Join(dir, "shop.db"))
	defer db.Close()
	db.Exec(`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT)`)
	db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		INSERT INTO products (name, category) SELECT 'product ' || i, 'c' || (i % 20) FROM n`)

	o := NewSQLite(db)
	ctx := context.Background()
	if err := o.Initialize(ctx); err != nil {
		fmt.Println(err)
		return
	}
	adv, err := o.Advise(ctx, []Query{{SQL: "SELECT * FROM products WHERE name = ?"}}, AdviseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range adv.Suggestions {
		fmt.Println(s.Statement)
	}
	// Output:
	// CREATE INDEX IF NOT EXISTS "products_name_idx" ON "products" ("name")
}

// TestPreparedPerCall: a statement prepared for every execution through
// the instrumented handle is query advice; one prepared once and run as
// often, and plain queries, are not.
func TestPreparedPerCall(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db := querytrace.Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "p.db"), rec)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	once, err := db.PrepareContext(ctx, `SELECT name FROM items WHERE id = ? AND name IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	for i := range 150 {
		st, err := db.PrepareContext(ctx, `SELECT name FROM items WHERE id = ?`)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.QueryRowContext(ctx, i).Scan(new(sql.NullString))
		st.Close()
		_ = once.QueryRowContext(ctx, i).Scan(new(sql.NullString))
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM items WHERE name = ?`, fmt.Sprint(i)).Scan(new(int))
	}
	o := NewSQLite(db, WithRecorder(rec))
	if err := o.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	adv, err := o.AdviseWorkload(ctx, AdviseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range adv.QueryIssues {
		got = append(got, q.Kind+": "+q.Query+" ("+q.Evidence+")")
	}
	want := "prepared_per_call: SELECT name FROM items WHERE id = ? (prepared 150 times for 150 executions)"
	if strings.Join(got, "\n") != want {
		t.Errorf("query issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
