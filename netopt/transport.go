package netopt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is the RoundTripper stack: coalescing (when configured), a
// per-host circuit breaker, retries with full-jitter backoff under a token
// budget, hedging at the host's observed latency quantile, transparent
// decompression and per-host httptrace timings, in that order around a base
// RoundTripper. It is safe for concurrent use; create it with New or
// NewTransport.
type Transport struct {
	cfg     Config
	base    http.RoundTripper
	own     atomic.Pointer[http.Transport] // the base, when built here
	now     func() time.Time
	log     *slog.Logger
	statusR [600]bool // retried statuses

	hostsMu sync.RWMutex
	hosts   map[string]*host // by host:port
	alias   map[string]*host // by URL.Host as written, and host:port
	other   *host

	flight   *coalescer
	hedgers  sync.Pool     // *hedger, see getHedger
	fetches  atomic.Uint64 // OptimizedFetch calls
	resizeMu sync.Mutex
}

var _ http.RoundTripper = (*Transport)(nil)

// Option sets a collaborator of a Transport.
type Option func(*Transport)

// WithClock sets the clock for breaker windows and hedging refreshes;
// default time.Now.
func WithClock(now func() time.Time) Option { return func(t *Transport) { t.now = now } }

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option {
	return func(t *Transport) { t.log = l.With("module", "network") }
}

// New returns a Transport over a pooled http.Transport sized by cfg.Pool.
func New(cfg Config, opts ...Option) (*Transport, error) { return NewTransport(nil, cfg, opts...) }

// NewTransport puts the stack over base, any RoundTripper; nil builds a
// pooled http.Transport from cfg.Pool. A base of your own keeps its own
// compression unless cfg.Compression.Disabled is false and the request has
// no Accept-Encoding: then the stack asks for zstd, br and gzip and
// decodes the answer itself.
func NewTransport(base http.RoundTripper, cfg Config, opts ...Option) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Transport{cfg: cfg, base: base, now: time.Now, log: slog.New(slog.DiscardHandler), hosts: map[string]*host{}, alias: map[string]*host{}}
	for _, o := range opts {
		o(t)
	}
	if base == nil {
		t.own.Store(t.pooled(cfg.Pool))
	}
	for _, s := range cfg.Retry.Statuses {
		t.statusR[s] = true
	}
	t.other = newHost("other", t)
	t.flight = newCoalescer(t)
	return t, nil
}

// NewClient returns an *http.Client over New(cfg), or the configuration's
// problems. Reach the Transport (for Metrics) through the client's
// Transport field, or use New and Client.
func NewClient(cfg Config, opts ...Option) (*http.Client, error) {
	t, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return t.Client(), nil
}

// MustNewClient is NewClient for a configuration known to be valid; it
// panics on an invalid one, like regexp.MustCompile.
func MustNewClient(cfg Config, opts ...Option) *http.Client {
	c, err := NewClient(cfg, opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// Client returns an *http.Client sending through t. It has no Timeout of
// its own: give requests a context deadline.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// NewPooledTransport returns an http.Transport with the pool sized for
// concurrency rather than Go's two idle connections per host, which makes a
// busy client open and close a connection for most requests.
func NewPooledTransport(p PoolConfig) *http.Transport {
	p = Config{Pool: p}.withDefaults().Pool
	d := &net.Dialer{Timeout: p.ConnectTimeout, KeepAlive: p.KeepAlive}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          p.MaxIdleConnections * 16,
		MaxIdleConnsPerHost:   p.MaxIdleConnections,
		MaxConnsPerHost:       p.MaxConnections,
		IdleConnTimeout:       p.IdleTimeout,
		TLSHandshakeTimeout:   p.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		DisableKeepAlives:     p.DisableKeepAlives,
	}
}

// pooled is NewPooledTransport with dials timed per host (DNS, connect).
// Hosts are keyed by the dialed address, which is the request's host:port
// unless a proxy is in the way.
func (t *Transport) pooled(p PoolConfig) *http.Transport {
	tr := NewPooledTransport(p)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		h := t.host(addr)
		return dial(httptrace.WithClientTrace(ctx, h.dialTrace(t)), network, addr)
	}
	return tr
}

func (t *Transport) roundTripper() http.RoundTripper {
	if t.base != nil {
		return t.base
	}
	return t.own.Load()
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *Transport) CloseIdleConnections() {
	type closer interface{ CloseIdleConnections() }
	if c, ok := t.roundTripper().(closer); ok {
		c.CloseIdleConnections()
	}
}

