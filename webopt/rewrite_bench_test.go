package webopt

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/apiopt"
)

// benchPage is about 100 KB of a product listing: a head with styles,
// scripts and an inline @font-face, then cards with local and remote
// images, lazy candidates, text and links: what the filters act on, at a
// realistic density.
var benchPage = func() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="/css/site.css"><script src="https://cdn.example.com/lib.js"></script>
<style>@font-face{font-family:Go;src:url(/fonts/go.woff) format("woff")}body{font:16px/1.4 Go,sans-serif}</style>
</head><body><header><img src="/img/logo.svg" alt="Shop"></header><main><h1>Offers</h1>
<img src="/img/hero.jpg" alt="Hero" class="hero">`)
	imgs := []string{"/img/thumb.png", "/img/photo.webp", "https://images.example.net/x.jpg", "/img/icon.gif"}
	for i := 0; b.Len() < 100<<10; i++ {
		fmt.Fprintf(&b, `<article class="card" id="p%d"><a href="/p/%d"><img src="%s" alt="Product %d"></a>
<h2>Product %d &amp; friends</h2><p>Hand-made, shipped in two days. Reviews: %d. <em>Only a few left.</em></p>
<button type="button" data-sku="%d">Add to cart</button></article>
`, i, i, imgs[i%len(imgs)], i, i, i*7%500, i)
	}
	b.WriteString(`</main><script src="/js/app.js"></script></body></html>`)
	return b.String()
}()

func pageHandler(page string) http.Handler {
	// Written in 4 KB pieces, as templates and proxies do.
	var chunks [][]byte
	for s := page; s != ""; {
		n := min(len(s), 4<<10)
		chunks = append(chunks, []byte(s[:n]))
		s = s[n:]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for _, c := range chunks {
			w.Write(c)
		}
	})
}

// discard is a ResponseWriter that keeps only the status and a byte
// count, so a benchmark measures the middleware, not a recorder's buffer.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discard) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(b)
	return len(b), nil
}

// serveBench runs h once per iteration and reports p99 per request next
// to ns/op, since the bound is on the tail.
func serveBench(b *testing.B, h http.Handler, hdr ...string) {
	req := httptest.NewRequest("GET", "http://shop.example/", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	b.SetBytes(int64(len(benchPage)))
	b.ReportAllocs()
	took := make([]time.Duration, 0, b.N)
	for b.Loop() {
		w := &discard{h: http.Header{}}
		start := time.Now()
		h.ServeHTTP(w, req)
		took = append(took, time.Since(start))
		if w.code != http.StatusOK || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.code, w.n)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRewrite is the rewriter alone over ~100 KB with every filter
// on; the reported MB/s is the throughput.
func BenchmarkRewrite(b *testing.B) {
	o := newOpt(b, Options{Lazy: LazyOptions{Enabled: true}, Scripts: ScriptOptions{Defer: true}})
	serveBench(b, o.Middleware(pageHandler(benchPage)))
}

// BenchmarkStack compares apiopt's compression alone with the rewriter
// inside it, in one run, so the ratio is the rewriter's cost in a real
// middleware stack.
func BenchmarkStack(b *testing.B) {
	api, err := apiopt.New(apiopt.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	o := newOpt(b, Options{Lazy: LazyOptions{Enabled: true}})
	b.Run("compress", func(b *testing.B) {
		serveBench(b, api.Middleware(pageHandler(benchPage)), "Accept-Encoding", "gzip")
	})
	b.Run("rewrite+compress", func(b *testing.B) {
		serveBench(b, api.Middleware(o.Middleware(pageHandler(benchPage))), "Accept-Encoding", "gzip")
	})
}
