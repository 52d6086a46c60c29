package dbopt

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestSQLiteAdviceLeavesWritersAlone: the advisor tries its indexes on a
// scratch copy, so it gives advice while the application holds the write
// lock (on the database itself it would wait for it, and then hold it),
// leaves no index and no scratch file behind.
func TestSQLiteAdviceLeavesWritersAlone(t *testing.T) {
	ctx := context.Background()
	// Scratch copies go to a temporary directory of this test's own, so
	// other tests' advice running meanwhile does not show in it.
	scratch := t.TempDir()
	t.Setenv("TMPDIR", scratch)
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(200)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		 INSERT INTO products (name, category) SELECT 'product ' || i, 'c' || (i % 20) FROM n`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	o := NewSQLite(db)
	if err := o.Initialize(ctx); err != nil {
		t.Fatal(err)
	}

	// The application's writer, mid-transaction, on a connection of its own.
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	if _, err := writer.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.ExecContext(ctx, `UPDATE products SET name = name || '!' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}

	adv, err := o.Advise(ctx, []Query{{SQL: "SELECT * FROM products WHERE name = ?"}}, AdviseOptions{})
	if err != nil {
		t.Fatalf("advice while a writer holds the lock: %v", err)
	}
	if len(adv.Suggestions) != 1 || !strings.Contains(adv.Suggestions[0].Statement, `("name")`) {
		t.Fatalf("suggestions %+v, want an index on name", adv.Suggestions)
	}
	if _, err := writer.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatalf("the writer's commit after the advice: %v", err)
	}

	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d indexes left in the database (%v), want none", n, err)
	}
	if left, _ := os.ReadDir(scratch); len(left) > 0 {
		t.Errorf("scratch files left behind: %v", left)
	}
}
