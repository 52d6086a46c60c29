package querytrace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/perfengine/perfengine/internal/pgtest"
	"go.uber.org/goleak"
	"modernc.org/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Wrap(m)) }

func TestRecorder(t *testing.T) {
	r := NewRecorder(2)
	r.Record("SELECT 1", 10*time.Millisecond, nil, []any{int64(1), "a"})
	r.Record("SELECT 1", 30*time.Millisecond, errors.New("boom"), nil)
	r.Record("SELECT 2", time.Millisecond, nil, []any{make(chan int)})
	r.Record("SELECT 3", 5*time.Millisecond, nil, nil) // past the limit
	r.Record("SELECT 4", 5*time.Millisecond, nil, nil)
	got := r.Snapshot()
	want := []struct {
		q      string
		calls  int64
		errors int64
		total  float64
	}{
		{"SELECT 1", 2, 1, 40},
		{OtherStatements, 2, 0, 10},
		{"SELECT 2", 1, 0, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("Snapshot = %+v, want %d statements", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Query != w.q || g.Calls != w.calls || g.Errors != w.errors || g.TotalMs != w.total {
			t.Errorf("Snapshot[%d] = %+v, want %+v", i, g, w)
		}
	}
	if got[0].MeanMs != 20 || got[0].MaxMs < 29.9 || got[0].P50Ms < 9.9 || len(got[0].Args) != 2 {
		t.Errorf("SELECT 1 figures = %+v, want mean 20, max 30, p50 10 and its args", got[0])
	}
	if len(got[2].Args) != 0 {
		t.Errorf("unkeepable args were kept: %v", got[2].Args)
	}
	r.Reset()
	if n := len(r.Snapshot()); n != 0 {
		t.Errorf("after Reset %d statements, want 0", n)
	}
}

func TestRecorderIgnore(t *testing.T) {
	r := NewRecorder(0)
	r.Record("SELECT 0", time.Millisecond, nil, nil) // before Ignore: kept
	asked := map[string]int{}
	r.Ignore(func(q string) bool {
		asked[q]++
		return strings.HasPrefix(q, "/* tool */")
	})
	for range 3 {
		r.Record("/* tool */ SELECT count(*) FROM t", time.Millisecond, nil, nil)
		r.Record("SELECT 1", time.Millisecond, nil, nil)
	}
	var got []string
	for _, s := range r.Snapshot() {
		got = append(got, s.Query)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"SELECT 0", "SELECT 1"}) {
		t.Errorf("recorded %q, want the application's statements only", got)
	}
	if asked["/* tool */ SELECT count(*) FROM t"] != 1 || asked["SELECT 1"] != 1 {
		t.Errorf("Ignore's function ran %v, want once per distinct statement", asked)
	}
}

func TestConnectorSQLite(t *testing.T) {
	rec := NewRecorder(0)
	db := Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "t.db"), rec)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (a INTEGER, b TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, i, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	stmt, err := db.PrepareContext(ctx, `SELECT b FROM t WHERE a = ?`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var b string
		if err := stmt.QueryRowContext(ctx, i).Scan(&b); err != nil || b != fmt.Sprint(i) {
			t.Fatalf("QueryRow = %q, %v", b, err)
		}
	}
	stmt.Close()
	rows, err := db.QueryContext(ctx, `SELECT a, b FROM t ORDER BY a`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.ColumnTypes()
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 10 || len(cols) != 2 {
		t.Fatalf("rows = %d, columns = %d", n, len(cols))
	}
	if _, err := db.ExecContext(ctx, `SELECT nope FROM t`); err == nil {
		t.Fatal("bad query succeeded")
	}
	// Concurrency: the recorder is shared by every connection.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				var c int
				_ = db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&c)
			}
		})
	}
	wg.Wait()
	byQuery := map[string]Stat{}
	for _, s := range rec.Snapshot() {
		byQuery[s.Query] = s
	}
	tests := []struct {
		q             string
		calls, errors int64
	}{
		{`INSERT INTO t VALUES (?, ?)`, 10, 0},
		{`SELECT b FROM t WHERE a = ?`, 3, 0},
		{`SELECT a, b FROM t ORDER BY a`, 1, 0},
		{`SELECT nope FROM t`, 1, 1},
		{`SELECT count(*) FROM t`, 100, 0},
	}
	for _, tc := range tests {
		s := byQuery[tc.q]
		if s.Calls != tc.calls || s.Errors != tc.errors {
			t.Errorf("%s: calls %d errors %d, want %d and %d", tc.q, s.Calls, s.Errors, tc.calls, tc.errors)
		}
	}
	if a := byQuery[`SELECT b FROM t WHERE a = ?`].Args; len(a) != 1 {
		t.Errorf("args = %v, want the one argument", a)
	}
}

func TestTracerPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(0)
	cfg.ConnConfig.Tracer = NewTracer(rec)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for i := range 5 {
		var n int
		if err := pool.QueryRow(ctx, `SELECT $1::int + 1`, i).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("QueryRow = %d, %v", n, err)
		}
	}
	_, err = pool.Exec(ctx, `SELECT * FROM missing`)
	if err == nil {
		t.Fatal("query on a missing table succeeded")
	}
	byQuery := map[string]Stat{}
	for _, s := range rec.Snapshot() {
		byQuery[s.Query] = s
	}
	if s := byQuery[`SELECT $1::int + 1`]; s.Calls != 5 || s.Errors != 0 || len(s.Args) != 1 {
		t.Errorf("traced = %+v, want 5 calls with args", s)
	}
	if s := byQuery[`SELECT * FROM missing`]; s.Calls != 1 || s.Errors != 1 {
		t.Errorf("traced error = %+v, want 1 call, 1 error", s)
	}
	var _ pgx.QueryTracer = NewTracer(rec)
}

// BenchmarkRecord is the cost the recorder adds to every statement.
//
//	go test -run XXX -bench Record -benchtime 200000x ./dbopt/querytrace/
func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(0)
	args := []any{int64(1), "x"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record("SELECT * FROM products WHERE name = ? ORDER BY id LIMIT ?", 3*time.Millisecond, nil, args)
		}
	})
}

// BenchmarkConnector compares a SQLite point query through the wrapper
// with the bare driver.
//
//	go test -run XXX -bench Connector -benchtime 20000x ./dbopt/querytrace/
func BenchmarkConnector(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("wrapped=%v", wrapped), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "b.db")
			sdb := Open(&sqlite.Driver{}, path, NewRecorder(0))
			if !wrapped {
				sdb.Close()
				sdb = sqlOpen(path)
			}
			defer sdb.Close()
			ctx := context.Background()
			sdb.ExecContext(ctx, `CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)`)
			sdb.ExecContext(ctx, `INSERT INTO t VALUES (1, 'x')`)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var s string
				if err := sdb.QueryRowContext(ctx, `SELECT b FROM t WHERE a = ?`, 1).Scan(&s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
