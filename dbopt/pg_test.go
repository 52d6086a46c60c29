package dbopt

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// ordersSchema is a table big enough that the planner prefers an index for
// a selective filter, small enough to load in a second.
const ordersSchema = `
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, country text NOT NULL);
INSERT INTO customers (email, country) SELECT 'c' || i || '@example.com', (ARRAY['de','fr','us','jp'])[1 + i % 4] FROM generate_series(1, 5000) i;
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, total numeric);
INSERT INTO orders (customer_id, status, created_at, total)
  SELECT 1 + i % 5000, CASE WHEN i % 20 = 0 THEN 'pending' ELSE 'done' END, timestamptz '2026-01-01' - i * interval '1 minute', i % 100
  FROM generate_series(1, 100000) i;
ANALYZE customers; ANALYZE orders;`

func TestAdvisePostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, ordersSchema)
	// Forget the bulk load: the advisor would count it as write load.
	mustExec(t, pool, `SELECT pg_stat_reset()`)
	o := newOpt(t, dsn)
	ctx := context.Background()
	qs := []Query{
		{SQL: "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10", Calls: 1000, MeanMs: 12},
		{SQL: "SELECT count(*) FROM orders WHERE status = 'pending' AND created_at > timestamptz '2025-12-31'", Calls: 10, MeanMs: 30},
		{SQL: "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1", Calls: 500, MeanMs: 8},
		{SQL: "SELECT * FROM orders WHERE id = 5", Calls: 100, MeanMs: 0.1},
		{SQL: "SELECT * FROM gone WHERE a = 1"},
		{SQL: "SELEC oops"},
		{SQL: "SELECT * FROM orders WHERE $1 IS NULL"},
	}
	adv, err := o.Advise(ctx, qs, AdviseOptions{})
	if err != nil {
		t.Fatalf("Advise: %v", err)
	}
	got := map[string]Suggestion{}
	for _, s := range adv.Suggestions {
		key := s.Table + "(" + strings.Join(s.Columns, ",") + ")"
		if s.Where != "" {
			key += " WHERE " + s.Where
		}
		got[key] = s
		if s.SavingsPct <= 20 || s.CostAfter >= s.CostBefore || s.SizeBytes <= 0 || len(s.Queries) == 0 {
			t.Errorf("suggestion %s: savings %.1f%%, cost %.1f -> %.1f, %d bytes, %d queries; want a real saving", key, s.SavingsPct, s.CostBefore, s.CostAfter, s.SizeBytes, len(s.Queries))
		}
		if !strings.HasPrefix(s.Statement, "CREATE INDEX CONCURRENTLY ") {
			t.Errorf("statement %q, want CREATE INDEX CONCURRENTLY", s.Statement)
		}
	}
	for _, want := range []string{"orders(customer_id,created_at)", "customers(email)", `orders(created_at) WHERE "status" = 'pending'`} {
		if _, ok := got[want]; !ok {
			t.Errorf("Advise suggestions = %v, want %s", keys(got), want)
		}
	}
	if len(adv.Suggestions) != 3 {
		t.Errorf("Advise gave %d suggestions %v, want 3 (no index for the primary key lookup, none redundant)", len(adv.Suggestions), keys(got))
	}
	reasons := map[string]string{}
	for _, s := range adv.Skipped {
		reasons[s.Query] = s.Reason
	}
	if !strings.Contains(reasons["SELECT * FROM gone WHERE a = 1"], "does not exist") ||
		!strings.Contains(reasons["SELEC oops"], "syntax error") ||
		!strings.Contains(reasons["SELECT * FROM orders WHERE $1 IS NULL"], "could not determine data type") {
		t.Errorf("Skipped = %v, want the missing table, the syntax error and the unknown parameter type", reasons)
	}
	if adv.CostAfter >= adv.CostBefore {
		t.Errorf("workload cost %.0f -> %.0f, want lower", adv.CostBefore, adv.CostAfter)
	}

	// Budget: only what fits.
	small, err := o.Advise(ctx, qs, AdviseOptions{Budget: 300 << 10})
	if err != nil {
		t.Fatalf("Advise with budget: %v", err)
	}
	var total int64
	for _, s := range small.Suggestions {
		total += s.SizeBytes
	}
	if total > 300<<10 || len(small.Suggestions) >= len(adv.Suggestions) {
		t.Errorf("with a 300 KiB budget: %d suggestions of %d bytes, want fewer within budget", len(small.Suggestions), total)
	}

	// Apply the best one for real, prove it is used, and undo it.
	s := got["orders(customer_id,created_at)"]
	applied, err := o.AddIndex(ctx, s)
	if err != nil {
		t.Fatalf("AddIndex: %v", err)
	}
	if len(applied.Used) == 0 || !strings.Contains(applied.Plan, s.Name) {
		t.Errorf("AddIndex = %+v, want the plan to use %s", applied, s.Name)
	}
	var valid bool
	if err := pool.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, applied.Name).Scan(&valid); err != nil || !valid {
		t.Fatalf("index %s valid = %v, %v", applied.Name, valid, err)
	}
	again, err := o.Advise(ctx, qs[:1], AdviseOptions{})
	if err != nil || len(again.Suggestions) != 0 {
		t.Errorf("Advise after AddIndex = %v, %v; want nothing: the index exists", again, err)
	}
	if err := o.DropIndex(ctx, applied.Name); err != nil {
		t.Fatalf("DropIndex: %v", err)
	}
	if err := o.DropIndex(ctx, applied.Name); err != nil {
		t.Fatalf("DropIndex twice: %v", err)
	}
	mustExec(t, pool, `CREATE INDEX users_own ON orders (total)`)
	if err := o.DropIndex(ctx, "users_own"); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("DropIndex(user's index) = %v, want ErrNotOurs", err)
	}
}

