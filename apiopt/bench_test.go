package apiopt

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// Run: go test -run='^$' -bench=. -benchtime=1s ./apiopt/

// nopWriter is a ResponseWriter that keeps its header map between requests,
// as a server's pooled response does, so the benchmark measures the
// middleware and not map growth in a recorder.
type nopWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }
func (w *nopWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

var productsJSON = "[" + strings.Repeat(`{"id":1,"name":"Widget","price":12.5,"category":"tools"},`, 100) + `{"id":2}]`

func productsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, productsJSON)
	})
	return mux
}

// BenchmarkHit is one cache hit through the whole stack: rate limit
// (memory GCRA, RateLimit headers), cache lookup, coding negotiation (br
// served from the stored variant) and per-route statistics.
func BenchmarkHit(b *testing.B) {
	o, err := New(Config{
		Cache:     CacheConfig{Routes: map[string]time.Duration{"GET /api/products": time.Hour}},
		RateLimit: RateLimitConfig{Rate: 1 << 30, Period: time.Second, Burst: 1 << 20},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	h := o.Middleware(productsHandler())
	r := httptest.NewRequest("GET", "/api/products", nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	h.ServeHTTP(w, r)
	if w.h.Get("Cache-Status") != "perfengine; hit" || w.h.Get("Content-Encoding") != "br" {
		b.Fatalf("not a br hit: %v", w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

func BenchmarkHitParallel(b *testing.B) {
	o, _ := New(Config{
		Cache:     CacheConfig{Routes: map[string]time.Duration{"GET /api/products": time.Hour}},
		RateLimit: RateLimitConfig{Rate: 1 << 30, Period: time.Second, Burst: 1 << 20},
	})
	defer o.Close()
	h := o.Middleware(productsHandler())
	warm := httptest.NewRequest("GET", "/api/products", nil)
	h.ServeHTTP(&nopWriter{h: http.Header{}}, warm)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkCompress compares our compression middleware with plain gzhttp
// on the same uncached 5.6 KB JSON response, per coding.
func BenchmarkCompress(b *testing.B) {
	c, err := compress.New(compress.Config{})
	if err != nil {
		b.Fatal(err)
	}
	plain, _ := gzhttp.NewWrapper(gzhttp.CompressionLevel(compress.DefaultGzipLevel), gzhttp.ZstdCompressionLevel(compress.DefaultZstdLevel))
	next := productsHandler()
	for _, enc := range []string{"gzip", "zstd", "br"} {
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"apiopt", c.Middleware(next)}, {"gzhttp", plain(next)}} {
			if enc == "br" && impl.name == "gzhttp" {
				continue // gzhttp has no brotli
			}
			b.Run(enc+"/"+impl.name, func(b *testing.B) {
				r := httptest.NewRequest("GET", "/api/products", nil)
				r.Header.Set("Accept-Encoding", enc)
				w := &nopWriter{h: http.Header{}}
				impl.h.ServeHTTP(w, r)
				if got := w.h.Get("Content-Encoding"); got != enc {
					b.Fatalf("Content-Encoding %q", got)
				}
				b.SetBytes(int64(len(productsJSON)))
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					impl.h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// metricsOptimizer has served five routes, as the engine's loop finds it
// each interval.
func metricsOptimizer(tb testing.TB, opts ...Option) *Optimizer {
	o, err := New(Config{}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { o.Close() })
	mux := http.NewServeMux()
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		mux.HandleFunc("GET "+p+"/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	}
	h := o.Middleware(mux)
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e"} {
		h.ServeHTTP(&nopWriter{h: http.Header{}}, httptest.NewRequest("GET", p, nil))
	}
	return o
}

// BenchmarkMetrics is one interval's figures over five routes.
func BenchmarkMetrics(b *testing.B) {
	o := metricsOptimizer(b)
	b.ReportAllocs()
	for b.Loop() {
		o.Metrics(b.Context())
	}
}
