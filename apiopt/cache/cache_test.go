package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/apiopt/compress"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time source.
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

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// origin counts calls and answers with a body that changes with version.
type origin struct {
	calls   atomic.Int64
	version atomic.Int64
	header  http.Header
	status  int
	body    func(r *http.Request) string
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	for k, v := range o.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if o.status != 0 {
		w.WriteHeader(o.status)
	}
	body := fmt.Sprintf(`{"v":%d,"path":%q}`, o.version.Load(), r.URL.Path)
	if o.body != nil {
		body = o.body(r)
	}
	io.WriteString(w, body)
}

func newCache(t *testing.T, clk *clock, cfg Config) *Cache {
	t.Helper()
	cfg.Clock = clk.Now
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func do(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestCacheStatusAndFreshness(t *testing.T) {
	tests := []struct {
		name       string
		respCC     string
		extra      http.Header
		reqHeaders []string
		advance    time.Duration
		wantCalls  int64
		wantStatus string // prefix of the second response's Cache-Status
	}{
		{name: "max-age hit", respCC: "max-age=60", wantCalls: 1, wantStatus: "perfengine; hit"},
		{name: "s-maxage wins", respCC: "max-age=0, s-maxage=60", wantCalls: 1, wantStatus: "perfengine; hit"},
		{name: "expired", respCC: "max-age=60", advance: 61 * time.Second, wantCalls: 2, wantStatus: "perfengine; fwd=stale"},
		{name: "no-store", respCC: "no-store, max-age=60", wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "private", respCC: "private, max-age=60", wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "no explicit freshness", respCC: "", wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "set-cookie public", respCC: "public, max-age=60", extra: http.Header{"Set-Cookie": {"sid=1"}}, wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "vary star", respCC: "max-age=60", extra: http.Header{"Vary": {"*"}}, wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "vary cookie", respCC: "max-age=60", extra: http.Header{"Vary": {"Cookie"}}, wantCalls: 2, wantStatus: "perfengine; fwd=uri-miss"},
		{name: "request no-cache", respCC: "max-age=60", reqHeaders: []string{"Cache-Control", "no-cache"}, wantCalls: 2, wantStatus: "perfengine; fwd=request"},
		{name: "pragma no-cache", respCC: "max-age=60", reqHeaders: []string{"Pragma", "no-cache"}, wantCalls: 2, wantStatus: "perfengine; fwd=request"},
		{name: "request max-age", respCC: "max-age=60", reqHeaders: []string{"Cache-Control", "max-age=5"}, advance: 10 * time.Second, wantCalls: 2, wantStatus: "perfengine; fwd=stale"},
		{name: "request max-stale", respCC: "max-age=60", reqHeaders: []string{"Cache-Control", "max-stale=30"}, advance: 70 * time.Second, wantCalls: 1, wantStatus: "perfengine; hit; fwd=stale"},
		{name: "must-revalidate ignores max-stale", respCC: "max-age=60, must-revalidate", reqHeaders: []string{"Cache-Control", "max-stale"}, advance: 70 * time.Second, wantCalls: 2, wantStatus: "perfengine; fwd=stale"},
		{name: "malformed max-age is stale", respCC: "max-age=abc", wantCalls: 2, wantStatus: "perfengine; fwd="},
		{name: "expires", extra: http.Header{"Expires": {"Fri, 02 Jan 2026 03:05:05 GMT"}, "Date": {"Fri, 02 Jan 2026 03:04:05 GMT"}}, wantCalls: 1, wantStatus: "perfengine; hit"},
		{name: "invalid expires", extra: http.Header{"Expires": {"0"}}, wantCalls: 2, wantStatus: "perfengine; fwd="},
		{name: "no-cache response revalidates", respCC: "no-cache", extra: http.Header{"Etag": {`"x"`}}, wantCalls: 2, wantStatus: "perfengine; fwd=stale"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			c := newCache(t, clk, Config{})
			o := &origin{header: http.Header{}}
			if tc.respCC != "" {
				o.header.Set("Cache-Control", tc.respCC)
			}
			for k, v := range tc.extra {
				o.header[k] = v
			}
			h := c.Middleware(o)
			first := do(h, "GET", "/a")
			if got := first.Header().Get("Cache-Status"); !strings.HasPrefix(got, "perfengine; fwd=uri-miss") {
				t.Fatalf("first Cache-Status = %q, want a uri-miss", got)
			}
			clk.Add(tc.advance)
			second := do(h, "GET", "/a", tc.reqHeaders...)
			if got := second.Header().Get("Cache-Status"); !strings.HasPrefix(got, tc.wantStatus) {
				t.Errorf("second Cache-Status = %q, want prefix %q", got, tc.wantStatus)
			}
			if got := o.calls.Load(); got != tc.wantCalls {
				t.Errorf("origin calls = %d, want %d", got, tc.wantCalls)
			}
			if got := second.Header().Get("Set-Cookie"); got != "" && tc.wantCalls == 1 {
				t.Errorf("a hit replayed Set-Cookie %q", got)
			}
		})
	}
}

func TestAgeAndETag(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=100"}}}
	h := c.Middleware(o)
	first := do(h, "GET", "/a")
	etag := first.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q, want a strong tag", etag)
	}
	clk.Add(7 * time.Second)
	second := do(h, "GET", "/a")
	if got := second.Header().Get("Age"); got != "7" {
		t.Errorf("Age = %q, want 7", got)
	}
	if got := second.Header().Get("ETag"); got != etag {
		t.Errorf("ETag on hit = %q, want %q", got, etag)
	}
	nm := do(h, "GET", "/a", "If-None-Match", `"nope", `+etag)
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d body %d bytes, want 304 and none", nm.Code, nm.Body.Len())
	}
	if got := nm.Header().Get("ETag"); got != etag {
		t.Errorf("304 ETag = %q, want %q", got, etag)
	}
	other := do(h, "GET", "/a", "If-None-Match", `"nope"`)
	if other.Code != http.StatusOK {
		t.Errorf("non-matching If-None-Match: status %d, want 200", other.Code)
	}
	if o.calls.Load() != 1 {
		t.Errorf("origin calls = %d, want 1", o.calls.Load())
	}
}