// TestAdviseBRIN: a time-range query on an append-ordered table gets the
// B-tree when there is room for it, and the BRIN index, a few pages for
// the whole table, when the budget leaves no room for the B-tree; the BRIN
// builds at its estimated size and serves the query. A column in no
// particular order gets no BRIN.
func TestAdviseBRIN(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, score int NOT NULL, payload text);
INSERT INTO events (at, score, payload)
  SELECT timestamptz '2026-01-01' + i * interval '1 second', (i * 7919) % 100003, repeat('x', 60) FROM generate_series(1, 200000) i;
ANALYZE events; SELECT pg_stat_reset();`)
	o := newOpt(t, dsn)
	ctx := context.Background()
	qs := []Query{
		{SQL: "SELECT * FROM events WHERE at >= $1 AND at < $2", Calls: 500, MeanMs: 20},
		{SQL: "SELECT count(*) FROM events WHERE score BETWEEN $1 AND $2", Calls: 50, MeanMs: 20},
	}
	describe := func(adv *Advice) map[string]Suggestion {
		got := map[string]Suggestion{}
		for _, s := range adv.Suggestions {
			k := s.Table + "(" + strings.Join(s.Columns, ",") + ")"
			if s.Method != "" {
				k += " USING " + s.Method
			}
			got[k] = s
		}
		return got
	}
	roomy, err := o.Advise(ctx, qs, AdviseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := describe(roomy)
	btree, ok := got["events(at)"]
	if !ok {
		t.Fatalf("without a budget: %v, want the B-tree on events(at)", keys(got))
	}
	if _, ok := got["events(score) USING brin"]; ok {
		t.Errorf("a BRIN on score, a column in no physical order: %v", keys(got))
	}

	budget := btree.SizeBytes / 4
	tight, err := o.Advise(ctx, qs[:1], AdviseOptions{Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	got = describe(tight)
	brin, ok := got["events(at) USING brin"]
	if !ok || len(tight.Suggestions) != 1 {
		t.Fatalf("with a %d-byte budget: %v, want the BRIN on events(at) alone", budget, keys(got))
	}
	if brin.SizeBytes > btree.SizeBytes/50 || brin.SavingsPct <= 20 || !strings.Contains(brin.Statement, "USING brin") {
		t.Errorf("BRIN %d bytes (B-tree %d), saving %.1f%%, %q; want a fiftieth of the size or less, a real saving and USING brin",
			brin.SizeBytes, btree.SizeBytes, brin.SavingsPct, brin.Statement)
	}
	applied, err := o.AddIndex(ctx, brin)
	if err != nil {
		t.Fatalf("AddIndex(BRIN): %v", err)
	}
	var am string
	var built int64
	if err := pool.QueryRow(ctx, `SELECT a.amname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = to_regclass($1)`, applied.Name).Scan(&am, &built); err != nil {
		t.Fatal(err)
	}
	if am != "brin" || float64(built) > 1.25*float64(brin.SizeBytes) || float64(built) < 0.75*float64(brin.SizeBytes) {
		t.Errorf("built %s index of %d bytes, estimated %d: want a BRIN within 25%%", am, built, brin.SizeBytes)
	}
	if len(applied.Used) == 0 {
		t.Errorf("AddIndex(BRIN) = %+v, want the plan to use it", applied)
	}
	if again, err := o.Advise(ctx, qs[:1], AdviseOptions{Budget: budget}); err != nil || len(again.Suggestions) != 0 {
		t.Errorf("Advise after the BRIN exists = %+v, %v; want nothing more within the budget", again, err)
	}
	if err := o.DropIndex(ctx, applied.Name); err != nil {
		t.Fatalf("DropIndex: %v", err)
	}
	if _, err := o.AddIndex(ctx, Suggestion{Table: "events", Columns: []string{"at"}, Method: "hash); DROP TABLE events; --"}); err == nil {
		t.Error("AddIndex with an injected method = nil, want refused")
	}
}

// TestAdviseCovering: with Covering, a query that reads two columns beyond its filter, on
// a table whose pages are all visible, gets an index that includes them,
// which the planner then answers from the index alone; a query reading a
// star gets no INCLUDE.
func TestAdviseCovering(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, ordersSchema)
	// The test cluster commits asynchronously, and VACUUM marks a page
	// all-visible only once the inserting commit is on disk: flush first.
	mustExec(t, pool, `CHECKPOINT`)
	mustExec(t, pool, `VACUUM ANALYZE orders`)
	mustExec(t, pool, `SELECT pg_stat_reset()`)
	o := newOpt(t, dsn)
	ctx := context.Background()
	q := []Query{{SQL: "SELECT status, total FROM orders WHERE customer_id = $1", Calls: 1000, MeanMs: 5}}
	if plain, err := o.Advise(ctx, q, AdviseOptions{}); err != nil || len(plain.Suggestions) != 1 || len(plain.Suggestions[0].Include) > 0 {
		t.Fatalf("at the defaults: %+v, %v; want one plain index, covering being opt-in", plain, err)
	}
	adv, err := o.Advise(ctx, q, AdviseOptions{Covering: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Suggestions) != 1 || strings.Join(adv.Suggestions[0].Columns, ",") != "customer_id" || strings.Join(adv.Suggestions[0].Include, ",") != "status,total" {
		t.Fatalf("suggestions %+v, want orders(customer_id) INCLUDE (status, total)", adv.Suggestions)
	}
	s := adv.Suggestions[0]
	if !strings.Contains(s.Statement, `INCLUDE ("status", "total")`) {
		t.Errorf("statement %q, want the INCLUDE clause", s.Statement)
	}
	applied, err := o.AddIndex(ctx, s)
	if err != nil {
		t.Fatalf("AddIndex: %v", err)
	}
	if !strings.Contains(applied.Plan, "Index Only Scan") {
		t.Errorf("plan with the covering index:\n%s\nwant an index-only scan", applied.Plan)
	}
	if r := float64(applied.SizeBytes) / float64(s.SizeBytes); r < 0.75 || r > 1.25 {
		t.Errorf("built %d bytes, estimated %d: want within 25 %%", applied.SizeBytes, s.SizeBytes)
	}
	if err := o.DropIndex(ctx, applied.Name); err != nil {
		t.Fatal(err)
	}
	star, err := o.Advise(ctx, []Query{{SQL: "SELECT * FROM orders WHERE customer_id = $1", Calls: 1000, MeanMs: 5}}, AdviseOptions{Covering: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range star.Suggestions {
		if len(s.Include) > 0 {
			t.Errorf("SELECT * got %s: a star cannot be covered", s.Statement)
		}
	}
}

func keys(m map[string]Suggestion) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAddIndexFailureLeavesNothing(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `CREATE TABLE dup (a int); INSERT INTO dup SELECT 1 FROM generate_series(1, 10)`)
	o := newOpt(t, dsn)
	ctx := context.Background()
	// A unique index cannot be built over duplicates: the concurrent build
	// fails and leaves an invalid index, which AddIndex must drop. A plain
	// index cannot fail this way, so build the statement through the
	// predicate: a division by zero fails in the middle of the build.
	_, err := o.AddIndex(ctx, Suggestion{Table: "dup", Columns: []string{"a"}, Where: "1 / (a - 1) > 0", Name: "dup_bad_idx"})
	if err == nil {
		t.Fatal("AddIndex = nil, want the build to fail")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = 'dup_bad_idx'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("leftover indexes = %d (%v), want 0 after a failed build", n, err)
	}
	if _, err := o.AddIndex(ctx, Suggestion{Table: "missing", Columns: []string{"a"}}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("AddIndex(missing table) = %v, want does not exist", err)
	}
	if _, err := o.AddIndex(ctx, Suggestion{Table: "dup", Columns: []string{"a"}, Where: "true); DROP TABLE dup; --"}); err == nil {
		t.Fatal("AddIndex with an injected predicate = nil, want refused")
	}
	var exists bool
	_ = pool.QueryRow(ctx, `SELECT to_regclass('dup') IS NOT NULL`).Scan(&exists)
	if !exists {
		t.Fatal("table dup was dropped by an injected predicate")
	}
}

func TestHealthPostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, ordersSchema)
	mustExec(t, pool, `
		CREATE INDEX orders_customer_idx ON orders (customer_id);
		CREATE INDEX orders_customer_status_idx ON orders (customer_id, status);
		CREATE TABLE small_ids (id smallserial PRIMARY KEY, v int);
		SELECT setval('small_ids_id_seq', 31000);
		CREATE TABLE churn (id int PRIMARY KEY, v int);
		INSERT INTO churn SELECT i, i FROM generate_series(1, 20000) i;
		ANALYZE churn;
		DELETE FROM churn WHERE id % 2 = 0;`)
	// Sequential scans on a big table: the missing-index check.
	for range 3 {
		mustExec(t, pool, `SELECT count(*) FROM orders WHERE total = 7`)
	}
	// pg_stat_* are updated by the backends when they go idle; ask for it.
	mustExec(t, pool, `SELECT pg_stat_force_next_flush()`)
	o := newOpt(t, dsn, WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
	ctx := context.Background()
	r, err := o.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	if len(r.Checks) != len(pgChecks) {
		t.Fatalf("Health has %d checks, want %d", len(r.Checks), len(pgChecks))
	}
	tests := []struct {
		check, status, object string
	}{
		{"duplicate_indexes", StatusWarning, "public.orders_customer_idx"},
		{"unused_indexes", StatusWarning, "public.orders_customer_status_idx"},
		{"sequence_overflow", StatusCritical, "small_ids.id (public.small_ids_id_seq)"},
		{"missing_indexes", StatusWarning, "public.orders"},
		{"vacuum_analyze", StatusWarning, "public.churn"},
		{"connections", StatusOK, ""},
		{"transaction_id_wraparound", StatusOK, ""},
		{"slow_queries", StatusOK, ""},
		{"replication_lag", StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			c := r.Check(tc.check)
			if c == nil {
				t.Fatalf("no check %s", tc.check)
			}
			if c.Status != tc.status {
				t.Fatalf("%s status = %s (%s), want %s", tc.check, c.Status, c.Summary, tc.status)
			}
			if tc.object == "" {
				return
			}
			for _, it := range c.Items {
				if it.Object == tc.object {
					return
				}
			}
			t.Fatalf("%s items = %+v, want %s", tc.check, c.Items, tc.object)
		})
	}
	if r.Status != StatusCritical {
		t.Errorf("report status = %s, want critical (the sequence)", r.Status)
	}
	// The report's JSON shape, with the figures that vary masked.
	for i := range r.Checks {
		r.Checks[i].Summary = ""
		r.Checks[i].Items = nil
	}
	r.Database, r.Version = "db", "15"
	got, _ := json.MarshalIndent(r, "", "  ")
	golden(t, "health_postgres.golden.json", got)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

func TestSlowQueriesPostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `CREATE TABLE s (a int)`)
	o := newOpt(t, dsn, WithThresholds(Thresholds{SlowQueryMs: 1, SlowQueryCalls: 2}))
	ctx := context.Background()
	for range 3 {
		mustExec(t, pool, `SELECT pg_sleep(0.002) FROM s WHERE a = 1 UNION ALL SELECT pg_sleep(0.002)`)
	}
	slow, err := o.SlowQueries(ctx)
	if err != nil {
		t.Fatalf("SlowQueries: %v", err)
	}
	found := false
	for _, q := range slow {
		found = found || strings.Contains(q.Query, "pg_sleep")
	}
	if !found {
		t.Fatalf("SlowQueries = %+v, want the pg_sleep statement", slow)
	}

	// Without the extension the error names the fix.
	mustExec(t, pool, `DROP EXTENSION pg_stat_statements`)
	_, err = o.SlowQueries(ctx)
	if !errors.Is(err, ErrNoStatStatements) || !strings.Contains(err.Error(), "CREATE EXTENSION pg_stat_statements") {
		t.Fatalf("SlowQueries without the extension = %v, want ErrNoStatStatements naming CREATE EXTENSION", err)
	}
	r, err := o.Health(ctx)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	if c := r.Check("slow_queries"); c.Status != StatusSkipped || !strings.Contains(c.Summary, "CREATE EXTENSION") {
		t.Fatalf("slow_queries check = %+v, want skipped with the fix", c)
	}
	mustExec(t, pool, `DROP EXTENSION hypopg`)
	_, err = o.Advise(ctx, []Query{{SQL: "SELECT * FROM s WHERE a = 1"}}, AdviseOptions{})
	if !errors.Is(err, ErrNoHypoPG) || !strings.Contains(err.Error(), "CREATE EXTENSION hypopg") {
		t.Fatalf("Advise without hypopg = %v, want ErrNoHypoPG naming CREATE EXTENSION hypopg", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, dsn, want string
	}{
		{"unreachable", "postgres://127.0.0.1:1/x?connect_timeout=2", "connect"},
		{"missing sqlite file", "sqlite:" + filepath.Join(t.TempDir(), "nope.db"), "no such file"},
		{"not sqlite", "sqlite:" + writeFile(t, "junk.db", strings.Repeat("not a database ", 100)), "not a database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New(tc.dsn)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer o.Close()
			err = o.Initialize(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Initialize = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New("mysql://x"); !errors.Is(err, ErrBadDSN) {
		t.Fatalf("New(mysql) = %v, want ErrBadDSN", err)
	}
	o, _ := New("postgres://127.0.0.1:1/x")
	if _, err := o.Health(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Health before Initialize = %v, want ErrNotInitialized", err)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadOnlyPostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `CREATE TABLE r (a int)`)
	var db string
	_ = pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db)
	mustExec(t, pool, `ALTER DATABASE "`+db+`" SET default_transaction_read_only = on`)
	o := newOpt(t, dsn)
	if _, err := o.AddIndex(context.Background(), Suggestion{Table: "r", Columns: []string{"a"}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("AddIndex on a read-only database = %v, want ErrReadOnly", err)
	}
	mustExec(t, pool, `SET default_transaction_read_only = off; ALTER DATABASE "`+db+`" RESET default_transaction_read_only`)
}

// TestIndexSuggestionsFromStatStatements: the workload comes from
// pg_stat_statements, normalized to $n, and is explained as generic plans.
func TestIndexSuggestionsFromStatStatements(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, ordersSchema)
	mustExec(t, pool, `SELECT pg_stat_statements_reset()`)
	ctx := context.Background()
	for i := range 30 {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE customer_id = $1`, i).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	o := newOpt(t, dsn)
	adv, err := o.IndexSuggestions(ctx)
	if err != nil {
		t.Fatalf("IndexSuggestions: %v", err)
	}
	for _, s := range adv.Suggestions {
		if s.Table == "orders" && s.Columns[0] == "customer_id" && strings.Contains(s.Queries[0], "customer_id = $1") {
			return
		}
	}
	t.Fatalf("IndexSuggestions = %+v, want orders(customer_id) for the normalized query", adv)
}

