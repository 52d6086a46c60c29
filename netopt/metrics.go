package netopt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Metrics are the stack's figures since it was created; percentiles cover
// the recent window (the last few thousand attempts of each host).
type Metrics struct {
	Time  time.Time     `json:"time"`
	Hosts []HostMetrics `json:"hosts"`
}

// HostMetrics are one host's figures. Counters are totals since the start.
type HostMetrics struct {
	Host       string  `json:"host"`
	Requests   uint64  `json:"requests"`    // calls of RoundTrip
	Attempts   uint64  `json:"attempts"`    // sent to the base, hedges included
	Retries    uint64  `json:"retries"`     //
	Hedges     uint64  `json:"hedges"`      // second attempts sent
	HedgeWins  uint64  `json:"hedge_wins"`  // hedges that answered first
	Failures   uint64  `json:"failures"`    // failed attempts
	Rejected   uint64  `json:"rejected"`    // refused by the open circuit
	Throttled  uint64  `json:"throttled"`   // retries refused by the budget
	Coalesced  uint64  `json:"coalesced"`   // requests answered by another's round trip
	Decoded    uint64  `json:"decoded"`     // compressed responses decoded
	Conns      uint64  `json:"conns"`       // connections obtained
	ReuseRatio float64 `json:"reuse_ratio"` // connections reused / obtained
	// Mean connection phases of new connections (zero when none was made
	// or the phase did not happen, as DNS for an IP address), and the mean
	// time from sending a request until its response headers (TTFB).
	// Durations are nanoseconds in JSON.
	DNS          time.Duration `json:"dns_ns"`
	Connect      time.Duration `json:"connect_ns"`
	TLS          time.Duration `json:"tls_ns"`
	TTFB         time.Duration `json:"ttfb_ns"`
	P50          time.Duration `json:"p50_ns"`
	P95          time.Duration `json:"p95_ns"`
	P99          time.Duration `json:"p99_ns"`
	HedgeDelay   time.Duration `json:"hedge_delay_ns"` // 0: not hedging
	InFlight     int64         `json:"in_flight"`
	PeakInFlight int64         `json:"peak_in_flight"`
	Breaker      BreakerState  `json:"breaker"`
	BreakerOpens uint64        `json:"breaker_opens"`
	BudgetTokens float64       `json:"budget_tokens"`
	ErrorRate    float64       `json:"error_rate"` // failed attempts / attempts
}

// Metrics returns every host's figures, sorted by host.
func (t *Transport) Metrics(context.Context) Metrics {
	t.hostsMu.RLock()
	hs := make([]*host, 0, len(t.hosts)+1)
	for _, h := range t.hosts {
		hs = append(hs, h)
	}
	t.hostsMu.RUnlock()
	if t.other.requests.Load() > 0 {
		hs = append(hs, t.other)
	}
	m := Metrics{Time: t.now()}
	for _, h := range hs {
		m.Hosts = append(m.Hosts, h.metrics(t))
	}
	slices.SortFunc(m.Hosts, func(a, b HostMetrics) int { return cmp.Compare(a.Host, b.Host) })
	return m
}

func mean(sum, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(sum / n)
}

func (h *host) metrics(t *Transport) HostMetrics {
	h.refresh(t, true)
	h.mu.Lock()
	p50, p95, p99 := h.p50, h.p95, h.p99
	h.mu.Unlock()
	state, opens := h.breaker.snapshot()
	m := HostMetrics{
		Host: h.name, Requests: h.requests.Load(), Attempts: h.attempts.Load(), Retries: h.retries.Load(),
		Hedges: h.hedges.Load(), HedgeWins: h.hedgeWins.Load(), Failures: h.failures.Load(),
		Rejected: h.rejected.Load(), Throttled: h.throttled.Load(), Coalesced: h.coalesced.Load(),
		Decoded: h.decoded.Load(), Conns: h.conns.Load(),
		DNS: h.dns.mean(), Connect: h.connect.mean(), TLS: h.tls.mean(), TTFB: mean(h.ttfbNs.Load(), h.ttfbN.Load()),
		P50: p50, P95: p95, P99: p99, HedgeDelay: t.hedgeDelay(h),
		InFlight: h.inflight.Load(), PeakInFlight: h.peak.Load(),
		Breaker: state, BreakerOpens: opens, BudgetTokens: h.budget.tokens(),
	}
	if m.Conns > 0 {
		m.ReuseRatio = float64(h.reused.Load()) / float64(m.Conns)
	}
	if m.Attempts > 0 {
		m.ErrorRate = float64(m.Failures) / float64(m.Attempts)
	}
	return m
}

// Recommendation kinds.
const (
	KindResizePool  = "resize_pool"  // raise the idle connections kept per host
	KindSlowHost    = "slow_host"    // a host's p95 is above Config.SlowHost
	KindBreakerOpen = "breaker_open" // a host's circuit is open
)

