package demo

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Seeding 20,000 products takes a second or more under -race, so the tests
// share one service; each test that writes uses its own rows.
var (
	sharedOnce sync.Once
	sharedSvc  *Service
	sharedDir  string
	sharedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedSvc != nil {
		sharedSvc.Close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func service(t testing.TB) *Service {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "demo-test-")
		if sharedErr != nil {
			return
		}
		sharedSvc, sharedErr = New(Options{DataDir: sharedDir, Now: func() time.Time { return fixedNow }})
	})
	if sharedErr != nil {
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedSvc
}

func server(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(service(t).Handler())
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, srv *httptest.Server, method, path, auth, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %.200s: %v", v, b, err)
	}
	return v
}

func TestRoutes(t *testing.T) {
	srv := server(t)
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		errCode                        string // for error responses
		check                          func(t *testing.T, r response)
	}{
		{name: "all products", method: "GET", path: "/api/products", status: 200, check: func(t *testing.T, r response) {
			p := decode[ProductPage](t, r.body)
			if p.Total < ProductCount || len(p.Products) != PageSize || p.Page != 1 || p.Pages != p.Total/PageSize {
				t.Errorf("page = total %d, %d products, page %d of %d; want ≥ %d, %d, 1", p.Total, len(p.Products), p.Page, p.Pages, ProductCount, PageSize)
			}
		}},
		{name: "category page about 50 KB", method: "GET", path: "/api/products?category=books&page=2", status: 200, check: func(t *testing.T, r response) {
			if n := len(r.body); n < 40_000 || n > 60_000 {
				t.Errorf("page is %d bytes, want about 50 KB", n)
			}
			p := decode[ProductPage](t, r.body)
			if p.Category != "books" || p.Page != 2 || len(p.Products) != PageSize {
				t.Errorf("page = %q p%d with %d products, want books p2 with %d", p.Category, p.Page, len(p.Products), PageSize)
			}
			for _, pr := range p.Products {
				if pr.Category != "books" {
					t.Fatalf("product %d in %q, want books", pr.ID, pr.Category)
				}
			}
			if p.Products[0].ID >= p.Products[1].ID {
				t.Errorf("products not ordered by id: %d, %d", p.Products[0].ID, p.Products[1].ID)
			}
		}},
		{name: "page past the end is empty", method: "GET", path: "/api/products?category=toys&page=9999", status: 200, check: func(t *testing.T, r response) {
			if p := decode[ProductPage](t, r.body); len(p.Products) != 0 {
				t.Errorf("got %d products past the end", len(p.Products))
			}
		}},
		{name: "page zero", method: "GET", path: "/api/products?page=0", status: 400, errCode: "invalid"},
		{name: "page not a number", method: "GET", path: "/api/products?page=x", status: 400, errCode: "invalid"},
		{name: "unknown category", method: "GET", path: "/api/products?category=cars", status: 400, errCode: "invalid"},
		{name: "one product", method: "GET", path: "/api/products/1", status: 200, check: func(t *testing.T, r response) {
			if p := decode[Product](t, r.body); p.ID != 1 || p.SKU != "PE-000001" || p.Name == "" || p.Price <= 0 {
				t.Errorf("product = %+v", p)
			}
		}},
		{name: "missing product", method: "GET", path: "/api/products/99999999", status: 404, errCode: "not_found"},
		{name: "bad product id", method: "GET", path: "/api/products/abc", status: 400, errCode: "invalid"},
		{name: "update", method: "PUT", path: "/api/products/7", body: `{"stock":7,"price":12.5}`, status: 200, check: func(t *testing.T, r response) {
			p := decode[Product](t, r.body)
			if p.ID != 7 || p.Stock != 7 || p.Price != 12.5 || !p.UpdatedAt.Equal(fixedNow) {
				t.Errorf("updated = %+v, want id 7, stock 7, price 12.5 at %v", p, fixedNow)
			}
		}},
		{name: "update unknown field", method: "PUT", path: "/api/products/7", body: `{"colour":"red"}`, status: 400, errCode: "invalid"},
		{name: "update bad values", method: "PUT", path: "/api/products/7", body: `{"stock":-1,"category":"cars"}`, status: 400, errCode: "invalid"},
		{name: "update empty", method: "PUT", path: "/api/products/7", body: `{}`, status: 400, errCode: "invalid"},
		{name: "update too large", method: "PUT", path: "/api/products/7", body: `{"description":"` + strings.Repeat("a", maxBodyBytes) + `"}`, status: 413, errCode: "too_large"},
		{name: "update missing product", method: "PUT", path: "/api/products/99999999", body: `{"stock":1}`, status: 404, errCode: "not_found"},
		{name: "search", method: "GET", path: "/api/search?q=rustic+steel+chair", status: 200, check: func(t *testing.T, r response) {
			res := decode[SearchResult](t, r.body)
			if res.Count == 0 || res.Count != len(res.Products) {
				t.Fatalf("search found %d (%d products), want some", res.Count, len(res.Products))
			}
			for _, p := range res.Products {
				if !strings.EqualFold(p.Name, "Rustic Steel Chair") {
					t.Errorf("search matched %q", p.Name)
				}
			}
		}},
		{name: "search without q", method: "GET", path: "/api/search", status: 400, errCode: "invalid"},
		{name: "me without bearer", method: "GET", path: "/api/me", status: 401, errCode: "unauthorized", check: func(t *testing.T, r response) {
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		}},
		{name: "me with basic auth", method: "GET", path: "/api/me", auth: "Basic YTpi", status: 401, errCode: "unauthorized"},
		{name: "me with bad user", method: "GET", path: "/api/me", auth: "Bearer a/b", status: 401, errCode: "unauthorized"},
		{name: "me", method: "GET", path: "/api/me", auth: "Bearer jane.doe", status: 200, check: func(t *testing.T, r response) {
			p := decode[Profile](t, r.body)
			if p.User != "jane.doe" || p.DisplayName != "Jane Doe" || p.Email != "jane.doe@example.com" || p.Plan == "" {
				t.Errorf("profile = %+v", p)
			}
		}},
		{name: "slow", method: "GET", path: "/api/slow?ms=5", status: 200, check: func(t *testing.T, r response) {
			if v := decode[map[string]int](t, r.body); v["slept_ms"] != 5 {
				t.Errorf("slow = %v", v)
			}
		}},
		{name: "slow too long", method: "GET", path: "/api/slow?ms=5001", status: 400, errCode: "invalid"},
		{name: "slow negative", method: "GET", path: "/api/slow?ms=-1", status: 400, errCode: "invalid"},
		{name: "slow without ms", method: "GET", path: "/api/slow", status: 400, errCode: "invalid"},
		{name: "home page", method: "GET", path: "/", status: 200, check: func(t *testing.T, r response) {
			body := string(r.body)
			if got := strings.Count(body, `src="/static/products/`); got != ImageCount {
				t.Errorf("home page has %d product images, want %d", got, ImageCount)
			}
			for _, want := range []string{`src="/static/hero.png"`, `url("/static/font.ttf")`, "20000 products"} {
				if !strings.Contains(body, want) {
					t.Errorf("home page lacks %s", want)
				}
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q", ct)
			}
		}},
		{name: "hero", method: "GET", path: "/static/hero.png", status: 200, check: func(t *testing.T, r response) {
			img, err := png.Decode(bytes.NewReader(r.body))
			if err != nil || img.Bounds().Dx() != heroW || img.Bounds().Dy() != heroH {
				t.Errorf("hero: %v, err %v", img.Bounds(), err)
			}
		}},
		{name: "product image", method: "GET", path: "/static/products/30.jpg", status: 200, check: func(t *testing.T, r response) {
			img, err := jpeg.Decode(bytes.NewReader(r.body))
			if err != nil || img.Bounds().Dx() != thumbW {
				t.Errorf("thumbnail: %v, err %v", img, err)
			}
		}},
		{name: "product image out of range", method: "GET", path: "/static/products/31.jpg", status: 404, errCode: "not_found"},
		{name: "font", method: "GET", path: "/static/font.ttf", status: 200, check: func(t *testing.T, r response) {
			if r.header.Get("Content-Type") != "font/ttf" || len(r.body) < 10_000 {
				t.Errorf("font: %s, %d bytes", r.header.Get("Content-Type"), len(r.body))
			}
		}},
		{name: "unknown route", method: "GET", path: "/nope", status: 404},
		{name: "wrong method", method: "DELETE", path: "/api/products/1", status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, tc.method, tc.path, tc.auth, tc.body)
			if r.status != tc.status {
				t.Fatalf("%s %s = %d, want %d; body %.300s", tc.method, tc.path, r.status, tc.status, r.body)
			}
			if tc.errCode != "" {
				e := decode[map[string]apiError](t, r.body)
				if e["error"].Code != tc.errCode || e["error"].Message == "" {
					t.Errorf("%s %s error = %+v, want code %q with a message", tc.method, tc.path, e["error"], tc.errCode)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestProductCount(t *testing.T) {
	var n int
	if err := service(t).DB().QueryRow(`SELECT count(*) FROM products`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 20_000 {
		t.Errorf("products = %d, want at least 20000", n)
	}
}

// TestSearchIsAFullScan guards the demo's purpose: the search query must be
// one an index on products(name) fixes.
func TestSearchIsAFullScan(t *testing.T) {
	db := service(t).DB()
	if p := searchPlan(t, db); !strings.Contains(p, "SCAN products") {
		t.Errorf("search plan without an index = %q, want a full scan", p)
	}
	// In a private copy, so the shared database keeps its slow query.
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	if _, err := db.Exec(`VACUUM INTO ?`, copyDB); err != nil {
		t.Fatal(err)
	}
	c, err := OpenSQLite(copyDB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(`CREATE INDEX products_name ON products(name)`); err != nil {
		t.Fatal(err)
	}
	if p := searchPlan(t, c); !strings.Contains(p, "USING INDEX products_name") {
		t.Errorf("search plan with an index on name = %q, want it used", p)
	}
}

func searchPlan(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT `+productColumns+` FROM products WHERE name = ? ORDER BY id LIMIT 100`, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSeedGolden pins the generator: the same products on every machine.
func TestSeedGolden(t *testing.T) {
	g := newGenerator()
	var got []Product
	for id := int64(1); id <= 3; id++ {
		got = append(got, g.product(id))
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := filepath.Join("testdata", "seed.golden.json")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("seed products changed:\n%s\nwant:\n%s", b, want)
	}
	// The database holds what the generator made (product 1 is not updated
	// by any test).
	p, err := scanProduct(service(t).DB().QueryRow(`SELECT ` + productColumns + ` FROM products WHERE id = 1`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p) != fmt.Sprint(got[0]) {
		t.Errorf("stored product 1 = %+v, want %+v", p, got[0])
	}
}

// TestReopenKeepsData starts on a copy of the seeded database (seeding is
// the slow part of these tests) and checks that a second start keeps its
// rows instead of seeding again.
func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	if _, err := service(t).DB().Exec(`VACUUM INTO ?`, DBPath(dir)); err != nil {
		t.Fatal(err)
	}
	s1, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.DB().Exec(`UPDATE products SET stock = 4242 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	s1.Close()
	s2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var stock, n int
	if err := s2.DB().QueryRow(`SELECT stock, (SELECT count(*) FROM products) FROM products WHERE id = 1`).Scan(&stock, &n); err != nil {
		t.Fatal(err)
	}
	if stock != 4242 || n != ProductCount {
		t.Errorf("after reopen: stock %d, %d products; want 4242 and %d (no reseed)", stock, n, ProductCount)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no data dir", Options{}, "DataDir is required"},
		{"nil middleware", Options{DataDir: t.TempDir(), Middleware: []func(http.Handler) http.Handler{nil}}, "Middleware[0] is nil"},
		{"open fails", Options{OpenDB: func(string) (*sql.DB, error) { return nil, fmt.Errorf("no driver") }}, "no driver"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%s) = %v, want error containing %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestMiddlewareOrderAndPattern(t *testing.T) {
	var (
		order   []string
		pattern string
	)
	mw := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
				if name == "outer" {
					pattern = r.Pattern
				}
			})
		}
	}
	s, err := New(Options{OpenDB: func(string) (*sql.DB, error) { return service(t).DB(), nil }, Middleware: []func(http.Handler) http.Handler{mw("outer"), mw("inner")}})
	if err != nil {
		t.Fatal(err)
	}
	// s shares the test database; closing it is the shared service's job.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/products/3", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /api/products/3 = %d", rec.Code)
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Errorf("middleware order = %v, want outer,inner", order)
	}
	if pattern != "GET /api/products/{id}" {
		t.Errorf("pattern seen by middleware = %q", pattern)
	}
}

func TestLoad(t *testing.T) {
	svc := service(t)
	seen := make(chan string, 1000)
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			select {
			case seen <- r.Pattern:
			default:
			}
		})
	}
	srv := httptest.NewServer(count(svc.Handler()))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		stats LoadStats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		st, err := Load(ctx, LoadOptions{BaseURL: srv.URL, Rate: 500, Seed: 1})
		done <- result{st, err}
	}()
	routes := map[string]bool{}
	for range 60 {
		routes[<-seen] = true
	}
	cancel()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	// Requests in flight at the cancel are answered by the server but
	// abandoned by the client.
	if res.stats.Sent < 60-DefaultLoadMaxInFlight {
		t.Errorf("Load sent %d, want at least %d of the 60 seen", res.stats.Sent, 60-DefaultLoadMaxInFlight)
	}
	if res.stats.Failed != 0 {
		t.Errorf("Load saw %d failures", res.stats.Failed)
	}
	for _, want := range []string{"GET /api/products", "GET /api/products/{id}", "GET /api/me"} {
		if !routes[want] {
			t.Errorf("load did not reach %s in 60 requests (saw %v)", want, routes)
		}
	}
}