func TestIfModifiedSince(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	lm := "Thu, 01 Jan 2026 00:00:00 GMT"
	o := &origin{header: http.Header{"Cache-Control": {"max-age=100"}, "Last-Modified": {lm}}}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	tests := []struct {
		ims  string
		want int
	}{
		{lm, http.StatusNotModified},
		{"Fri, 02 Jan 2026 00:00:00 GMT", http.StatusNotModified},
		{"Wed, 31 Dec 2025 00:00:00 GMT", http.StatusOK},
		{"garbage", http.StatusOK},
	}
	for _, tc := range tests {
		if got := do(h, "GET", "/a", "If-Modified-Since", tc.ims).Code; got != tc.want {
			t.Errorf("If-Modified-Since %q: status %d, want %d", tc.ims, got, tc.want)
		}
	}
}

func TestVary(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	o := &origin{
		header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language, Accept-Encoding"}},
		body:   func(r *http.Request) string { return "lang=" + r.Header.Get("Accept-Language") },
	}
	h := c.Middleware(o)
	for _, lang := range []string{"en", "fr", "en", "fr"} {
		w := do(h, "GET", "/a", "Accept-Language", lang)
		if got := w.Body.String(); got != "lang="+lang {
			t.Errorf("Accept-Language %s: body %q", lang, got)
		}
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin calls = %d, want 2 (one per language)", got)
	}
	// Accept-Encoding is normalised: it does not split the cache.
	do(h, "GET", "/a", "Accept-Language", "en", "Accept-Encoding", "gzip")
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin calls after another Accept-Encoding = %d, want 2", got)
	}
}

