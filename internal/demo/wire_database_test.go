package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine"
)

// TestDatabaseFindsSearchIndex: the demo's /api/search scans the products
// table; the database module must propose the index on products(name),
// pre-approved for the engine, and create it.
func TestDatabaseFindsSearchIndex(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	w := wiring{cfg: cfg}
	m, err := wireDatabase(&w)
	if err != nil {
		t.Fatalf("wireDatabase: %v", err)
	}
	svc, err := New(Options{DataDir: t.TempDir(), OpenDB: w.openDB})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer svc.Close()
	for range 3 {
		rr := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/search?q=Rustic+Steel+Chair", nil))
		if rr.Code != http.StatusOK {
			t.Fatalf("GET /api/search = %d", rr.Code)
		}
	}
	ctx := context.Background()
	acts, err := m.Recommend(ctx, perfengine.Snapshot{Time: time.Now(), Config: cfg})
	if err != nil {
		t.Fatalf("Recommend: %v", err)
	}
	var idx *perfengine.Action
	for i := range acts {
		if acts[i].Kind == perfengine.ActionCreateIndex && strings.HasPrefix(acts[i].Target, "products(name") {
			idx = &acts[i]
		}
	}
	if idx == nil || !idx.PreApproved {
		t.Fatalf("Recommend = %+v, want a pre-approved index on products(name)", acts)
	}
	res, err := m.Apply(ctx, *idx)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !strings.Contains(res.Message, "the planner uses it for 1 of 1 queries") {
		t.Fatalf("Apply = %q, want the search to use the index", res.Message)
	}
}
