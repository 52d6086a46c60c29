// Package apiopt is perfengine's API optimizer: one net/http middleware that
// makes a JSON API cheaper to serve and keeps per-route statistics that tell
// the engine what else to do.
//
// A request passes, in order: the rate limiter (GCRA per client IP, header
// or route, in memory or in Redis; 429 with Retry-After and the IETF
// RateLimit headers), the cache's hit path (a fresh stored response, in the
// coding the client accepts, with Age and Cache-Status), the adaptive
// concurrency limiter (Gradient2; 503 before latency collapses), compression
// (brotli through go-brrr, gzip and zstd through klauspost's gzhttp, by
// q-value) and the cache's miss path (RFC 9111 shared-cache rules, ETags and
// 304s, Vary, coalesced misses, surrogate-key invalidation, background
// stale-while-revalidate). Per-route statistics follow ServeMux patterns,
// never raw URLs: HDR latency, throughput, status classes, bytes, hit ratio,
// and whether a route answers every caller the same. From those the
// optimizer proposes caching such routes and tuning their TTLs; TuneCache
// applies a proposal.
//
// Each layer stands alone too: packages cache, compress, ratelimit and
// batch.
//
// # Example
//
//	opt, err := apiopt.New(apiopt.Config{
//		Cache:     apiopt.CacheConfig{Routes: map[string]time.Duration{"GET /api/products": 30 * time.Second}},
//		RateLimit: apiopt.RateLimitConfig{Rate: 600, Period: time.Minute, Burst: 100},
//	}, apiopt.WithRegisterer(prometheus.DefaultRegisterer))
//	if err != nil {
//		return err
//	}
//	defer opt.Close()
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /api/products", listProducts)
//	http.ListenAndServe("127.0.0.1:8080", opt.Middleware(mux))
//
// Responses a handler marks private, that set cookies, or that answer a
// request with Authorization (unless public) are never stored, so one user's
// response never reaches another. A successful PUT, POST, PATCH or DELETE
// drops the cached target, its parent collection (any query) and the
// surrogate keys its response names.
package apiopt
