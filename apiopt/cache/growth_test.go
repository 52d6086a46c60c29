package cache

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"testing"
)

// Growth of the cache with its size (issue 17): the hit path and the bytes
// each entry holds at 10k, 100k and 1M entries over 100 and 10k distinct
// routes (BenchmarkCacheGrowth), and tag invalidation of 10, 1000 and 100k
// entries (BenchmarkCacheGrowthInvalidate). The 1M runs hold about 1.5 GB;
// -short skips them:
//
//	go test -run '^$' -bench 'CacheGrowth$' -benchmem -benchtime 200000x ./apiopt/cache
//	go test -run '^$' -bench CacheGrowthInvalidate -benchmem -benchtime 20x ./apiopt/cache
func BenchmarkCacheGrowth(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if testingShort() {
		sizes = sizes[:2]
	}
	for _, routes := range []int{100, 10_000} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("hit/routes=%d/entries=%d", routes, n), func(b *testing.B) {
				var c *Cache
				var h http.Handler
				bytesPer := heapGrowth(func() {
					c, h = filledCache(b, n, routes, 0)
				}) / float64(n)
				reqs := make([]*http.Request, 4096)
				rng := rand.New(rand.NewPCG(uint64(n), uint64(routes)))
				for i := range reqs {
					reqs[i] = growthRequest(rng.IntN(n), routes)
				}
				w := &growthWriter{h: http.Header{}}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, reqs[i%len(reqs)])
					i++
				}
				b.StopTimer()
				if st := c.Stats(); st.Hits < uint64(b.N) {
					b.Fatalf("%d hits for %d requests: the benchmark missed", st.Hits, b.N)
				}
				b.ReportMetric(bytesPer, "B/entry")
				c.Close()
			})
		}
	}
}

func BenchmarkCacheGrowthInvalidate(b *testing.B) {
	for _, group := range []int{10, 1000, 100_000} {
		b.Run(fmt.Sprintf("invalidate/entries=%d", group), func(b *testing.B) {
			// Tags group the entries of a 200k-entry cache by `group`;
			// each iteration drops one whole tag, then refills it untimed.
			const total = 200_000
			c, h := filledCache(b, total, 100, group)
			w := &growthWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tag := "g" + strconv.Itoa(i%(total/group))
				if got := c.Invalidate(tag); got != group {
					b.Fatalf("Invalidate(%q) = %d, want %d", tag, got, group)
				}
				b.StopTimer()
				first := (i % (total / group)) * group
				for k := first; k < first+group; k++ {
					clear(w.h)
					h.ServeHTTP(w, growthRequestTagged(k, 100, group))
				}
				// The refill's pending maintenance is not the next
				// Invalidate's cost.
				c.store.CleanUp()
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(group), "ns/entry")
			c.Close()
		})
	}
}

func testingShort() bool { return testing.Short() }

// filledCache stores n entries over routes routes, each tagged with its
// group of tagGroup entries when tagGroup > 0.
func filledCache(b *testing.B, n, routes, tagGroup int) (*Cache, http.Handler) {
	b.Helper()
	c, err := New(Config{
		MaxBytes: 8 << 30,                                            // nothing evicted: the size is the point
		RouteOf:  func(r *http.Request) string { return r.URL.Path }, // "/r7/items"
	})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"id":0,"name":"item","price":12.5,"tags":["a","b"]}`)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if g := r.Header.Get("X-Group"); g != "" {
			w.Header().Set("Surrogate-Key", g)
		}
		w.Write(body)
	})
	h := c.Middleware(origin)
	w := &growthWriter{h: http.Header{}}
	for i := range n {
		clear(w.h)
		h.ServeHTTP(w, growthRequestTagged(i, routes, tagGroup))
	}
	if st := c.Stats(); st.Stores < uint64(n) {
		b.Fatalf("%d stores for %d entries", st.Stores, n)
	}
	c.store.CleanUp()
	return c, h
}

func growthRequest(i, routes int) *http.Request { return growthRequestTagged(i, routes, 0) }

func growthRequestTagged(i, routes, tagGroup int) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://api.test/r"+strconv.Itoa(i%routes)+"/items?id="+strconv.Itoa(i), nil)
	if tagGroup > 0 {
		r.Header.Set("X-Group", "g"+strconv.Itoa(i/tagGroup))
	}
	return r
}

// growthWriter is a ResponseWriter that keeps nothing but its header map,
// reused across requests.
type growthWriter struct{ h http.Header }

func (w *growthWriter) Header() http.Header         { return w.h }
func (w *growthWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *growthWriter) WriteHeader(int)             {}

// heapGrowth is the live heap fill leaves behind, in bytes.
func heapGrowth(fill func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}
