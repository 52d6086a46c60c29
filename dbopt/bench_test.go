package dbopt

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// BenchmarkParseShape is the per-query parsing cost of the advisor.
//
//	go test -run XXX -bench ParseShape -benchtime 2000x ./dbopt/
func BenchmarkParseShape(b *testing.B) {
	q := "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1 AND o.status = 'pending' AND o.created_at > $2 ORDER BY o.created_at DESC LIMIT 10"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseShape(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdviseSQLite is one advisor run over a 20,000-row table and
// three queries, trial indexes and rollback included.
//
//	go test -run XXX -bench AdviseSQLite -benchtime 20x ./dbopt/
func BenchmarkAdviseSQLite(b *testing.B) {
	db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price INTEGER);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO products (name, category, price) SELECT 'p' || i, 'c' || (i % 50), i % 1000 FROM n`)
	if err != nil {
		b.Fatal(err)
	}
	o := NewSQLite(db)
	ctx := context.Background()
	if err := o.Initialize(ctx); err != nil {
		b.Fatal(err)
	}
	qs := []Query{
		{SQL: "SELECT * FROM products WHERE name = ?"},
		{SQL: "SELECT * FROM products WHERE category = ? ORDER BY price LIMIT 10"},
		{SQL: "SELECT count(*) FROM products WHERE price BETWEEN ? AND ?"},
	}
	b.ReportAllocs()
	for b.Loop() {
		adv, err := o.Advise(ctx, qs, AdviseOptions{})
		if err != nil || len(adv.Suggestions) == 0 {
			b.Fatalf("Advise = %v, %v", adv, err)
		}
	}
}

func FuzzSQLiteParams(f *testing.F) {
	for _, s := range []string{"SELECT ? FROM t WHERE a = ?2", "'?", "/* ? */ ?", "-- ?\n?", "`a?`", "?999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := countSQLiteParams(s)
		if n < 0 {
			t.Fatalf("countSQLiteParams(%q) = %d", s, n)
		}
		_ = toPgParams(s)
		_, _ = parseShape(toPgParams(s))
	})
}
