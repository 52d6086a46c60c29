package netopt

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"net/url"
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
	dns, connect, tls                              phases
	ttfbNs, ttfbN                                  atomic.Int64
	trace                                          *httptrace.ClientTrace
	inflight, peak                                 atomic.Int64

	hedgeNs     atomic.Int64 // observed hedging delay; 0 until known
	nextRefresh atomic.Int64 // unix ns

	mu            sync.Mutex // guards window and the percentiles
	window        *metrics.Histogram
	p50, p95, p99 time.Duration
	samples       int64
}

// hostDigits is the precision of per-host latency histograms: a hedging
// delay within 1 % of the quantile is as good as an exact one, and at 2
// digits a histogram takes ~27 KB where 3 take ~190 KB, per host.
const hostDigits = 2

func newHost(name string, t *Transport) *host {
	h := &host{
		name:    name,
		budget:  newBudget(t.cfg.Retry.BudgetTokens, t.cfg.Retry.BudgetRatio),
		breaker: newBreaker(t.cfg.Breaker, t.now),
		lat:     metrics.NewLatencyRecorderDigits(hostDigits),
		window:  metrics.NewHistogramDigits(hostDigits),
	}
	h.trace = h.newTrace(t, t.base != nil)
	return h
}

// hostFor returns the figures of the URL's host. URLs without a port are
// looked up under their host as written first, so the common case costs a
// map lookup and no string building.
func (t *Transport) hostFor(u *url.URL) *host {
	t.hostsMu.RLock()
	h := t.alias[u.Host]
	t.hostsMu.RUnlock()
	if h != nil {
		return h
	}
	key := hostKey(u)
	h = t.host(key)
	if key != u.Host && h != t.other {
		t.hostsMu.Lock()
		t.alias[u.Host] = h
		t.hostsMu.Unlock()
	}
	return h
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
	t.alias[name] = h
	return h
}

// hedgeDelay is the fixed delay, or the host's observed delay (see
// HedgeConfig.delayFrom) once enough attempts are known; zero means do not
// hedge.
func (t *Transport) hedgeDelay(h *host) time.Duration {
	if t.cfg.Hedge.Delay > 0 {
		return t.cfg.Hedge.Delay
	}
	h.refresh(t, false)
	d := time.Duration(h.hedgeNs.Load())
	if d == 0 {
		return 0
	}
	// A fast host is hedged at MinDelay rather than not at all: its slow
	// tail may still be hundreds of milliseconds long, and a later hedge
	// is fewer hedges.
	return max(d, t.cfg.Hedge.MinDelay)
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
	// Until the delay is known, look again sooner: a fast host reaches
	// MinSamples in milliseconds and should not go unhedged for a whole
	// refreshEvery.
	next := refreshEvery
	if h.hedgeNs.Load() == 0 {
		next = refreshEvery / 20
	}
	h.nextRefresh.Store(now + int64(next))
	h.lat.MoveTo(h.window)
	n := h.window.Count()
	if n == 0 {
		return
	}
	h.p50, h.p95, h.p99 = h.window.Quantile(0.5), h.window.Quantile(0.95), h.window.Quantile(0.99)
	h.samples = n
	if n >= int64(t.cfg.Hedge.MinSamples) {
		h.hedgeNs.Store(int64(t.cfg.Hedge.delayFrom(h.window)))
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
	start := t.now()
	out := req.WithContext(h.withTrace(ctx))
	asked := false
	if !t.cfg.Compression.Disabled && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == "" && req.Method != http.MethodHead {
		// A shallow copy: one key is added and no value is changed, so the
		// caller's slices can be shared (a deep Clone costs an allocation
		// per header).
		hdr := make(http.Header, len(req.Header)+1)
		for k, v := range req.Header {
			hdr[k] = v
		}
		hdr["Accept-Encoding"] = acceptEncoding
		out.Header = hdr
		asked = true
	}
	resp, err := t.roundTripper().RoundTrip(out)
	h.inflight.Add(-1)
	end := t.now()
	elapsed := end.Sub(start)
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
		h.breaker.record(probe, err, end)
		return nil, err
	}
	h.lat.Record(elapsed)
	h.ttfbNs.Add(int64(elapsed))
	h.ttfbN.Add(1)
	if t.statusR[resp.StatusCode] {
		h.failures.Add(1)
		h.budget.spend()
		h.breaker.record(probe, &StatusError{Host: h.name, StatusCode: resp.StatusCode}, end)
	} else {
		h.budget.refill()
		h.breaker.record(probe, nil, end)
	}
	if asked && decode(resp) {
		h.decoded.Add(1)
	}
	return resp, nil
}