// Recommendation is something the stack suggests or reports about a host.
type Recommendation struct {
	Kind       string        `json:"kind"`
	Host       string        `json:"host"`
	Reason     string        `json:"reason"`
	Idle       int           `json:"idle,omitempty"`  // resize_pool: proposed idle connections per host
	P95        time.Duration `json:"p95,omitempty"`   // slow_host
	Err        string        `json:"error,omitempty"` // breaker_open: the failure that opened it
	Actionable bool          `json:"actionable"`      // ApplyRecommendation can act on it
}

// Recommendations looks at the figures: a pool smaller than the observed
// concurrency (new connections for many requests while more were in flight
// than the idle pool keeps), slow hosts and open circuits.
func (t *Transport) Recommendations(ctx context.Context) []Recommendation {
	var out []Recommendation
	idle := t.PoolIdle()
	for _, m := range t.Metrics(ctx).Hosts {
		if idle > 0 && m.Conns >= 100 && m.ReuseRatio < 0.9 && m.PeakInFlight > int64(idle) {
			want := min(int(m.PeakInFlight), max(t.cfg.Pool.MaxConnections, idle))
			if want > idle {
				out = append(out, Recommendation{
					Kind: KindResizePool, Host: m.Host, Idle: want, Actionable: true,
					Reason: fmt.Sprintf("%s reused only %.0f%% of connections with up to %d requests in flight and %d idle connections kept", m.Host, 100*m.ReuseRatio, m.PeakInFlight, idle),
				})
			}
		}
		if m.P95 > t.cfg.SlowHost {
			out = append(out, Recommendation{
				Kind: KindSlowHost, Host: m.Host, P95: m.P95,
				Reason: fmt.Sprintf("%s answers slowly: p95 %v (ttfb %v, connect %v, dns %v)", m.Host, m.P95.Round(time.Millisecond), m.TTFB.Round(time.Microsecond), m.Connect.Round(time.Microsecond), m.DNS.Round(time.Microsecond)),
			})
		}
		if m.Breaker != BreakerClosed {
			h := t.host(m.Host)
			h.breaker.mu.Lock()
			last := h.breaker.lastErr
			h.breaker.mu.Unlock()
			r := Recommendation{Kind: KindBreakerOpen, Host: m.Host, Reason: fmt.Sprintf("circuit %s for %s", m.Breaker, m.Host)}
			if last != nil {
				r.Err = last.Error()
			}
			out = append(out, r)
		}
	}
	return out
}

// ErrNotOwnPool is returned by ResizePool when the base transport was
// given by the caller: the stack does not change a transport it does not own.
var ErrNotOwnPool = errors.New("netopt: the base transport is the caller's")

// PoolIdle returns the idle connections kept per host by the pool the stack
// owns (0 when the base is the caller's).
func (t *Transport) PoolIdle() int {
	if tr := t.own.Load(); tr != nil {
		return tr.MaxIdleConnsPerHost
	}
	return 0
}

// ResizePool keeps idle connections per host (raising MaxConnections if
// needed) by switching to a new pooled transport; the old one's idle
// connections are closed, its requests in flight finish. It returns the
// previous value. http.Transport fields cannot change while in use, hence
// the switch.
func (t *Transport) ResizePool(idle int) (int, error) {
	if idle < 1 || idle > 10000 {
		return 0, fmt.Errorf("netopt: idle connections %d must be in 1..10000", idle)
	}
	t.resizeMu.Lock()
	defer t.resizeMu.Unlock()
	old := t.own.Load()
	if old == nil {
		return 0, ErrNotOwnPool
	}
	prev := old.MaxIdleConnsPerHost
	p := t.cfg.Pool
	p.MaxIdleConnections = idle
	p.MaxConnections = max(p.MaxConnections, idle)
	t.own.Store(t.pooled(p))
	old.CloseIdleConnections()
	return prev, nil
}

// ResetBreaker closes a host's circuit.
func (t *Transport) ResetBreaker(hostname string) { t.host(hostname).breaker.reset() }

// OptimizedFetch sends req with ctx through the stack, sharing the round
// trip of identical GETs in flight (each caller gets its own body to read
// and close), whether or not Config.Coalesce is set.
func (t *Transport) OptimizedFetch(ctx context.Context, req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("netopt: OptimizedFetch needs a request with a URL")
	}
	t.fetches.Add(1)
	req = req.WithContext(ctx)
	if coalescable(req) {
		return t.flight.do(req)
	}
	return t.roundTrip(req)
}

// PreconnectToDomains opens a pooled connection to each host ahead of the
// first real request (DNS, TCP and TLS done in advance) by sending a HEAD /
// through the base transport; the connection then waits in the idle pool.
// Hosts are "example.com" (https), "host:port" or URLs. It returns every
// failure joined.
func (t *Transport) PreconnectToDomains(ctx context.Context, hosts []string) error {
	var errs []error
	for _, raw := range hosts {
		u, err := preconnectURL(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := t.attempt(ctx, req, t.hostFor(u), false)
		if err != nil {
			errs = append(errs, fmt.Errorf("netopt: preconnect %s: %w", u.Host, err))
			continue
		}
		drain(resp.Body)
	}
	return errors.Join(errs...)
}

func preconnectURL(raw string) (*url.URL, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("netopt: preconnect %q: want a host name, host:port or http(s) URL", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}, nil
}
