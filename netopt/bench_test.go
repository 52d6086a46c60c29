package netopt

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the stack's cost per request against a plain client, over
// an in-memory RoundTripper (the stack alone) and over loopback. The cost
// of an armed hedge that does not fire is netopt-hedge-armed minus
// netopt-no-hedge, in cpu-ns/op:
//
//	go test -run '^$' -bench . -benchtime 200000x ./netopt
func BenchmarkOverhead(b *testing.B) {
	mem := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	stack, _ := NewTransport(mem, Config{})
	armed, _ := NewTransport(mem, Config{Hedge: HedgeConfig{Delay: time.Second}})
	unhedged, _ := NewTransport(mem, Config{Hedge: HedgeConfig{Disabled: true}})
	// The trace a request gets when the stack owns its pool: dials are
	// timed in the dialer, not through the request's trace.
	ownTrace, _ := NewTransport(mem, Config{})
	h := ownTrace.host("upstream.test:80")
	h.trace = h.newTrace(ownTrace, false)
	clients := []struct {
		name string
		c    *http.Client
	}{
		{"plain", &http.Client{Transport: mem}},
		{"netopt", stack.Client()},
		{"netopt-no-hedge", unhedged.Client()},
		{"netopt-own-pool-trace", ownTrace.Client()},
		{"netopt-hedge-armed", armed.Client()},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest(http.MethodGet, "http://upstream.test/item", nil)
			cpu := processCPU()
			for b.Loop() {
				resp, err := c.c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user and system CPU time: on a machine
// shared with other work, wall time per operation mostly measures the
// others, CPU time measures us (the garbage collector included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	pool := NewPooledTransport(PoolConfig{})
	defer pool.CloseIdleConnections()
	stack, _ := NewTransport(pool, Config{})
	noHedge, _ := NewTransport(pool, Config{Hedge: HedgeConfig{Disabled: true}})
	for _, c := range []struct {
		name string
		c    *http.Client
	}{{"plain", &http.Client{Transport: pool}}, {"netopt", stack.Client()}, {"netopt-no-hedge", noHedge.Client()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.c.Get(srv.URL)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