// ctxKey marks a request as safe to retry although its method is not
// idempotent.
type ctxKey struct{}

// AllowRetry marks requests made with the returned context as safe to retry
// and hedge although their method (POST, PATCH) is not idempotent: the
// caller vouches that the server deduplicates them. A request with an
// Idempotency-Key header is treated the same way. A body still needs
// GetBody to be sent twice.
func AllowRetry(ctx context.Context) context.Context { return context.WithValue(ctx, ctxKey{}, true) }

// replayable reports whether req may be sent more than once: idempotent (by
// method, opt-in or Idempotency-Key) and with a body that can be rewound.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	ok, _ := req.Context().Value(ctxKey{}).(bool)
	return ok
}

// rewind returns a copy of req with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("netopt: rewind body: %w", err)
	}
	r := *req
	r.Body = body
	return &r, nil
}

// hostKey is the URL's host:port, the port made explicit, so that a
// request's figures and its dials (keyed by the dialed address) meet.
func hostKey(u *url.URL) string {
	if u.Port() != "" || u.Host == "" {
		return u.Host
	}
	switch u.Scheme {
	case "https":
		return net.JoinHostPort(u.Hostname(), "443")
	case "http":
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}

// StatusError is a retried status seen as a failure of the host, as kept
// by the circuit breaker.
type StatusError struct {
	Host       string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("netopt: %s answered %d %s", e.Host, e.StatusCode, http.StatusText(e.StatusCode))
}

// RoundTrip sends req through the stack.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		return nil, errors.New("netopt: request has no URL")
	}
	if t.cfg.Coalesce && coalescable(req) {
		return t.flight.do(req)
	}
	return t.roundTrip(req)
}

func (t *Transport) roundTrip(req *http.Request) (*http.Response, error) {
	h := t.hostFor(req.URL)
	h.requests.Add(1)
	ctx := req.Context()
	again := replayable(req)
	maxAttempts := 1
	if again && !t.cfg.Retry.Disabled {
		maxAttempts = t.cfg.Retry.MaxAttempts
	}
	hedge := again && !t.cfg.Hedge.Disabled
	r := req
	for n := 0; ; n++ {
		if n > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		probe, err := h.breaker.admit(h.name)
		if err != nil {
			h.rejected.Add(1)
			return nil, err
		}
		resp, err := t.try(ctx, r, h, probe, hedge && !probe)
		if !t.failed(resp, err) {
			return resp, err
		}
		if ctx.Err() != nil || n+1 >= maxAttempts {
			return resp, err
		}
		if !h.budget.allow() {
			h.throttled.Add(1)
			return resp, err
		}
		wait := t.backoff(n)
		if resp != nil {
			if v := resp.Header.Get("Retry-After"); v != "" {
				ra, perr := ParseRetryAfter(v, t.now())
				if perr == nil {
					if ra > t.cfg.Retry.MaxRetryAfter {
						return resp, nil
					}
					wait = ra
				}
			}
		}
		if dl, ok := ctx.Deadline(); ok && !t.now().Add(wait).Before(dl) {
			return resp, err // the deadline would pass while waiting
		}
		last := err
		if resp != nil {
			last = &StatusError{Host: h.name, StatusCode: resp.StatusCode}
			drain(resp.Body)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("netopt: %w while waiting to retry after %w", err, last)
		}
		h.retries.Add(1)
	}
}

// failed reports whether an outcome is worth another attempt: a transport
// error other than the caller's cancellation, or a retried status.
func (t *Transport) failed(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return t.statusR[resp.StatusCode]
}

// backoff is "full jitter": uniform in [0, min(max, base·2ⁿ)], which
// spreads the retries of many clients failing together.
func (t *Transport) backoff(n int) time.Duration {
	c := t.cfg.Retry.BackoffMax
	if n < 30 {
		c = min(c, t.cfg.Retry.BackoffBase<<n)
	}
	if c <= 0 {
		return 0
	}
	return rand.N(c + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain reads a little of a discarded body so its connection can be reused,
// then closes it. Past 64 KiB a new connection is cheaper than the rest.
func drain(b io.ReadCloser) {
	if b == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, b, 64<<10)
	_ = b.Close()
}