// TestLockWaitsPostgres holds a row lock in one session and lets another
// wait on it: the lock series count the waiting session and how long it
// waited, and the blocked-queries check names it and its blocker.
func TestLockWaitsPostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)`)
	o := newOpt(t, dsn)
	ctx := context.Background()

	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, `UPDATE accounts SET balance = balance - 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	waiterDone := make(chan error, 1)
	go func() {
		_, err := pool.Exec(ctx, `UPDATE accounts SET balance = balance + 1 WHERE id = 1`)
		waiterDone <- err
	}()
	values := func() map[string]float64 {
		ss, err := o.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for _, s := range ss {
			m[s.Name] = s.Value
		}
		return m
	}
	var m map[string]float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m = values()
		if m[MetricLockWaiting] >= 1 && m[MetricLockWaitMaxMs] >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock series %v, want a session waiting over 200 ms", m)
		}
	}
	if _, ok := m[MetricDeadlocksTotal]; !ok {
		t.Error("no deadlock counter")
	}
	r, err := o.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var blocked *Check
	for i := range r.Checks {
		if r.Checks[i].Name == "blocked_queries" {
			blocked = &r.Checks[i]
		}
	}
	if blocked == nil || len(blocked.Items) != 1 || !strings.Contains(blocked.Items[0].Detail, "UPDATE accounts SET balance = balance + 1") {
		t.Errorf("blocked_queries check %+v, want the waiting UPDATE and its blocker", blocked)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waiterDone; err != nil {
		t.Fatalf("the waiting UPDATE: %v", err)
	}
	if m := values(); m[MetricLockWaiting] != 0 || m[MetricLockWaitMaxMs] != 0 {
		t.Errorf("after the lock was released: %v", m)
	}
}

