// Package ratelimit limits request rates and concurrency.
//
// Memory and Redis implement GCRA (the generic cell rate algorithm): one
// timestamp per key, a burst and a sustained rate, exact under concurrency.
// Memory decides in well under a microsecond without a lock; Redis shares
// the budget between instances with one Lua script per batch of concurrent
// decisions and falls back to a local limiter (counted) when Redis is down.
// Middleware answers 429 with Retry-After and the IETF RateLimit-Policy and
// RateLimit fields. Adaptive is a Gradient2 concurrency limiter after
// Netflix's concurrency-limits: it learns how many requests the service can
// hold before latency rises, and sheds the rest with 503.
//
//	lim, err := ratelimit.NewMemory(ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 20})
//	if err != nil {
//		return err
//	}
//	h := ratelimit.Middleware(lim, lim.Limit(), ratelimit.ClientIP(), "default", nil)(mux)
package ratelimit
