package dbopt_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/dbopt"
)

func TestCollectorExportsDatabaseFigures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o, err := dbopt.New("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(o.Collector())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP perfengine_db_up 1 when the last scrape read the database's statistics.
# TYPE perfengine_db_up gauge
perfengine_db_up 1
`), "perfengine_db_up"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n < 3 {
		t.Errorf("gathered %d series (%v), want the database's figures beside perfengine_db_up", n, err)
	}
	o.Close()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP perfengine_db_up 1 when the last scrape read the database's statistics.
# TYPE perfengine_db_up gauge
perfengine_db_up 0
`), "perfengine_db_up"); err != nil {
		t.Errorf("after Close: %v", err)
	}
}
