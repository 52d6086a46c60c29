package dbopt_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/dbopt"
	"github.com/perfengine/perfengine/dbopt/querytrace"
	"github.com/perfengine/perfengine/internal/demo"
	"modernc.org/sqlite"
)

// TestAdviseSQLiteDemo drives the demo's /api/search through the
// querytrace driver and expects the advisor to find its missing index.
func TestAdviseSQLiteDemo(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	var db *sql.DB
	svc, err := demo.New(demo.Options{DataDir: t.TempDir(), OpenDB: func(path string) (*sql.DB, error) {
		db = querytrace.Open(&sqlite.Driver{}, path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", rec)
		return db, db.Ping()
	}})
	if err != nil {
		t.Fatalf("demo.New: %v", err)
	}
	defer svc.Close()
	for _, q := range []string{"Rustic Steel Chair", "sleek oak lamp", "Nothing Here"} {
		req := httptest.NewRequest(http.MethodGet, "/api/search?q="+url.QueryEscape(q), nil)
		w := httptest.NewRecorder()
		svc.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /api/search?q=%s = %d %s", q, w.Code, w.Body)
		}
	}
	o := dbopt.NewSQLite(db, dbopt.WithRecorder(rec))
	ctx := context.Background()
	if err := o.Initialize(ctx); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	adv, err := o.IndexSuggestions(ctx)
	if err != nil {
		t.Fatalf("IndexSuggestions: %v", err)
	}
	var s *dbopt.Suggestion
	for i := range adv.Suggestions {
		if adv.Suggestions[i].Table == "products" && adv.Suggestions[i].Columns[0] == "name" {
			s = &adv.Suggestions[i]
		}
	}
	if s == nil {
		t.Fatalf("IndexSuggestions = %+v, want an index on products(name) for /api/search", adv)
	}
	if s.SavingsPct < 90 || s.SizeBytes <= 0 || !strings.Contains(s.Queries[0], "WHERE name = ?") {
		t.Errorf("suggestion %+v: want > 90%% savings, a size and the search query", s)
	}
	// The advisor rolled back its trial indexes.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'perfengine%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("trial indexes left behind: %d (%v)", n, err)
	}
	applied, err := o.AddIndex(ctx, *s)
	if err != nil {
		t.Fatalf("AddIndex: %v", err)
	}
	if len(applied.Used) == 0 || !strings.Contains(applied.Plan, "USING INDEX "+s.Name) {
		t.Errorf("AddIndex = %+v, want the plan to use %s", applied, s.Name)
	}
	again, err := o.IndexSuggestions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range again.Suggestions {
		if sg.Table == "products" && sg.Columns[0] == "name" {
			t.Errorf("after AddIndex still suggested: %+v", sg)
		}
	}
	if err := o.DropIndex(ctx, "products_category_id"); !errors.Is(err, dbopt.ErrNotOurs) {
		t.Fatalf("DropIndex(demo's own index) = %v, want dbopt.ErrNotOurs", err)
	}
	if err := o.DropIndex(ctx, s.Name); err != nil {
		t.Fatalf("DropIndex: %v", err)
	}
}
