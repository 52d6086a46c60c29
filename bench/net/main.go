// Command netbench measures netopt against a plain http.Client over
// loopback servers that inject faults, all in one run:
//
//   - tail: 5 % of responses 200 ms late; p99 of each client and the extra
//     requests hedging cost (counted by the server);
//
//   - failures: 10 % connection resets and 10 % 503 with Retry-After: 1;
//     the success ratio of idempotent GETs and the attempts per request;
//
//   - overhead: the stack's cost per request over an in-memory
//     RoundTripper, as Go benchmarks of both clients.
//
//     go run ./bench/net            # text
//     go run ./bench/net -json      # machine-readable
//
// Every server listens on 127.0.0.1; nothing leaves the machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/netopt"
	"github.com/perfengine/perfengine/netopt/faults"
)

type clientRun struct {
	Client      string  `json:"client"`
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	SuccessRate float64 `json:"success_ratio"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	ServerSeen  uint64  `json:"server_requests"`
	ExtraRatio  float64 `json:"extra_requests_ratio"` // server requests / requests - 1
	Hedges      uint64  `json:"hedges,omitempty"`
	Retries     uint64  `json:"retries,omitempty"`
	Throttled   uint64  `json:"throttled,omitempty"`
	Rejected    uint64  `json:"breaker_rejected,omitempty"`
	MinTokens   float64 `json:"budget_tokens_left,omitempty"`
	HedgeMs     float64 `json:"hedge_delay_ms,omitempty"` // at the end of the run
	Seconds     float64 `json:"seconds"`
}

type overhead struct {
	PlainNs, StackNs         float64 // wall time
	PlainCPUNs, StackCPUNs   float64 // process CPU time, GC included
	PlainB, StackB           int64
	PlainAllocs, StackAllocs int64
	DeltaNs                  float64
}

type report struct {
	Tail        [2]clientRun `json:"tail"`
	TailRatio   float64      `json:"p99_ratio_plain_over_netopt"`
	Failures    [2]clientRun `json:"failures"`
	Outage      [3]clientRun `json:"outage"`
	Overhead    overhead     `json:"overhead"`
	Concurrency int          `json:"max_in_flight"`
	Rate        int          `json:"rate"`
}

func main() {
	n := flag.Int("n", 4000, "requests per client and scenario")
	c := flag.Int("c", 64, "most requests in flight")
	rate := flag.Int("rate", 500, "requests per second (open model)")
	asJSON := flag.Bool("json", false, "print JSON")
	flag.Parse()
	if *n < 100 || *c < 1 || *rate < 1 || *rate > 100000 {
		fmt.Fprintln(os.Stderr, "netbench: -n must be at least 100, -c at least 1 and -rate in 1..100000")
		os.Exit(2)
	}
	r := report{Concurrency: *c, Rate: *rate}
	fmt.Fprintln(os.Stderr, "netbench: tail scenario")
	tail := faults.Config{SlowRatio: 0.05, SlowDelay: 200 * time.Millisecond, Seed: 1}
	r.Tail[0] = measure("plain", tail, *n, *c, *rate, nil)
	r.Tail[1] = measure("netopt", tail, *n, *c, *rate, &netopt.Config{})
	if r.Tail[1].P99Ms > 0 {
		r.TailRatio = r.Tail[0].P99Ms / r.Tail[1].P99Ms
	}
	fmt.Fprintln(os.Stderr, "netbench: failure scenario")
	fail := faults.Config{ResetRatio: 0.1, UnavailableRatio: 0.1, RetryAfter: "1", Seed: 2}
	nf := max(*n/2, 100)
	r.Failures[0] = measure("plain", fail, nf, *c*4, *rate, nil)
	r.Failures[1] = measure("netopt", fail, nf, *c*4, *rate, &netopt.Config{})
	fmt.Fprintln(os.Stderr, "netbench: outage scenario")
	down := faults.Config{UnavailableRatio: 1, RetryAfter: "0", Seed: 3}
	no := max(*n/4, 100)
	r.Outage[0] = measureWarm("plain", down, no, *c, *rate, 0, nil)
	r.Outage[1] = measureWarm("netopt", down, no, *c, *rate, 0, &netopt.Config{})
	nb := netopt.Config{Breaker: netopt.BreakerConfig{Disabled: true}}
	r.Outage[2] = measureWarm("netopt-no-breaker", down, no, *c, *rate, 0, &nb)
	fmt.Fprintln(os.Stderr, "netbench: overhead benchmarks")
	r.Overhead = measureOverhead()
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		_ = e.Encode(r)
		return
	}
	printReport(r)
}

// measure sends n GETs from c workers to a fresh faulty server, through
// either a plain client (same pool size) or the netopt stack. A warm-up of
// 200 requests, not measured, fills the pool and the host's latency window.
func measure(name string, fc faults.Config, n, c, rate int, cfg *netopt.Config) clientRun {
	return measureWarm(name, fc, n, c, rate, 200, cfg)
}

// measureWarm is measure with warm requests first (0: none, for a
// scenario whose start is the point).
func measureWarm(name string, fc faults.Config, n, c, rate, warm int, cfg *netopt.Config) clientRun {
	h := faults.New(fc, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	pool := netopt.NewPooledTransport(netopt.PoolConfig{MaxConnections: 4 * c, MaxIdleConnections: 4 * c})
	defer pool.CloseIdleConnections()
	var client *http.Client
	var tr *netopt.Transport
	if cfg == nil {
		client = &http.Client{Transport: pool}
	} else {
		var err error
		if tr, err = netopt.NewTransport(pool, *cfg); err != nil {
			panic(err)
		}
		client = tr.Client()
	}
	get := func() (time.Duration, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/item", nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(start), false
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), err == nil && resp.StatusCode == http.StatusOK
	}
	// run is an open model: requests start at a constant rate whatever the
	// answers, so both clients put the same load on the two shared cores,
	// and a slow answer cannot hold back the next request (no coordinated
	// omission). At most c requests are in flight; a tick that finds them
	// all busy waits for one.
	run := func(total int, hist *metrics.Histogram) (ok int) {
		var good atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		slots := make(chan struct{}, c)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for range total {
			<-tick.C
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				d, success := get()
				mu.Lock()
				hist.Record(d)
				mu.Unlock()
				if success {
					good.Add(1)
				}
			})
		}
		wg.Wait()
		return int(good.Load())
	}
	if warm > 0 {
		run(warm, metrics.NewHistogram())
	}
	before := h.Counts().Requests
	var m0 netopt.HostMetrics
	if tr != nil && warm > 0 {
		m0 = tr.Metrics(context.Background()).Hosts[0]
	}
	hist := metrics.NewHistogram()
	start := time.Now()
	ok := run(n, hist)
	out := clientRun{
		Client: name, Requests: n, OK: ok, SuccessRate: float64(ok) / float64(n),
		P50Ms: ms(hist.Quantile(0.5)), P90Ms: ms(hist.Quantile(0.9)), P95Ms: ms(hist.Quantile(0.95)), P99Ms: ms(hist.Quantile(0.99)), MaxMs: ms(hist.Max()),
		ServerSeen: h.Counts().Requests - before, Seconds: time.Since(start).Seconds(),
	}
	out.ExtraRatio = float64(out.ServerSeen)/float64(n) - 1
	if tr != nil {
		m := tr.Metrics(context.Background()).Hosts[0]
		out.Hedges, out.Retries, out.Throttled = m.Hedges-m0.Hedges, m.Retries-m0.Retries, m.Throttled-m0.Throttled
		out.Rejected = m.Rejected - m0.Rejected
		out.MinTokens = m.BudgetTokens
		out.HedgeMs = ms(m.HedgeDelay)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memRT answers at once from memory, so the benchmarks time the clients
// and not the network.
type memRT struct{}

func (memRT) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

func measureOverhead() overhead {
	bench := func(c *http.Client) (testing.BenchmarkResult, float64) {
		var cpuNs float64
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest(http.MethodGet, "http://upstream.test/item", nil)
			cpu := processCPU()
			for b.Loop() {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			cpuNs = float64(processCPU()-cpu) / float64(b.N)
		})
		return r, cpuNs
	}
	tr, err := netopt.NewTransport(memRT{}, netopt.Config{})
	if err != nil {
		panic(err)
	}
	p, pc := bench(&http.Client{Transport: memRT{}})
	s, sc := bench(tr.Client())
	return overhead{
		PlainNs: float64(p.NsPerOp()), StackNs: float64(s.NsPerOp()),
		PlainCPUNs: pc, StackCPUNs: sc,
		PlainB: p.AllocedBytesPerOp(), StackB: s.AllocedBytesPerOp(),
		PlainAllocs: p.AllocsPerOp(), StackAllocs: s.AllocsPerOp(),
		DeltaNs: float64(s.NsPerOp() - p.NsPerOp()),
	}
}

// processCPU is the process's user and system CPU time. On a machine
// shared with other work, wall time per operation mostly measures the
// others; CPU time measures the client.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func printReport(r report) {
	var b strings.Builder
	row := func(cr clientRun) {
		fmt.Fprintf(&b, "  %-7s n=%d ok=%.4f p50=%.2fms p90=%.2fms p95=%.2fms p99=%.2fms max=%.1fms server_requests=%d extra=%.2f%% hedges=%d (delay %.2fms) retries=%d throttled=%d rejected=%d tokens_left=%.1f (%.1fs)\n",
			cr.Client, cr.Requests, cr.SuccessRate, cr.P50Ms, cr.P90Ms, cr.P95Ms, cr.P99Ms, cr.MaxMs, cr.ServerSeen, 100*cr.ExtraRatio, cr.Hedges, cr.HedgeMs, cr.Retries, cr.Throttled, cr.Rejected, cr.MinTokens, cr.Seconds)
	}
	fmt.Fprintf(&b, "tail (5%% of responses 200ms late), %d req/s, at most %d in flight:\n", r.Rate, r.Concurrency)
	row(r.Tail[0])
	row(r.Tail[1])
	fmt.Fprintf(&b, "  p99 plain/netopt = %.1fx\n", r.TailRatio)
	fmt.Fprintf(&b, "failures (10%% resets, 10%% 503 Retry-After: 1), %d req/s, at most %d in flight:\n", r.Rate, 4*r.Concurrency)
	row(r.Failures[0])
	row(r.Failures[1])
	fmt.Fprintf(&b, "outage (every answer 503, Retry-After: 0), %d req/s, from the first request:\n", r.Rate)
	row(r.Outage[0])
	row(r.Outage[1])
	row(r.Outage[2])
	o := r.Overhead
	fmt.Fprintf(&b, "overhead over an in-memory RoundTripper:\n  plain  %.0f ns/op (cpu %.0f ns/op) %d B/op %d allocs/op\n  netopt %.0f ns/op (cpu %.0f ns/op) %d B/op %d allocs/op\n  stack cost %.0f ns/request wall, %.0f ns/request cpu\n",
		o.PlainNs, o.PlainCPUNs, o.PlainB, o.PlainAllocs, o.StackNs, o.StackCPUNs, o.StackB, o.StackAllocs, o.DeltaNs, o.StackCPUNs-o.PlainCPUNs)
	fmt.Print(b.String())
}
