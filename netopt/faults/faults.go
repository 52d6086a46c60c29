// Package faults is an HTTP handler that injects the failures a client
// stack has to survive: connection resets, 503 with Retry-After, and a slow
// tail. It serves netopt's tests and measurements over loopback.
//
//	srv := httptest.NewServer(faults.New(faults.Config{ResetRatio: 0.1, SlowRatio: 0.05, SlowDelay: 200 * time.Millisecond}, nil))
//	defer srv.Close()
package faults

import (
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which fraction of requests gets which fault. The ratios are
// drawn independently per request from a seeded generator, so a run is
// repeatable; their sum must not exceed 1.
type Config struct {
	ResetRatio       float64       // the connection is reset (RST) instead of answered
	UnavailableRatio float64       // 503 with Retry-After
	RetryAfter       string        // its value; default "1"
	SlowRatio        float64       // answered after SlowDelay
	SlowDelay        time.Duration //
	Seed             uint64        //
}

// Counts are what the handler did.
type Counts struct {
	Requests, Resets, Unavailable, Slow, Cancelled uint64
}

// Handler injects faults before calling the next handler (nil: a 200 with
// a short body). It is safe for concurrent use.
type Handler struct {
	cfg  Config
	next http.Handler

	mu  sync.Mutex
	rng *rand.Rand

	requests, resets, unavailable, slow, cancelled atomic.Uint64
}

// New returns a Handler.
func New(cfg Config, next http.Handler) *Handler {
	if cfg.RetryAfter == "" {
		cfg.RetryAfter = "1"
	}
	if next == nil {
		next = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
		})
	}
	return &Handler{cfg: cfg, next: next, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))}
}

// Counts returns what the handler did so far.
func (h *Handler) Counts() Counts {
	return Counts{h.requests.Load(), h.resets.Load(), h.unavailable.Load(), h.slow.Load(), h.cancelled.Load()}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	h.mu.Lock()
	x := h.rng.Float64()
	h.mu.Unlock()
	c := h.cfg
	switch {
	case x < c.ResetRatio:
		h.resets.Add(1)
		reset(w)
		return
	case x < c.ResetRatio+c.UnavailableRatio:
		h.unavailable.Add(1)
		w.Header().Set("Retry-After", c.RetryAfter)
		http.Error(w, "injected 503", http.StatusServiceUnavailable)
		return
	case x < c.ResetRatio+c.UnavailableRatio+c.SlowRatio:
		h.slow.Add(1)
		t := time.NewTimer(c.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			h.cancelled.Add(1)
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// reset closes the connection with SO_LINGER 0, which sends a RST: the
// client sees "connection reset by peer" rather than a clean EOF.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