// TestNoLeakBetweenUsers is the promise that one user's response never
// reaches another, whatever the origin's headers.
func TestNoLeakBetweenUsers(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		cred   string // request header carrying the user
	}{
		{"private", http.Header{"Cache-Control": {"private, max-age=60"}}, "Cookie"},
		{"set-cookie", http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"sid=x"}}, "Cookie"},
		{"authorization without public", http.Header{"Cache-Control": {"max-age=60"}}, "Authorization"},
		{"vary cookie", http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Cookie"}}, "Cookie"},
		{"no headers, route rule", http.Header{}, "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			c := newCache(t, clk, Config{})
			c.SetRouteTTL("GET /me", time.Minute)
			o := &origin{header: tc.header, body: func(r *http.Request) string {
				return "user=" + r.Header.Get(tc.cred)
			}}
			mux := http.NewServeMux()
			mux.Handle("GET /me", o)
			h := c.Middleware(mux)
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user := fmt.Sprintf("u%d", i%4)
					w := do(h, "GET", "/me", tc.cred, user)
					if got := w.Body.String(); got != "user="+user {
						t.Errorf("user %s got %q", user, got)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestAuthorizationPublicIsShared(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	o := &origin{header: http.Header{"Cache-Control": {"public, max-age=60"}}}
	h := c.Middleware(o)
	do(h, "GET", "/a", "Authorization", "Bearer a")
	do(h, "GET", "/a", "Authorization", "Bearer b")
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin calls = %d, want 1 for an explicitly public response", got)
	}
}

func TestCoalescing(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var calls atomic.Int64
	o := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "shared")
	})
	h := c.Middleware(o)
	const n = 10
	var wg sync.WaitGroup
	results := make([]string, n)
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = do(h, "GET", "/a").Body.String() }()
	<-entered
	// One waiter leaves early: it gets nothing, the others are not disturbed.
	ctx, cancel := context.WithCancel(context.Background())
	leaver := make(chan struct{})
	go func() {
		defer close(leaver)
		r := httptest.NewRequest("GET", "/a", nil).WithContext(ctx)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = do(h, "GET", "/a").Body.String() }()
	}
	waitFor(t, func() bool { c.flights.mu.Lock(); defer c.flights.mu.Unlock(); return len(c.flights.m) == 1 })
	cancel()
	<-leaver
	close(release)
	wg.Wait()
	for i, got := range results {
		if got != "shared" {
			t.Errorf("request %d got %q", i, got)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("origin calls = %d, want 1", got)
	}
}

// waitFor polls a condition that other goroutines make true; it fails only
// when the test's own deadline passes, never on a slow machine.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < time.Second {
			t.Fatal("condition never held")
		}
		runtimeGosched()
	}
}

func TestCoalescingPrivateIsNotShared(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	gate := make(chan struct{})
	var calls atomic.Int64
	o := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-gate
		}
		w.Header().Set("Cache-Control", "private, max-age=60")
		io.WriteString(w, "for "+r.Header.Get("Cookie"))
	})
	h := c.Middleware(o)
	done := make(chan string)
	go func() { done <- do(h, "GET", "/me", "Cookie", "alice").Body.String() }()
	waitFor(t, func() bool { return calls.Load() == 1 })
	go func() { done <- do(h, "GET", "/me", "Cookie", "bob").Body.String() }()
	waitFor(t, func() bool { return calls.Load() == 2 || flightCount(c) == 1 })
	close(gate)
	got := map[string]bool{<-done: true, <-done: true}
	if !got["for alice"] || !got["for bob"] {
		t.Errorf("responses = %v, want one for alice and one for bob", got)
	}
}

func flightCount(c *Cache) int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	return len(c.flights.m)
}

func TestInvalidation(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=600"}, SurrogateKeyHeader: {"products product-1"}}}
	mux := http.NewServeMux()
	mux.Handle("GET /products", o)
	mux.Handle("GET /products/{id}", o)
	mux.HandleFunc("PUT /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		o.version.Add(1)
		w.Header().Set(SurrogateKeyHeader, "products")
		w.WriteHeader(http.StatusNoContent)
	})
	h := c.Middleware(mux)
	do(h, "GET", "/products")
	do(h, "GET", "/products/1")
	if got := do(h, "GET", "/products").Header().Get("Cache-Status"); got != "perfengine; hit" {
		t.Fatalf("Cache-Status = %q before PUT", got)
	}
	put := do(h, "PUT", "/products/1")
	if put.Header().Get(SurrogateKeyHeader) != "" {
		t.Errorf("Surrogate-Key leaked to the client")
	}
	w := do(h, "GET", "/products")
	if got := w.Header().Get("Cache-Status"); !strings.HasPrefix(got, "perfengine; fwd=uri-miss") {
		t.Errorf("Cache-Status after PUT = %q, want a miss", got)
	}
	if !strings.Contains(w.Body.String(), `"v":1`) {
		t.Errorf("body after PUT = %s, want the new version", w.Body)
	}
	if w.Header().Get(SurrogateKeyHeader) != "" {
		t.Errorf("Surrogate-Key leaked to the client")
	}
	if n := c.Invalidate("product-1"); n != 1 {
		t.Errorf("Invalidate(product-1) = %d, want 1", n)
	}
	if n := c.Invalidate("product-1"); n != 0 {
		t.Errorf("second Invalidate(product-1) = %d, want 0", n)
	}
}

