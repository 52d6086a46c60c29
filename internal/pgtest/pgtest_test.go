package pgtest_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/perfengine/perfengine/internal/pgtest"
)

func TestNewDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	settings := []struct {
		query, want string
	}{
		{"SHOW fsync", "off"},
		{"SHOW pg_stat_statements.track", "all"},
		{"SHOW shared_preload_libraries", "pg_stat_statements"},
		{"SHOW listen_addresses", "127.0.0.1"},
		{"SELECT host(inet_server_addr())", "127.0.0.1"},
		{"SHOW server_version_num", ""},
		{"SHOW TimeZone", "UTC"},
	}
	for _, s := range settings {
		var got string
		if err := conn.QueryRow(ctx, s.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", s.query, err)
		}
		if s.want != "" && got != s.want {
			t.Errorf("%s = %q, want %q", s.query, got, s.want)
		}
		if s.query == "SHOW server_version_num" {
			t.Logf("server_version_num = %s", got)
		}
	}

	// The extensions work, not merely exist.
	if _, err := conn.Exec(ctx, "CREATE TABLE t (a int, b text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT * FROM t WHERE a = 1"); err != nil {
		t.Fatal(err)
	}
	var calls int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%FROM t WHERE a%'").Scan(&calls); err != nil {
		t.Fatalf("query pg_stat_statements: %v", err)
	}
	if calls == 0 {
		t.Errorf("pg_stat_statements did not record the query")
	}
	var indexName string
	if err := conn.QueryRow(ctx, "SELECT indexname FROM hypopg_create_index('CREATE INDEX ON t (a)')").Scan(&indexName); err != nil {
		t.Fatalf("hypopg_create_index: %v", err)
	}
	if !strings.Contains(indexName, "t_a") {
		t.Errorf("hypothetical index name = %q, want it to name t_a", indexName)
	}
}

// TestDatabasesAreIsolated creates databases from parallel subtests: each
// gets its own, and each is gone once its subtest ends.
func TestDatabasesAreIsolated(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b", "c", "d"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
				if err != nil {
					t.Fatal(err)
				}
				// Left open on purpose: the drop must still succeed.
				var db string
				if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, "CREATE TABLE only_here (x int)"); err != nil {
					t.Fatalf("create table in %s: %v", db, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[db] {
					t.Errorf("database %s handed out twice", db)
				}
				seen[db] = true
			})
		}
	})
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for db := range seen {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test", db)
		}
	}
	if len(seen) != 4 {
		t.Errorf("got %d distinct databases, want 4", len(seen))
	}
}
