package perfengine

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfengine/perfengine/dbopt"
	"github.com/perfengine/perfengine/dbopt/querytrace"
	"modernc.org/sqlite"
)

func TestDatabaseModuleSQLite(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db := querytrace.Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "shop.db"), rec)
	defer db.Close()
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL)`,
		`CREATE INDEX products_category ON products (category)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		 INSERT INTO products (name, category) SELECT 'p' || i, 'c' || (i % 20) FROM n`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		rows, err := db.QueryContext(ctx, `SELECT id FROM products WHERE name = ? ORDER BY id`, "p"+string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	for _, auto := range []bool{false, true} {
		m, err := NewDatabaseModule(dbopt.NewSQLite(db, dbopt.WithRecorder(rec)), DatabaseConfig{AutoCreateIndexes: auto})
		if err != nil {
			t.Fatal(err)
		}
		acts, err := m.Recommend(ctx, Snapshot{Time: time.Now()})
		if err != nil {
			t.Fatalf("Recommend: %v", err)
		}
		byKind := map[string]Action{}
		for _, a := range acts {
			byKind[a.Kind] = a
		}
		idx, ok := byKind[ActionCreateIndex]
		if !ok || idx.Risk != RiskRisky || idx.PreApproved != auto || !strings.HasPrefix(idx.Target, "products(name") {
			t.Fatalf("Recommend (autoCreateIndexes=%v) = %+v, want a risky create_index on products(name) pre-approved=%v", auto, acts, auto)
		}
		if an, ok := byKind[ActionAnalyze]; !ok || an.Risk != RiskSafe {
			t.Fatalf("Recommend = %+v, want a safe analyze", acts)
		}
		if !auto {
			continue
		}
		// The index's statements are timed per interval: the series its
		// action promises to lower, which the engine verifies.
		if idx.Expect == nil || idx.Expect.Series != `db_index_queries_mean_ms{index="`+idx.Target+`"}` || !idx.Expect.LowerIsBetter {
			t.Fatalf("index action expects %+v, want its statements' mean time lower", idx.Expect)
		}
		for round := range 2 {
			for i := range 3 {
				rows, err := db.QueryContext(ctx, `SELECT id FROM products WHERE name = ? ORDER BY id`, "p"+strconv.Itoa(i))
				if err != nil {
					t.Fatal(err)
				}
				rows.Close()
			}
			samples, err := m.Collect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []float64
			for _, sm := range samples {
				if sm.Key() == idx.Expect.Series {
					got = append(got, sm.Value)
				}
			}
			if want := round; len(got) != want || round == 1 && got[0] <= 0 {
				t.Errorf("collection %d: %s = %v, want %d positive value(s): the first only sets the totals", round, idx.Expect.Series, got, want)
			}
		}
		res, err := m.Apply(ctx, idx)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if !strings.Contains(res.Message, "the planner uses it") || res.Params["index"] == "" {
			t.Errorf("Apply = %+v, want the index used", res)
		}
		idx.Params["index"] = res.Params["index"]
		if err := m.Undo(ctx, idx); err != nil {
			t.Fatalf("Undo: %v", err)
		}
		var n int
		_ = db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, res.Params["index"]).Scan(&n)
		if n != 0 {
			t.Errorf("index %s still there after Undo", res.Params["index"])
		}
		if err := m.Undo(ctx, byKind[ActionAnalyze]); !errors.Is(err, ErrNotUndoable) {
			t.Errorf("Undo(analyze) = %v, want ErrNotUndoable", err)
		}
		if _, err := m.Apply(ctx, byKind[ActionAnalyze]); err != nil {
			t.Errorf("Apply(analyze) = %v", err)
		}
	}
}

func TestDatabaseModuleWithoutDatabase(t *testing.T) {
	m, err := NewDatabaseModule(nil, DatabaseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Collect(context.Background()); err == nil {
		t.Fatal("Collect without a database = nil, want an error")
	}
	if _, err := NewDatabaseModule(nil, DatabaseConfig{MaintenanceWindow: "soon"}); err == nil {
		t.Fatal("NewDatabaseModule with a bad window = nil error")
	}
	var db *sql.DB
	_ = db
}

// TestDatabaseModuleHonoursIndexBudget checks database.indexBudget: an
// index that does not fit is not suggested.
func TestDatabaseModuleHonoursIndexBudget(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db := querytrace.Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "shop.db"), rec)
	defer db.Close()
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		 INSERT INTO products (name) SELECT 'p' || i FROM n`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		rows, err := db.QueryContext(ctx, `SELECT id FROM products WHERE name = ?`, "p"+string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	for _, tc := range []struct {
		budget int64
		want   bool
	}{{0, true}, {1 << 30, true}, {1024, false}} {
		m, err := NewDatabaseModule(dbopt.NewSQLite(db, dbopt.WithRecorder(rec)), DatabaseConfig{IndexBudget: tc.budget})
		if err != nil {
			t.Fatal(err)
		}
		acts, err := m.Recommend(ctx, Snapshot{Time: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, a := range acts {
			got = got || a.Kind == ActionCreateIndex
		}
		if got != tc.want {
			t.Errorf("indexBudget %d: create_index proposed = %v, want %v (%+v)", tc.budget, got, tc.want, acts)
		}
	}
}

// TestDatabaseModuleResizesPool: an application's database/sql pool that
// made queries wait is grown to its Little's-law size, applied to the
// running pool and undone; an idle oversized one is shrunk.
func TestDatabaseModuleResizesPool(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db := querytrace.Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "pool.db"), rec)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	heavy := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT sum(i) FROM n`
	find := func(acts []Action) (Action, bool) {
		for _, a := range acts {
			if a.Kind == ActionResizeDBPool {
				return a, true
			}
		}
		return Action{}, false
	}

	db.SetMaxOpenConns(1)
	m, err := NewDatabaseModule(dbopt.NewSQLite(db, dbopt.WithRecorder(rec), dbopt.WithSQLPool(db)), DatabaseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				var s int64
				if err := db.QueryRowContext(ctx, heavy).Scan(&s); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := m.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	acts, _ := m.Recommend(ctx, Snapshot{Time: time.Now()})
	grow, ok := find(acts)
	if !ok {
		t.Fatalf("Recommend = %+v, want a resize_db_pool after acquires waited on a pool of 1", acts)
	}
	size, _ := strconv.Atoi(grow.Params["size"])
	if size < 2 || grow.Params["from"] != "1" || grow.Risk != RiskModerate || !strings.Contains(grow.Impact, "waited") {
		t.Fatalf("resize action = %+v, want from 1 to at least 2, moderate, naming the waits", grow)
	}
	res, err := m.Apply(ctx, grow)
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Stats().MaxOpenConnections; got != size {
		t.Errorf("after Apply the pool holds %d, want %d", got, size)
	}
	grow.Params["previous"] = res.Params["previous"]
	if err := m.Undo(ctx, grow); err != nil {
		t.Fatal(err)
	}
	if got := db.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("after Undo the pool holds %d, want 1", got)
	}

	db.SetMaxOpenConns(20)
	m2, _ := NewDatabaseModule(dbopt.NewSQLite(db, dbopt.WithRecorder(rec), dbopt.WithSQLPool(db)), DatabaseConfig{})
	m2.Collect(ctx)
	time.Sleep(50 * time.Millisecond)
	m2.Collect(ctx)
	acts, _ = m2.Recommend(ctx, Snapshot{Time: time.Now()})
	shrink, ok := find(acts)
	if !ok || shrink.Params["from"] != "20" || shrink.Params["size"] != "2" {
		t.Fatalf("idle pool of 20: %+v, want a resize to 2", shrink)
	}
}