func TestCompressedVariants(t *testing.T) {
	comp, err := compress.New(compress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, newClock(), Config{Compressor: comp})
	big := strings.Repeat(`{"name":"product","price":12.5},`, 200)
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}, body: func(*http.Request) string { return big }}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	for _, tc := range []struct{ ae, want string }{
		{"br", "br"}, {"zstd", "zstd"}, {"gzip", "gzip"}, {"gzip;q=0.5, br;q=0.4", "gzip"}, {"", ""}, {"br;q=0", ""},
	} {
		w := do(h, "GET", "/a", "Accept-Encoding", tc.ae)
		if got := w.Header().Get("Content-Encoding"); got != tc.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.ae, got, tc.want)
		}
		if got := w.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", tc.ae, got)
		}
		if tc.want != "" && w.Body.Len() >= len(big)/2 {
			t.Errorf("Accept-Encoding %q: %d bytes, not compressed", tc.ae, w.Body.Len())
		}
		if tc.want == "" && w.Body.String() != big {
			t.Errorf("Accept-Encoding %q: identity body differs", tc.ae)
		}
	}
	if o.calls.Load() != 1 {
		t.Errorf("origin calls = %d", o.calls.Load())
	}
	if c.Stats().BytesSaved == 0 {
		t.Error("BytesSaved = 0 after serving compressed variants")
	}
}

func TestRangeOnCompressedEntry(t *testing.T) {
	comp, _ := compress.New(compress.Config{})
	c := newCache(t, newClock(), Config{Compressor: comp})
	big := strings.Repeat("abcdefghij", 300)
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}}, body: func(*http.Request) string { return big }}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	w := do(h, "GET", "/a", "Range", "bytes=10-19", "Accept-Encoding", "gzip")
	if w.Code != http.StatusPartialContent || w.Body.String() != big[10:20] || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("Range: %d %q encoding %q, want 206 of identity bytes", w.Code, w.Body, w.Header().Get("Content-Encoding"))
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=10, stale-while-revalidate=30"}}}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	o.version.Store(1)
	clk.Add(15 * time.Second)
	w := do(h, "GET", "/a")
	if got := w.Header().Get("Cache-Status"); !strings.Contains(got, "stale-while-revalidate") || !strings.Contains(w.Body.String(), `"v":0`) {
		t.Errorf("stale answer: %q %s", got, w.Body)
	}
	c.wg.Wait()
	w = do(h, "GET", "/a")
	if got := w.Header().Get("Cache-Status"); got != "perfengine; hit" || !strings.Contains(w.Body.String(), `"v":1`) {
		t.Errorf("after background revalidation: %q %s", got, w.Body)
	}
}

func TestStaleIfError(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=10, stale-if-error=60"}}}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	clk.Add(20 * time.Second)
	o.status = http.StatusServiceUnavailable
	w := do(h, "GET", "/a")
	if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Cache-Status"), "stale-if-error") {
		t.Errorf("stale-if-error: %d %q", w.Code, w.Header().Get("Cache-Status"))
	}
	clk.Add(2 * time.Minute)
	if w := do(h, "GET", "/a"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("past the window: %d, want the error", w.Code)
	}
}

// validatingOrigin answers with cacheControl and a constant ETag, and with
// 304 to a request that sends it back, counting those in conditional.
func validatingOrigin(cacheControl string, conditional *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	})
}

func TestRevalidation304(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{})
	var conditional atomic.Int64
	h := c.Middleware(validatingOrigin("max-age=10", &conditional))
	do(h, "GET", "/a")
	clk.Add(11 * time.Second)
	w := do(h, "GET", "/a")
	if w.Body.String() != "body" || conditional.Load() != 1 || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=304") {
		t.Errorf("revalidation: %q, %d conditional, %q", w.Body, conditional.Load(), w.Header().Get("Cache-Status"))
	}
	if got := do(h, "GET", "/a").Header().Get("Cache-Status"); got != "perfengine; hit" {
		t.Errorf("after 304: %q", got)
	}
}

