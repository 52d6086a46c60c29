// Package netopt is the Network Optimizer: a tuned, resilient HTTP client
// stack for a service's outbound calls.
//
// Go's default transport keeps two idle connections per host, retries
// almost nothing, and waits as long as the slowest server. netopt puts an
// http.RoundTripper stack over a transport pooled for concurrency (50
// connections and 10 idle per host by default, 30 s idle timeout, 5 s
// connect timeout, keep-alive). A request goes through, from the outside
// in: coalescing of identical GETs in flight (each caller gets its own
// copy of the body); the host's circuit breaker (closed, open, half-open,
// on a failure ratio; its error wraps the failure that opened it); retries
// of idempotent requests only (by method, Idempotency-Key, AllowRetry; and
// only with a body that GetBody can replay) on connection errors and 429,
// 502, 503 and 504, with full-jitter exponential backoff, Retry-After and
// the context's deadline honoured, under gRPC's retry token budget so that
// retries never multiply an outage; hedging, a second copy of a request
// still unanswered after the host's hedging delay (the lower of its observed
// p95 and four times its median, never below its p85, so that a slow tail
// as large as 5 % cannot hide the delay inside itself), the first answer
// winning and the other cancelled, under the same budget; Accept-Encoding zstd, br
// and gzip with transparent decoding; and per-host httptrace timings (DNS,
// connect, TLS, time to first byte, connection reuse) that Metrics reports
// and Recommendations reads (a pool too small, a slow host, an open
// circuit). A Batcher gathers single-key loads into batch calls, in the
// manner of DataLoader.
//
// # Example
//
//	client := netopt.MustNewClient(netopt.Config{}) // defaults: retries, hedging, breakers, compression
//	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
//	defer cancel()
//	req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.example.com/items/1", nil)
//	resp, err := client.Do(req) // retried, hedged, decoded as needed
//	...
//	for _, h := range client.Transport.(*netopt.Transport).Metrics(ctx).Hosts {
//		fmt.Println(h.Host, h.P95, h.TTFB, h.ReuseRatio, h.Retries, h.Hedges)
//	}
//
// NewTransport puts the same stack over any RoundTripper of yours.
package netopt