// TestLoadVisitors: with Visitors the service sees several client
// addresses, where the system can bind them, and every request succeeds
// either way.
func TestLoadVisitors(t *testing.T) {
	svc := service(t)
	seen := make(chan string, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.Handler().ServeHTTP(w, r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		select {
		case seen <- host:
		default:
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan LoadStats, 1)
	go func() {
		st, err := Load(ctx, LoadOptions{BaseURL: srv.URL, Rate: 500, Seed: 1, Visitors: 4})
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	hosts := map[string]bool{}
	for range 60 {
		hosts[<-seen] = true
	}
	cancel()
	if st := <-done; st.Failed != 0 {
		t.Errorf("Load with visitors saw %d failures", st.Failed)
	}
	want := 4
	if l, err := net.Listen("tcp4", "127.0.0.2:0"); err != nil {
		want = 1 // 127.0.0.2 cannot be bound here: all from the default address
	} else {
		l.Close()
	}
	if len(hosts) != want {
		t.Errorf("requests came from %v, want %d addresses", slices.Sorted(maps.Keys(hosts)), want)
	}
}

func TestLoadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts LoadOptions
		want string
	}{
		{"no url", LoadOptions{}, "BaseURL"},
		{"relative url", LoadOptions{BaseURL: "/api"}, "BaseURL"},
		{"ftp url", LoadOptions{BaseURL: "ftp://127.0.0.1"}, "BaseURL"},
		{"negative rate", LoadOptions{BaseURL: "http://127.0.0.1:1", Rate: -1}, "Rate"},
		{"huge rate", LoadOptions{BaseURL: "http://127.0.0.1:1", Rate: 1e9}, "Rate"},
		{"negative in flight", LoadOptions{BaseURL: "http://127.0.0.1:1", MaxInFlight: -1}, "MaxInFlight"},
		{"negative visitors", LoadOptions{BaseURL: "http://127.0.0.1:1", Visitors: -1}, "Visitors"},
		{"too many visitors", LoadOptions{BaseURL: "http://127.0.0.1:1", Visitors: 255}, "Visitors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%+v) = %v, want error naming %s", tc.opts, err, tc.want)
			}
		})
	}
}