// An entry past its lifetime and stale windows is kept for Keep, to be
// revalidated, and then dropped: a cache of every URL ever asked for would
// only grow until MaxBytes.
func TestKeepThenDrop(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{Keep: time.Minute})
	var conditional atomic.Int64
	h := c.Middleware(validatingOrigin("max-age=10, stale-if-error=20", &conditional))
	do(h, "GET", "/a")
	do(h, "GET", "/b")
	clk.Add(10*time.Second + 20*time.Second + 59*time.Second) // within Keep
	if w := do(h, "GET", "/a"); conditional.Load() != 1 || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=304") {
		t.Fatalf("within Keep: %d conditional requests, Cache-Status %q; want a revalidation", conditional.Load(), w.Header().Get("Cache-Status"))
	}
	// /b is past Keep, /a was just revalidated. Stores drop what expired,
	// at most every Keep/4.
	clk.Add(time.Minute / 4)
	do(h, "GET", "/c")
	for deadline := time.Now().Add(5 * time.Second); c.Stats().Entries != 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the sweep runs in the background
	}
	if got := c.Stats().Entries; got != 2 {
		t.Errorf("entries = %d, want 2 (/a revalidated, /c new; /b dropped)", got)
	}
	w := do(h, "GET", "/b")
	if conditional.Load() != 1 || w.Header().Get("Cache-Status") != "perfengine; fwd=uri-miss; stored" {
		t.Errorf("past Keep: %d conditional requests, Cache-Status %q; want a plain miss", conditional.Load(), w.Header().Get("Cache-Status"))
	}
}

// A body written in pieces grows its buffer by doubling; the stored entry
// must not keep the spare capacity for as long as it lives.
func TestStoredBodyIsRightSized(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	c.SetRouteTTL("GET /a/{n}", time.Minute)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{n}", func(w http.ResponseWriter, r *http.Request) {
		for range 33 { // 33 KiB: the buffer doubles to 64 KiB
			w.Write(bytes.Repeat([]byte("x"), 1024))
		}
	})
	h := c.Middleware(mux)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const n = 50
	before := heap()
	for i := range n {
		do(h, "GET", fmt.Sprintf("/a/%d", i))
	}
	after := heap()
	if got := c.Stats().Entries; got != n {
		t.Fatalf("%d entries stored, want %d", got, n)
	}
	// 33 KiB is a large object, rounded up to 40 KiB of pages.
	if per := (int64(after) - int64(before)) / n; per > 48<<10 {
		t.Errorf("each stored 33 KiB body holds %d KiB of heap, want the body and little more", per>>10)
	}
}

func TestAdaptiveTTL(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, Config{Adaptive: true, MinTTL: 2 * time.Second, MaxTTL: time.Minute})
	c.SetRouteTTL("GET /a", 10*time.Second)
	o := &origin{}
	mux := http.NewServeMux()
	mux.Handle("GET /a", o)
	h := c.Middleware(mux)
	lifetime := func() time.Duration {
		_, e := c.lookup(c.key("example.com", "/a"), httptest.NewRequest("GET", "/a", nil), "/a")
		return e.Lifetime
	}
	do(h, "GET", "/a")
	if got := lifetime(); got != 10*time.Second {
		t.Fatalf("first lifetime %v", got)
	}
	clk.Add(11 * time.Second)
	do(h, "GET", "/a") // unchanged: grows
	if got := lifetime(); got != 15*time.Second {
		t.Errorf("after unchanged revalidation: %v, want 15s", got)
	}
	o.version.Add(1)
	clk.Add(16 * time.Second)
	do(h, "GET", "/a") // changed: shrinks
	if got := lifetime(); got != 7500*time.Millisecond {
		t.Errorf("after change: %v, want 7.5s", got)
	}
}

func TestLargeAndStreamingResponsesPassThrough(t *testing.T) {
	c := newCache(t, newClock(), Config{MaxEntryBytes: 100})
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, strings.Repeat("x", 80))
		io.WriteString(w, strings.Repeat("y", 80))
	})
	h := c.Middleware(big)
	if w := do(h, "GET", "/big"); w.Body.Len() != 160 {
		t.Errorf("large body: %d bytes", w.Body.Len())
	}
	if got := do(h, "GET", "/big").Header().Get("Cache-Status"); strings.Contains(got, "hit") {
		t.Errorf("large body was stored: %q", got)
	}
	sse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "data: 2\n\n")
	})
	h = c.Middleware(sse)
	w := do(h, "GET", "/events")
	if !w.Flushed || w.Body.String() != "data: 1\n\ndata: 2\n\n" {
		t.Errorf("flushing handler: flushed=%v body=%q", w.Flushed, w.Body)
	}
}

func TestClientDisconnectDoesNotPoison(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	o := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "partial")
		if r.Context().Err() == nil && ctx.Err() != nil {
			return
		}
		cancel()
		// The handler notices the client left and stops half way.
	})
	h := c.Middleware(o)
	r := httptest.NewRequest("GET", "/a", nil).WithContext(ctx)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got := do(h, "GET", "/a").Header().Get("Cache-Status"); strings.Contains(got, "hit") {
		t.Errorf("a cancelled response was stored: %q", got)
	}
}

