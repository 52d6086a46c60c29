package dbopt_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfengine/perfengine/dbopt"
	_ "modernc.org/sqlite"
)

func ExampleParseDSN() {
	for _, s := range []string{"postgres://app:secret@127.0.0.1:5432/shop", "sqlite:shop.db", "mysql://x"} {
		d, err := dbopt.ParseDSN(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(d.Kind, d)
	}
	// Output:
	// postgres postgres://app:xxxxx@127.0.0.1:5432/shop
	// sqlite sqlite:shop.db
	// dbopt: bad DSN: unknown scheme "mysql"; want postgres://… or sqlite:PATH
}

func ExampleReadQueries() {
	qs, skipped, err := dbopt.ReadQueries(strings.NewReader(`
		-- from the slow query log
		SELECT * FROM orders WHERE customer_id = 42;
		SELECT * FROM orders WHERE customer_id = 42;
		SELEC oops;`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range qs {
		fmt.Printf("%d× %s\n", q.Calls, q.SQL)
	}
	for _, s := range skipped {
		fmt.Printf("skipped %q: %s\n", s.Query, s.Reason)
	}
	// Output:
	// 2× SELECT * FROM orders WHERE customer_id = 42
	// skipped "SELEC oops": parse query: syntax error at or near "SELEC"
}

func ExampleOptimizer_Health() {
	dir, _ := os.MkdirTemp("", "dbopt")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v); INSERT INTO t (v) VALUES ('a'), ('b')`)
	db.Close()

	o, _ := dbopt.New("sqlite:" + path)
	defer o.Close()
	ctx := context.Background()
	if err := o.Initialize(ctx); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := o.Health(ctx)
	for _, c := range r.Checks {
		fmt.Printf("%-14s %s\n", c.Name, c.Status)
	}
	// Output:
	// slow_queries   skipped
	// analyze        warning
	// vacuum         ok
	// wal_checkpoint ok
	// full_scans     skipped
}

func ExampleRecommendPoolSize() {
	// 40 acquires a second, each holding a connection for 50 ms: L = 2.
	fmt.Println(dbopt.RecommendPoolSize(40 * 0.050))
	fmt.Println(dbopt.RecommendPoolSize(25))
	// Output:
	// 5
	// 35
}

func ExampleParseWindow() {
	w, _ := dbopt.ParseWindow("22:00-02:00")
	fmt.Println(w.Contains(time.Date(2026, 1, 1, 23, 30, 0, 0, time.UTC)))
	fmt.Println(w.Contains(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)))
	// Output:
	// true
	// false
}

// The application's database/sql pool, attached so the optimizer measures
// its waits and can resize it while it runs.
func ExampleOptimizer_ResizePool() {
	dir, _ := os.MkdirTemp("", "dbopt-example-")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", filepath.Join(dir, "shop.db"))
	defer db.Close()
	db.SetMaxOpenConns(4)
	o := dbopt.NewSQLite(db, dbopt.WithSQLPool(db))
	prev, err := o.ResizePool(8)
	fmt.Println(prev, db.Stats().MaxOpenConnections, err, o.CanResizePool())
	// Output:
	// 4 8 <nil> true
}
