package querytrace

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

// TestRequestsNPlusOne serves two routes over loopback on a real SQLite
// database: one loads each item's owner with a query per item (N+1), the
// other runs one join. Only the first is reported, with its route and
// statement.
func TestRequestsNPlusOne(t *testing.T) {
	rec := NewRecorder(0)
	db := Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "t.db"), rec)
	defer db.Close()
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE owners (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER)`,
		`WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 30) INSERT INTO owners SELECT v, 'o' || v FROM n`,
		`INSERT INTO items SELECT id, id FROM owners`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	reqs := NewRequests(0)
	mux := http.NewServeMux()
	const perOwner = `SELECT name FROM owners WHERE id = ?`
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.QueryContext(r.Context(), `SELECT owner_id FROM items ORDER BY id LIMIT 20`)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var ids []int
		for rows.Next() {
			var id int
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			var name string
			if err := db.QueryRowContext(r.Context(), perOwner, id).Scan(&name); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintln(w, name)
		}
	})
	mux.HandleFunc("GET /items/joined", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.QueryContext(r.Context(), `SELECT o.name FROM items i JOIN owners o ON o.id = i.owner_id ORDER BY i.id LIMIT 20`)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			_ = rows.Scan(&name)
			fmt.Fprintln(w, name)
		}
	})
	// The same statement with the same argument many times is not N+1.
	mux.HandleFunc("GET /same", func(w http.ResponseWriter, r *http.Request) {
		for range 20 {
			var name string
			_ = db.QueryRowContext(r.Context(), perOwner, 1).Scan(&name)
		}
	})
	srv := httptest.NewServer(reqs.Middleware(mux))
	defer srv.Close()
	for _, path := range []string{"/items", "/items", "/items/joined", "/same"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
	got := reqs.Patterns()
	if len(got) != 1 {
		t.Fatalf("Patterns() = %+v, want one N+1 pattern", got)
	}
	p := got[0]
	if p.Route != "GET /items" || p.Query != perOwner || p.Requests != 2 || p.MaxPerRequest != 20 || p.DistinctArgs != 20 {
		t.Errorf("Patterns()[0] = %+v, want GET /items, %q, 2 requests of 20 distinct executions", p, perOwner)
	}
	if reqs.Seen() != 4 {
		t.Errorf("Seen() = %d, want 4", reqs.Seen())
	}
}

// TestRequestsBegin groups statements without HTTP, and ignores
// statements run with the context after End.
func TestRequestsBegin(t *testing.T) {
	reqs := NewRequests(3)
	ctx, end := reqs.Begin(context.Background(), "job:sync")
	for i := range 5 {
		noteRequest(ctx, "SELECT 1 WHERE x = $1", []any{i})
	}
	end()
	noteRequest(ctx, "SELECT 1 WHERE x = $1", []any{99}) // after End: dropped
	got := reqs.Patterns()
	if len(got) != 1 || got[0].Route != "job:sync" || got[0].MaxPerRequest != 5 {
		t.Fatalf("Patterns() = %+v, want job:sync with 5 executions", got)
	}
	noteRequest(context.Background(), "SELECT 2", nil) // no request: nothing
}

// BenchmarkNoteRequest is the cost a grouped request adds per statement.
//
//	go test -run - -bench NoteRequest -benchmem ./dbopt/querytrace
func BenchmarkNoteRequest(b *testing.B) {
	reqs := NewRequests(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ctx, end := reqs.Begin(context.Background(), "GET /x")
		for j := range 20 {
			noteRequest(ctx, "SELECT name FROM owners WHERE id = $1", []any{j})
		}
		end()
	}
}