func TestUnsafeMethodInvalidatesLocation(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}}
	mux := http.NewServeMux()
	mux.Handle("GET /", o)
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/items/7")
		w.WriteHeader(http.StatusCreated)
	})
	h := c.Middleware(mux)
	do(h, "GET", "/items/7")
	do(h, "GET", "/items")
	do(h, "POST", "/items")
	for _, p := range []string{"/items", "/items/7"} {
		if got := do(h, "GET", p).Header().Get("Cache-Status"); strings.Contains(got, "hit") {
			t.Errorf("%s after POST: %q, want a miss", p, got)
		}
	}
}

func TestOnlyIfCachedAndHead(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}}
	h := c.Middleware(o)
	if w := do(h, "GET", "/a", "Cache-Control", "only-if-cached"); w.Code != http.StatusGatewayTimeout {
		t.Errorf("only-if-cached miss: %d, want 504", w.Code)
	}
	do(h, "GET", "/a")
	w := do(h, "HEAD", "/a")
	if w.Header().Get("Cache-Status") != "perfengine; hit" || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %q, %d body bytes, Content-Length %q", w.Header().Get("Cache-Status"), w.Body.Len(), w.Header().Get("Content-Length"))
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{MaxBytes: -1}, "MaxBytes"},
		{Config{MaxEntryBytes: -1}, "MaxEntryBytes"},
		{Config{MinTTL: time.Hour, MaxTTL: time.Second}, "MinTTL"},
		{Config{Keep: -time.Second}, "Keep"},
	}
	for _, tc := range tests {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestInvalidateParent(t *testing.T) {
	tests := []struct {
		parent bool
		want   map[string]bool // path -> still a hit after PUT /items/7
	}{
		{true, map[string]bool{"/items/7": false, "/items?page=2": false, "/items/8": true, "/other": true}},
		{false, map[string]bool{"/items/7": false, "/items?page=2": true, "/items/8": true, "/other": true}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("parent=", tc.parent), func(t *testing.T) {
			c := newCache(t, newClock(), Config{InvalidateParent: tc.parent})
			o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}}
			mux := http.NewServeMux()
			mux.Handle("GET /", o)
			mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
			h := c.Middleware(mux)
			for p := range tc.want {
				do(h, "GET", p)
			}
			do(h, "PUT", "/items/7")
			for p, hit := range tc.want {
				got := do(h, "GET", p).Header().Get("Cache-Status") == "perfengine; hit"
				if got != hit {
					t.Errorf("GET %s after PUT /items/7: hit=%v, want %v", p, got, hit)
				}
			}
		})
	}
}

func TestAnonymousEntryNotServedToAuthenticated(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}, body: func(r *http.Request) string {
		if r.Header.Get("Authorization") != "" {
			return "personal"
		}
		return "anonymous"
	}}
	h := c.Middleware(o)
	do(h, "GET", "/a")
	if got := do(h, "GET", "/a", "Authorization", "Bearer x").Body.String(); got != "personal" {
		t.Errorf("authenticated request got %q from the anonymous entry", got)
	}
	if got := do(h, "GET", "/a").Header().Get("Cache-Status"); got != "perfengine; hit" {
		t.Errorf("anonymous request after: %q, want a hit", got)
	}
}

// Under memory pressure the cache gives up part of what it holds, and then
// refills up to its usual bound.
func TestShed(t *testing.T) {
	c := newCache(t, newClock(), Config{})
	c.SetRouteTTL("GET /a/{n}", time.Minute)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{n}", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 4096))
	})
	h := c.Middleware(mux)
	fill := func(from, to int) {
		for i := from; i < to; i++ {
			do(h, "GET", fmt.Sprintf("/a/%d", i))
		}
	}
	fill(0, 40)
	before := c.Stats()
	freed := c.Shed(0.5)
	half := c.Stats()
	if freed <= 0 || half.Bytes > before.Bytes*6/10 || half.Entries >= before.Entries {
		t.Errorf("Shed(0.5): freed %d; %d entries, %d bytes -> %d entries, %d bytes; want about half gone", freed, before.Entries, before.Bytes, half.Entries, half.Bytes)
	}
	fill(40, 80)
	if got := c.Stats().Entries; got < half.Entries+40 {
		t.Errorf("after shedding, %d entries for %d+40 stored: the bound did not come back", got, half.Entries)
	}
	if c.Shed(1); c.Stats().Entries != 0 {
		t.Errorf("Shed(1) left %d entries", c.Stats().Entries)
	}
}
