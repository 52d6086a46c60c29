package netopt

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// refreshEvery is how often a host's latency window is folded into its
// hedging delay and percentiles: often enough to follow a host that slows
// down, rarely enough that the merge (a few tens of µs) stays off the
// request path's budget.
const refreshEvery = 200 * time.Millisecond

// windowMax is the number of attempts after which a host's latency window
// starts again, so the hedging delay follows the recent past.
const windowMax = 4096

// host holds one host's budget, breaker and figures.
type host struct {
	name    string
	budget  *budget
	breaker *breaker
	lat     *metrics.LatencyRecorder // attempt latencies, losers censored

	requests, attempts, retries, hedges, hedgeWins atomic.Uint64
	failures, rejected, throttled                  atomic.Uint64
	conns, reused, decoded, coalesced              atomic.Uint64
	dnsNs, dnsN, connNs, connN                     atomic.Int64
	tlsNs, tlsN, ttfbNs, ttfbN                     atomic.Int64
	inflight, peak                                 atomic.Int64

	hedgeNs     atomic.Int64 // observed hedging delay; 0 until known
	nextRefresh atomic.Int64 // unix ns

	mu            sync.Mutex // guards window and the percentiles
	window        *metrics.Histogram
	p50, p95, p99 time.Duration
	samples       int64
}

func newHost(name string, t *Transport) *host {
	return &host{
		name:    name,
		budget:  newBudget(t.cfg.Retry.BudgetTokens, t.cfg.Retry.BudgetRatio),
		breaker: newBreaker(t.cfg.Breaker, t.now),
		lat:     metrics.NewLatencyRecorder(),
		window:  metrics.NewHistogram(),
	}
}

// host returns the figures of a host (host:port), creating them up to
// MaxHosts; later hosts share "other" so labels stay bounded.
func (t *Transport) host(name string) *host {
	t.hostsMu.RLock()
	h := t.hosts[name]
	t.hostsMu.RUnlock()
	if h != nil {
		return h
	}
	t.hostsMu.Lock()
	defer t.hostsMu.Unlock()
	if h = t.hosts[name]; h != nil {
		return h
	}
	if len(t.hosts) >= t.cfg.MaxHosts {
		return t.other
	}
	h = newHost(name, t)
	t.hosts[name] = h
	return h
}

// hedgeDelay is the fixed delay, or the host's observed quantile once
// enough attempts are known; zero means do not hedge.
func (t *Transport) hedgeDelay(h *host) time.Duration {
	if t.cfg.Hedge.Delay > 0 {
		return t.cfg.Hedge.Delay
	}
	h.refresh(t, false)
	return time.Duration(h.hedgeNs.Load())
}

// refresh folds the recorder into the window at most every refreshEvery
// (always when forced), by whichever caller gets the lock first.
func (h *host) refresh(t *Transport, force bool) {
	now := t.now().UnixNano()
	if !force && now < h.nextRefresh.Load() {
		return
	}
	if force {
		h.mu.Lock()
	} else if !h.mu.TryLock() {
		return
	}
	defer h.mu.Unlock()
	h.nextRefresh.Store(now + int64(refreshEvery))
	h.lat.MoveTo(h.window)
	n := h.window.Count()
	if n == 0 {
		return
	}
	h.p50, h.p95, h.p99 = h.window.Quantile(0.5), h.window.Quantile(0.95), h.window.Quantile(0.99)
	h.samples = n
	if n >= int64(t.cfg.Hedge.MinSamples) {
		h.hedgeNs.Store(int64(h.window.Quantile(t.cfg.Hedge.Quantile)))
	}
	if n >= windowMax {
		h.window.Reset()
	}
}

// attempt sends req once through the base, with timings, and decodes the
// body when the stack asked for compression.
func (t *Transport) attempt(ctx context.Context, req *http.Request, h *host, probe bool) (*http.Response, error) {
	h.attempts.Add(1)
	if in := h.inflight.Add(1); in > h.peak.Load() {
		h.peak.Store(in)
	}
	tr := &attemptTrace{h: h, t: t}
	start := t.now()
	tr.start = start
	out := req.WithContext(httptrace.WithClientTrace(ctx, tr.trace()))
	asked := false
	if !t.cfg.Compression.Disabled && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == "" && req.Method != http.MethodHead {
		out.Header = req.Header.Clone()
		if out.Header == nil {
			out.Header = http.Header{}
		}
		out.Header["Accept-Encoding"] = acceptEncoding
		asked = true
	}
	resp, err := t.roundTripper().RoundTrip(out)
	h.inflight.Add(-1)
	elapsed := t.now().Sub(start)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled, by the caller or as a hedging loser: says nothing
			// about the host.
			if probe {
				h.breaker.cancelProbe()
			}
			return nil, err
		}
		h.failures.Add(1)
		h.budget.spend()
		h.breaker.record(probe, err)
		return nil, err
	}
	h.lat.Record(elapsed)
	if t.statusR[resp.StatusCode] {
		h.failures.Add(1)
		h.budget.spend()
		h.breaker.record(probe, &StatusError{Host: h.name, StatusCode: resp.StatusCode})
	} else {
		h.budget.refill()
		h.breaker.record(probe, nil)
	}
	if asked && decode(resp) {
		h.decoded.Add(1)
	}
	return resp, nil
}

// attemptTrace times one attempt's connection phases. Dial callbacks may
// run on the transport's dialing goroutine, hence the atomics.
type attemptTrace struct {
	h                    *host
	t                    *Transport
	start                time.Time
	dns, connect, tlsStr atomic.Int64 // unix ns of the phase start
}

func (a *attemptTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { a.dns.Store(a.t.now().UnixNano()) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if s := a.dns.Load(); s != 0 && i.Err == nil {
				a.h.dnsNs.Add(a.t.now().UnixNano() - s)
				a.h.dnsN.Add(1)
			}
		},
		ConnectStart: func(string, string) { a.connect.CompareAndSwap(0, a.t.now().UnixNano()) },
		ConnectDone: func(_, _ string, err error) {
			if s := a.connect.Swap(0); s != 0 && err == nil {
				a.h.connNs.Add(a.t.now().UnixNano() - s)
				a.h.connN.Add(1)
			}
		},
		TLSHandshakeStart: func() { a.tlsStr.Store(a.t.now().UnixNano()) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if s := a.tlsStr.Load(); s != 0 && err == nil {
				a.h.tlsNs.Add(a.t.now().UnixNano() - s)
				a.h.tlsN.Add(1)
			}
		},
		GotConn: func(i httptrace.GotConnInfo) {
			a.h.conns.Add(1)
			if i.Reused {
				a.h.reused.Add(1)
			}
		},
		GotFirstResponseByte: func() {
			a.h.ttfbNs.Add(int64(a.t.now().Sub(a.start)))
			a.h.ttfbN.Add(1)
		},
	}
}