func TestParseProductUpdate(t *testing.T) {
	tests := []struct {
		body string
		want string // "" for success, else a substring of the error
	}{
		{`{"name":"  Blue Mug  "}`, ""},
		{`{"price":0.01,"stock":0,"category":"toys","description":""}`, ""},
		{`{"name":""}`, "name must be"},
		{`{"name":"a\u0000b"}`, "name must be"},
		{`{"price":0}`, "price must be"},
		{`{"price":1e9}`, "price must be"},
		{`{"stock":1.5}`, "JSON object"},
		{`{"stock":1}{"stock":2}`, "exactly one"},
		{`[1]`, "JSON object"},
		{`null`, "at least one"},
		{``, "JSON object"},
	}
	for _, tc := range tests {
		u, err := ParseProductUpdate([]byte(tc.body))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ParseProductUpdate(%q) = %v, want success", tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ParseProductUpdate(%q) = %+v, %v; want error containing %q", tc.body, u, err, tc.want)
		}
	}
	u, _ := ParseProductUpdate([]byte(`{"name":"  Blue Mug  "}`))
	if *u.Name != "Blue Mug" {
		t.Errorf("name not trimmed: %q", *u.Name)
	}
}

func FuzzParseProductUpdate(f *testing.F) {
	for _, s := range []string{`{"name":"Mug"}`, `{"price":1.5,"stock":3}`, `{"category":"toys"}`, `{}`, `[`, `{"description":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := ParseProductUpdate(body)
		if err != nil {
			return
		}
		if u == (ProductUpdate{}) {
			t.Fatalf("ParseProductUpdate(%q) accepted an empty update", body)
		}
		if u.Price != nil && (*u.Price <= 0 || *u.Price > maxPrice) {
			t.Fatalf("ParseProductUpdate(%q) accepted price %v", body, *u.Price)
		}
		if u.Stock != nil && (*u.Stock < 0 || *u.Stock > maxStock) {
			t.Fatalf("ParseProductUpdate(%q) accepted stock %v", body, *u.Stock)
		}
	})
}

func FuzzBearerUser(f *testing.F) {
	for _, s := range []string{"Bearer alice", "bearer  bob ", "Basic x", "", "Bearer ", "Bearer a b", "Bearer " + strings.Repeat("x", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		u, err := bearerUser(h)
		if err != nil {
			return
		}
		if u == "" || len(u) > maxUserNameLen || strings.ContainsAny(u, " /\"<>") {
			t.Fatalf("bearerUser(%q) = %q", h, u)
		}
	})
}

// Benchmarks of the demo's hot routes, served in-process:
//
//	go test -run '^$' -bench . -benchtime 200x ./internal/demo/
func BenchmarkProductsPage(b *testing.B) {
	benchRoute(b, "/api/products?category=books&page=3")
}

func BenchmarkProduct(b *testing.B) { benchRoute(b, "/api/products/1234") }

// BenchmarkSearch measures the deliberate full scan; the database optimizer's
// index should make it orders of magnitude faster.
func BenchmarkSearch(b *testing.B) { benchRoute(b, "/api/search?q=Rustic+Steel+Chair") }

func benchRoute(b *testing.B, path string) {
	h := service(b).Handler()
	req := httptest.NewRequest("GET", path, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
}

// BenchmarkSearchIndexed is BenchmarkSearch on a copy of the database with
// the index the database optimizer should propose: the gap between the two
// is what that advice is worth.
func BenchmarkSearchIndexed(b *testing.B) {
	path := filepath.Join(b.TempDir(), DBFile)
	if _, err := service(b).DB().Exec(`VACUUM INTO ?`, path); err != nil {
		b.Fatal(err)
	}
	db, err := OpenSQLite(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`CREATE INDEX products_name ON products(name)`); err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{OpenDB: func(string) (*sql.DB, error) { return db, nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	req := httptest.NewRequest("GET", "/api/search?q=Rustic+Steel+Chair", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET /api/search = %d", rec.Code)
		}
	}
}
