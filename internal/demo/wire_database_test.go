package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// The fix clears its finding at the next cycle, not at the next advice
	// interval: the search no longer scans.
	scans := func() int {
		for _, f := range m.Findings() {
			if f.Kind == "full_scans" {
				return strings.Count(f.Detail, "full scan of")
			}
		}
		return 0
	}
	before := scans()
	if _, err := m.Recommend(ctx, perfengine.Snapshot{Time: time.Now(), Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if after := scans(); before == 0 || after >= before {
		t.Errorf("full scans reported %d before the index and %d the cycle after it, want fewer", before, after)
	}
}

// TestDatabaseFindsRelatedNPlusOne: GET /api/related/{id} fetches each
// related product by its own query; the database module reports the N+1
// with the route and the statement.
func TestDatabaseFindsRelatedNPlusOne(t *testing.T) {
	w := wiring{cfg: perfengine.DefaultConfig()}
	m, err := wireDatabase(&w)
	if err != nil {
		t.Fatalf("wireDatabase: %v", err)
	}
	svc, err := New(Options{DataDir: t.TempDir(), OpenDB: w.openDB, Middleware: w.middleware})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer svc.Close()
	for id := range 3 {
		rr := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/related/"+strconv.Itoa(100+id), nil))
		if rr.Code != http.StatusOK || strings.Count(rr.Body.String(), `"sku"`) != RelatedCount {
			t.Fatalf("GET /api/related = %d, %.200s; want %d products", rr.Code, rr.Body.String(), RelatedCount)
		}
		// A route without one reports none.
		svc.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/products/"+strconv.Itoa(100+id), nil))
	}
	var found []perfengine.Finding
	for _, f := range m.Findings() {
		if f.Kind == perfengine.FindingNPlusOne {
			found = append(found, f)
		}
	}
	if len(found) != 1 || !strings.Contains(found[0].Title, "GET /api/related/{id}") || !strings.Contains(found[0].Title, "12 times per request") ||
		!strings.Contains(found[0].Detail, "FROM products WHERE id = ?") || !strings.Contains(found[0].Detail, "seen in 3 requests") {
		t.Errorf("N+1 findings %+v, want one for GET /api/related/{id} naming the statement", found)
	}
}

// TestDatabaseResizesASmallPool: with the shop's pool capped at one
// connection (--db-pool 1), concurrent requests wait for it; the database
// module measures the waits, proposes a larger pool and applies it to the
// shop's own *sql.DB.
func TestDatabaseResizesASmallPool(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	w := wiring{cfg: cfg, dbPool: 1}
	m, err := wireDatabase(&w)
	if err != nil {
		t.Fatalf("wireDatabase: %v", err)
	}
	svc, err := New(Options{DataDir: t.TempDir(), OpenDB: w.openDB, Middleware: w.middleware})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer svc.Close()
	ctx := context.Background()
	if _, err := m.Collect(ctx); err != nil { // the pool's first snapshot
		t.Fatalf("Collect: %v", err)
	}
	// Eight callers at once, each running the related route's twelve
	// lookups: with one connection, most acquires wait.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				svc.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/related/"+strconv.Itoa(100+10*g+i), nil))
			}
		})
	}
	wg.Wait()
	if waits := svc.DB().Stats().WaitCount; waits == 0 {
		t.Fatal("no acquire waited for the single connection")
	}
	if _, err := m.Collect(ctx); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	acts, err := m.Recommend(ctx, perfengine.Snapshot{Time: time.Now(), Config: cfg})
	if err != nil {
		t.Fatalf("Recommend: %v", err)
	}
	i := slices.IndexFunc(acts, func(a perfengine.Action) bool { return a.Kind == perfengine.ActionResizeDBPool })
	if i < 0 || acts[i].Params["from"] != "1" || acts[i].Risk != perfengine.RiskModerate {
		t.Fatalf("Recommend = %+v, want a moderate resize of the pool from 1 connection", acts)
	}
	want, _ := strconv.Atoi(acts[i].Params["size"])
	if _, err := m.Apply(ctx, acts[i]); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := svc.DB().Stats().MaxOpenConnections; got != want || want < 2 {
		t.Errorf("pool after Apply: %d connections, want the proposed %d (≥ 2)", got, want)
	}
}