// TestQueryP95FromStatStatements: the p95 of the statements executed
// between two collections, from pg_stat_statements deltas: fast point
// lookups with a few slow sleeps put it near the slow ones' time.
func TestQueryP95FromStatStatements(t *testing.T) {
	dsn, pool := newPG(t)
	o := newOpt(t, dsn)
	ctx := context.Background()
	if err := o.pgssError(ctx); err != nil {
		t.Skipf("pg_stat_statements: %v", err)
	}
	collect := func() map[string]float64 {
		ss, err := o.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for _, s := range ss {
			m[s.Name] = s.Value
		}
		return m
	}
	p95 := func() (float64, bool) {
		v, ok := collect()[MetricQueryP95Ms]
		return v, ok
	}
	if _, ok := p95(); ok {
		t.Error("a p95 at the first collection, with no interval to measure")
	}
	// 90 fast statements and 10 of about 50 ms: the p95 is a slow one.
	start := time.Now()
	for i := range 100 {
		sql := "SELECT 1"
		if i%10 == 0 {
			sql = "SELECT pg_sleep(0.05)"
		}
		mustExec(t, pool, sql)
	}
	elapsed := time.Since(start)
	m := collect()
	got, ok := m[MetricQueryP95Ms]
	if !ok || got < 30 || got > 80 {
		t.Fatalf("p95 %.2f ms (%v), want about 50 ms", got, ok)
	}
	// The backends were busy 0.5 s of a little more than the loop's time:
	// Little's law from the database's side, and the pool sized from it
	// since no application pool is attached.
	busy := m[MetricBusyBackends]
	if limit := 0.5 / elapsed.Seconds(); busy < 0.3*limit || busy > 1.2*limit {
		t.Errorf("busy backends %.2f, want about %.2f (0.5 s of sleeps over %v)", busy, limit, elapsed)
	}
	if rec := m[MetricPoolRecommended]; rec != float64(RecommendPoolSize(busy)) {
		t.Errorf("pool recommendation %g for %.2f busy backends, want %d", rec, busy, RecommendPoolSize(busy))
	}
	// Only fast ones next: the p95 falls with them.
	for range 100 {
		mustExec(t, pool, "SELECT 1")
	}
	if got, ok := p95(); !ok || got > 5 {
		t.Errorf("p95 of fast statements %.2f ms (%v), want under 5", got, ok)
	}
}

