package apiopt

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp keeps a process-wide clock goroutine, and its worker
		// pool's cleaner sleeps out its last period after Shutdown.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// service is a small API like the demo's: a product list that is the same
// for everyone, a profile that is not, and a write that changes the list.
type service struct {
	mu       sync.Mutex
	price    int
	listHits int
}

func (s *service) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.listHits++
		p := s.price
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "[%s{\"id\":1,\"price\":%d}]", strings.Repeat(`{"id":0,"name":"filler product"},`, 100), p)
	})
	mux.HandleFunc("PUT /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.price++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if user == "" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"user":%q}`, user)
	})
	return mux
}

func newOptimizer(t *testing.T, cfg Config, opts ...Option) *Optimizer {
	t.Helper()
	o, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func get(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDoneWhen walks the acceptance list against the middleware.
func TestDoneWhen(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := newOptimizer(t, Config{
		Cache:     CacheConfig{Routes: map[string]time.Duration{"GET /api/products": time.Minute}},
		RateLimit: RateLimitConfig{Rate: 1000, Period: time.Minute, Burst: 50},
	}, WithRegisterer(reg))
	svc := &service{}
	h := o.Middleware(svc.mux())

	first := get(h, "GET", "/api/products")
	second := get(h, "GET", "/api/products")
	if got := second.Header().Get("Cache-Status"); got != "perfengine; hit" {
		t.Fatalf("second GET Cache-Status = %q (first %q)", got, first.Header().Get("Cache-Status"))
	}
	for _, enc := range []string{"br", "zstd", "gzip"} {
		if got := get(h, "GET", "/api/products", "Accept-Encoding", enc).Header().Get("Content-Encoding"); got != enc {
			t.Errorf("Accept-Encoding %s: Content-Encoding %q", enc, got)
		}
	}
	etag := second.Header().Get("ETag")
	if got := get(h, "GET", "/api/products", "If-None-Match", etag).Code; got != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", got)
	}
	get(h, "PUT", "/api/products/1")
	after := get(h, "GET", "/api/products")
	if got := after.Header().Get("Cache-Status"); strings.Contains(got, "hit") {
		t.Errorf("after PUT: Cache-Status %q, want a miss", got)
	}
	if !strings.Contains(after.Body.String(), `"price":1`) {
		t.Errorf("after PUT the list does not show the change")
	}
	for _, user := range []string{"alice", "bob", "alice", "bob"} {
		if got := get(h, "GET", "/api/me", "Authorization", "Bearer "+user).Body.String(); got != `{"user":"`+user+`"}` {
			t.Errorf("%s got %s", user, got)
		}
	}
	st := o.Peek().Cache
	if got := value(t, reg, "perfengine_api_cache_hit_ratio"); got <= 0 || got != st.HitRatio() {
		t.Errorf("hit ratio metric = %v, want %v", got, st.HitRatio())
	}
	if got := value(t, reg, "perfengine_api_cache_saved_bytes_total"); got <= 0 || got != float64(st.BytesSaved) {
		t.Errorf("saved bytes metric = %v, want %v", got, st.BytesSaved)
	}
	if got := value(t, reg, "perfengine_api_cache_hits_total"); got != float64(st.Hits) {
		t.Errorf("hits metric = %v, want %v", got, st.Hits)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

// value gathers one unlabelled metric from reg.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.Metric) != 1 {
			continue
		}
		m := mf.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestRateLimit429(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := newOptimizer(t, Config{RateLimit: RateLimitConfig{Rate: 60, Period: time.Minute, Burst: 3}}, WithClock(clk.Now))
	h := o.Middleware((&service{}).mux())
	var codes []int
	var last *httptest.ResponseRecorder
	for range 4 {
		last = get(h, "GET", "/api/products")
		codes = append(codes, last.Code)
	}
	if fmt.Sprint(codes) != "[200 200 200 429]" {
		t.Errorf("codes = %v", codes)
	}
	if last.Header().Get("Retry-After") != "1" || last.Header().Get("RateLimit") == "" || last.Header().Get("RateLimit-Policy") == "" {
		t.Errorf("429 headers: %v", last.Header())
	}
	clk.Add(time.Second)
	if got := get(h, "GET", "/api/products").Code; got != 200 {
		t.Errorf("after a second: %d", got)
	}
	// Critical status halves the rate: after the burst, one second is no
	// longer enough for the next request.
	o.SetCritical(true)
	other := func() int {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.RemoteAddr = "198.51.100.7:999"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	other()
	other()
	other()
	clk.Add(time.Second)
	if got := other(); got != http.StatusTooManyRequests {
		t.Errorf("critical, after a second: %d, want 429", got)
	}
	clk.Add(time.Second)
	if got := other(); got != http.StatusOK {
		t.Errorf("critical, after two seconds: %d, want 200", got)
	}
	if o.Peek().RateLimited == 0 {
		t.Error("RateLimited = 0")
	}
}

func TestRouteStatsAndRecommendation(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := newOptimizer(t, Config{MinSamples: 10}, WithClock(clk.Now))
	h := o.Middleware((&service{}).mux())
	for i := range 30 {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i%5)
		h.ServeHTTP(httptest.NewRecorder(), r)
		r = httptest.NewRequest("GET", "/api/me", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i%5)
		r.Header.Set("Authorization", "Bearer same-user")
		h.ServeHTTP(httptest.NewRecorder(), r)
		clk.Add(100 * time.Millisecond)
	}
	get(h, "GET", "/nope")
	s := o.Metrics(context.Background())
	byRoute := map[string]RouteStats{}
	for _, r := range s.Routes {
		byRoute[r.Route] = r
	}
	if got := byRoute["GET /api/products"]; got.Requests != 30 || got.Status[2] != 30 || got.Identical != 1 {
		t.Errorf("products stats: %+v", got)
	}
	if _, ok := byRoute[RouteUnmatched]; !ok {
		t.Errorf("no %q route for a 404: %v", RouteUnmatched, s.Routes)
	}
	if s.RPS < 19 || s.RPS > 21 {
		t.Errorf("RPS = %v, want 61 requests over 3s", s.RPS)
	}
	recs := o.Recommendations()
	if len(recs) != 1 || recs[0].Route != "GET /api/products" || recs[0].Kind != KindCacheRoute {
		t.Fatalf("Recommendations = %+v, want caching GET /api/products only (/api/me is personal)", recs)
	}
	if !strings.Contains(recs[0].Reason, "100 % identical bodies") {
		t.Errorf("reason = %q", recs[0].Reason)
	}
	if _, err := o.TuneCache(recs[0].Route, recs[0].TTL); err != nil {
		t.Fatal(err)
	}
	get(h, "GET", "/api/products")
	if got := get(h, "GET", "/api/products").Header().Get("Cache-Status"); got != "perfengine; hit" {
		t.Errorf("after TuneCache: %q", got)
	}
	if recs := o.Recommendations(); len(recs) != 0 {
		t.Errorf("after applying: %+v", recs)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{RateLimit: RateLimitConfig{Key: "cookie"}}, "RateLimit.Key"},
		{Config{RateLimit: RateLimitConfig{TrustedProxies: []string{"nope"}}}, "TrustedProxies"},
		{Config{Cache: CacheConfig{Routes: map[string]time.Duration{"GET /a": 0}}}, "must be positive"},
		{Config{Cache: CacheConfig{Routes: map[string]time.Duration{"POST /a": time.Second}}}, "GET ServeMux pattern"},
		{Config{IdenticalRatio: 2}, "IdenticalRatio"},
		{Config{Compression: CompressionConfig{Config: compressLevel(12)}}, "BrotliLevel"},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestConcurrencyShedding(t *testing.T) {
	o := newOptimizer(t, Config{Cache: CacheConfig{Disabled: true}, Concurrency: ConcurrencyConfig{Enabled: true}})
	o.adaptive.SetPressure(1.0 / 1000)
	block, entered := make(chan struct{}), make(chan struct{}, 8)
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-block
		io.WriteString(w, "ok")
	}))
	limit := o.adaptive.Limit()
	var wg sync.WaitGroup
	for range limit {
		wg.Add(1)
		go func() { defer wg.Done(); get(h, "GET", "/") }()
	}
	for range limit {
		<-entered
	}
	if got := get(h, "GET", "/").Code; got != http.StatusServiceUnavailable {
		t.Errorf("over the concurrency limit: %d, want 503", got)
	}
	close(block)
	wg.Wait()
}

// The engine asks for figures every interval and Prometheus scrapes them:
// with a histogram of ~190 KB per route, allocating per call made these
// figures a service's largest source of garbage. Routes without traffic
// between scrapes (most of a service's, most of the time) reuse their
// exported histogram.
func TestMetricsReuseHistograms(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	o := metricsOptimizer(t, WithRegisterer(reg))
	o.Metrics(context.Background())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 10
	for range calls {
		o.Metrics(context.Background())
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 100<<10 {
		t.Errorf("Metrics and a scrape over 5 routes allocate %d KB per call, want well under one 190 KB histogram", per>>10)
	}
}