// phases pairs the starts and ends of one connection phase (DNS, connect,
// TLS) of a host. The hooks of a dial run on the transport's dialing
// goroutine, outside the request's, and several dials to one host may
// overlap: each end is paired with the oldest open start, which is exact
// for dials that do not overlap and close for those that do. Phases happen
// once per new connection, so the mutex stays off the path of reused ones.
type phases struct {
	mu     sync.Mutex
	starts []int64
	sum, n atomic.Int64
}

func (p *phases) start(now int64) {
	p.mu.Lock()
	if len(p.starts) < 64 {
		p.starts = append(p.starts, now)
	}
	p.mu.Unlock()
}

func (p *phases) done(now int64, ok bool) {
	p.mu.Lock()
	var s int64
	if len(p.starts) > 0 {
		s = p.starts[0]
		p.starts = p.starts[1:]
	}
	p.mu.Unlock()
	if s != 0 && ok {
		p.sum.Add(now - s)
		p.n.Add(1)
	}
}

func (p *phases) mean() time.Duration { return mean(p.sum.Load(), p.n.Load()) }

// newTrace builds the host's hooks once: one shared ClientTrace costs a
// request one context value instead of a dozen closures. The DNS and
// connect hooks go into the dial's context instead (see dialContext) when
// the stack owns the transport, because any of them in a request's trace
// makes net/http allocate a net-level trace for every request.
func (h *host) newTrace(t *Transport, dialHooks bool) *httptrace.ClientTrace {
	now := func() int64 { return t.now().UnixNano() }
	tr := &httptrace.ClientTrace{
		TLSHandshakeStart: func() { h.tls.start(now()) },
		TLSHandshakeDone:  func(_ tls.ConnectionState, err error) { h.tls.done(now(), err == nil) },
		GotConn: func(i httptrace.GotConnInfo) {
			h.conns.Add(1)
			if i.Reused {
				h.reused.Add(1)
			}
		},
	}
	if dialHooks {
		tr.DNSStart = func(httptrace.DNSStartInfo) { h.dns.start(now()) }
		tr.DNSDone = func(i httptrace.DNSDoneInfo) { h.dns.done(now(), i.Err == nil) }
		tr.ConnectStart = func(string, string) { h.connect.start(now()) }
		tr.ConnectDone = func(_, _ string, err error) { h.connect.done(now(), err == nil) }
	}
	return tr
}

// dialTrace times one dial of the owned transport: its DNS lookup and TCP
// connect, exactly, since the hooks belong to this dial alone.
func (h *host) dialTrace(t *Transport) *httptrace.ClientTrace {
	var dnsStart, connStart atomic.Int64
	now := func() int64 { return t.now().UnixNano() }
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { dnsStart.Store(now()) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if s := dnsStart.Load(); s != 0 && i.Err == nil {
				h.dns.sum.Add(now() - s)
				h.dns.n.Add(1)
			}
		},
		ConnectStart: func(string, string) { connStart.CompareAndSwap(0, now()) },
		ConnectDone: func(_, _ string, err error) {
			if s := connStart.Swap(0); s != 0 && err == nil {
				h.connect.sum.Add(now() - s)
				h.connect.n.Add(1)
			}
		},
	}
}

// withTrace adds the host's hooks to ctx. A caller's own trace is kept: it
// is composed with a copy of ours, since composing changes the trace.
func (h *host) withTrace(ctx context.Context) context.Context {
	if httptrace.ContextClientTrace(ctx) == nil {
		return httptrace.WithClientTrace(ctx, h.trace)
	}
	tc := *h.trace
	return httptrace.WithClientTrace(ctx, &tc)
}