// TestQueryIssuesPostgres: deep OFFSET pages, an unbounded read and
// SELECT * on wide rows of big tables are named with their evidence; the
// same shapes on a small table, or bounded, are not.
func TestQueryIssuesPostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, ordersSchema)
	mustExec(t, pool, `
CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, body text NOT NULL);
INSERT INTO docs (title, body) SELECT 'doc ' || i, repeat('lorem ipsum ', 60) FROM generate_series(1, 12000) i;
ANALYZE docs;`)
	o := newOpt(t, dsn)
	adv, err := o.Advise(context.Background(), []Query{
		{SQL: "SELECT id, total FROM orders ORDER BY id LIMIT 20 OFFSET 50000", Calls: 30},
		{SQL: "SELECT id, total FROM orders ORDER BY id LIMIT $1 OFFSET $2", Calls: 20},
		{SQL: "SELECT id, status FROM orders", Calls: 10},
		{SQL: "SELECT * FROM docs WHERE id = $1", Calls: 5},
		{SQL: "SELECT count(*) FROM orders", Calls: 100},
		{SQL: "SELECT * FROM customers WHERE id = $1", Calls: 100},
		{SQL: "SELECT id FROM orders ORDER BY id LIMIT 20 OFFSET 40", Calls: 100},
		{SQL: "UPDATE orders SET total = 0 WHERE id = $1 RETURNING *", Calls: 100},
	}, AdviseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range adv.QueryIssues {
		got = append(got, q.Kind+" "+q.Table+": "+q.Query)
		if q.Evidence == "" || q.Fix == "" {
			t.Errorf("issue %+v without evidence or fix", q)
		}
	}
	want := []string{
		"offset_pagination orders: SELECT id, total FROM orders ORDER BY id LIMIT 20 OFFSET 50000",
		"offset_pagination orders: SELECT id, total FROM orders ORDER BY id LIMIT $1 OFFSET $2",
		"unbounded_select orders: SELECT id, status FROM orders",
		"select_star_wide docs: SELECT * FROM docs WHERE id = $1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("query issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
