package pgtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perfengine/perfengine/internal/pgtest"
)

// A test asks for a database and uses it like any other; the package's
// TestMain calls pgtest.Main (or goleak.VerifyTestMain(pgtest.Wrap(m))) so
// the cluster is stopped at the end. The example is compiled, not run: it
// needs the *testing.T of a real test.
func ExampleNewDatabase() {
	testSomething := func(t *testing.T) {
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var one int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		fmt.Println(one)
	}
	_ = testSomething
}
