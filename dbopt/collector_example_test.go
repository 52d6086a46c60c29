package dbopt_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/dbopt"
)

// A service that uses dbopt alone exports the database's figures on its
// own registry; each scrape reads them fresh.
func ExampleOptimizer_Collector() {
	dir, _ := os.MkdirTemp("", "dbopt")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY)`)
	db.Close()
	o, _ := dbopt.New("sqlite:" + path)
	defer o.Close()
	if err := o.Initialize(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(o.Collector())
	n, _ := testutil.GatherAndCount(reg, "perfengine_db_up", "perfengine_db_size_bytes")
	fmt.Println("series:", n)
	// Output: series: 2
}
