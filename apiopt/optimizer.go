package apiopt

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/apiopt/cache/rediscache"
	"github.com/perfengine/perfengine/apiopt/compress"
	"github.com/perfengine/perfengine/apiopt/ratelimit"
	"github.com/perfengine/perfengine/metrics"
)

// Option sets a collaborator of an Optimizer.
type Option func(*options)

type options struct {
	reg   prometheus.Registerer
	log   *slog.Logger
	clock func() time.Time
	redis redis.UniversalClient
	route func(*http.Request) string
}

// WithRegisterer registers the optimizer's metrics on reg.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the time source; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithRedis keeps rate-limit counters and cache entries (with their
// surrogate-key index) in Redis, shared by every instance. The in-process
// cache stays in front; when Redis is unreachable, limits are decided
// locally and the cache acts on what it holds in process.
func WithRedis(c redis.UniversalClient) Option { return func(o *options) { o.redis = c } }

// WithRouteOf names routes for handlers that are not a ServeMux (which sets
// Request.Pattern itself).
func WithRouteOf(f func(*http.Request) string) Option { return func(o *options) { o.route = f } }

// Optimizer is the API optimizer: one middleware that rate limits, serves
// cache hits, sheds load, compresses, caches misses and keeps per-route
// statistics, in that order. Make it with New; it is safe for concurrent
// use. Close releases its background work.
type Optimizer struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	cache *cache.Cache
	comp  *compress.Compressor

	limiter  ratelimit.Limiter
	pressure interface{ SetPressure(float64) }
	rlKey    ratelimit.KeyFunc
	rlHdr    *ratelimit.Headers
	adaptive *ratelimit.Adaptive

	routeOf  func(*http.Request) string
	routes   routeTable
	limited  atomic.Uint64
	critical atomic.Bool

	writers sync.Pool

	mu        sync.Mutex
	lastCall  time.Time
	started   time.Time
	fallbacks func() uint64
	// interval and merged are scratch histograms for Metrics and the
	// Prometheus collector, guarded by mu: allocating them per route per
	// call made the optimizer's own figures the service's largest source of
	// garbage.
	interval, merged metrics.Histogram
}

// New checks cfg and builds an Optimizer. It starts nothing.
func New(cfg Config, opts ...Option) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	op := &Optimizer{cfg: cfg, log: o.log.With("module", "api"), now: o.clock, routeOf: o.route}
	op.interval, op.merged = *metrics.NewHistogramDigits(routeDigits), *metrics.NewHistogramDigits(routeDigits)
	op.started = o.clock()
	op.lastCall = op.started
	op.routes.init()
	op.writers.New = func() any { return new(statsWriter) }
	if !cfg.Compression.Disabled {
		c, err := compress.New(cfg.Compression.Config)
		if err != nil {
			return nil, err
		}
		op.comp = c
	}
	if !cfg.Cache.Disabled {
		var shared cache.Backend
		if o.redis != nil {
			shared = rediscache.New(o.redis, "")
		}
		c, err := cache.New(cache.Config{
			Shared:   shared,
			MaxBytes: cfg.Cache.MaxBytes, MaxEntryBytes: cfg.Cache.MaxEntryBytes, PackAbove: cfg.Cache.PackAbove,
			MinTTL: cfg.Cache.MinTTL, MaxTTL: cfg.Cache.MaxTTL, Adaptive: cfg.Cache.Adaptive,
			InvalidateParent: !cfg.Cache.KeepParents,
			TargetedFields:   cfg.Cache.TargetedFields, ForwardTargeted: cfg.Cache.ForwardTargeted,
			CookieRoutes: normalizeRoutes(cfg.Cache.CookieRoutes), StorePOST: cfg.Cache.StorePOST,
			Compressor: op.comp, RouteOf: o.route, Clock: o.clock, Logger: op.log,
		})
		if err != nil {
			return nil, err
		}
		for route, ttl := range cfg.Cache.Routes {
			c.SetRouteTTL(normalizeRoute(route), ttl)
		}
		op.cache = c
	}
	if rl := cfg.RateLimit; rl.Rate > 0 {
		lim := ratelimit.Limit{Rate: rl.Rate, Period: rl.Period, Burst: rl.Burst}
		if o.redis != nil {
			r, err := ratelimit.NewRedis(o.redis, lim, ratelimit.RedisOptions{Logger: op.log})
			if err != nil {
				return nil, err
			}
			op.limiter, op.pressure, op.fallbacks = r, r, r.Fallbacks
		} else {
			m, err := ratelimit.NewMemory(lim)
			if err != nil {
				return nil, err
			}
			op.limiter, op.pressure = m, m
		}
		op.rlHdr = ratelimit.NewHeaders(rl.Policy, lim)
		switch {
		case rl.Key == "route":
			// Resolved in Middleware, which knows the mux.
		case strings.HasPrefix(rl.Key, "header:"):
			op.rlKey = ratelimit.Header(strings.TrimPrefix(rl.Key, "header:"))
		default:
			var trusted []netip.Prefix
			for _, p := range rl.TrustedProxies {
				trusted = append(trusted, netip.MustParsePrefix(p)) // checked by Validate
			}
			op.rlKey = ratelimit.ClientIP(trusted...)
		}
	}
	if cfg.Concurrency.Enabled {
		a, err := ratelimit.NewAdaptive(cfg.Concurrency.AdaptiveConfig, ratelimit.WithClock(o.clock))
		if err != nil {
			return nil, err
		}
		op.adaptive = a
	}
	if o.reg != nil {
		if err := o.reg.Register(&collector{o: op}); err != nil {
			return nil, fmt.Errorf("apiopt: register metrics: %w", err)
		}
	}
	return op, nil
}

func normalizeRoutes(rs []string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = normalizeRoute(r)
	}
	return out
}

// normalizeRoute accepts "/path" as shorthand for "GET /path".
func normalizeRoute(r string) string {
	if strings.HasPrefix(r, "/") {
		return "GET " + r
	}
	return r
}

// Close waits for background cache revalidations.
func (o *Optimizer) Close() error {
	if o.cache != nil {
		return o.cache.Close()
	}
	return nil
}

// Cache returns the response cache, nil when disabled.
func (o *Optimizer) Cache() *cache.Cache { return o.cache }

// ShedMemory lets go of a fraction (0 to 1) of the cache's bytes, the
// coldest entries first, and returns the bytes freed; 0 without a cache.
func (o *Optimizer) ShedMemory(fraction float64) int64 {
	if o.cache == nil {
		return 0
	}
	return o.cache.Shed(fraction)
}

// Middleware wraps next, typically a ServeMux so that statistics and cache
// rules follow its route patterns.
func (o *Optimizer) Middleware(next http.Handler) http.Handler {
	inner := next
	// Requests refused before routing are still counted under their route
	// when the mux can name it.
	routeOf := o.routeOf
	if mux, ok := next.(*http.ServeMux); ok && routeOf == nil {
		routeOf = func(r *http.Request) string { _, p := mux.Handler(r); return p }
	}
	key := o.rlKey
	if o.cfg.RateLimit.Key == "route" {
		mux, isMux := next.(*http.ServeMux)
		switch {
		case o.routeOf != nil:
			key = o.routeOf
		case isMux:
			key = ratelimit.Route(mux)
		default:
			key = func(*http.Request) string { return "all" }
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := o.now()
		sw := o.writers.Get().(*statsWriter)
		sw.reset(w)
		defer o.writers.Put(sw)

		if o.limiter != nil && !o.allow(sw, r, start, key) {
			if routeOf != nil {
				sw.route = routeOf(r)
			}
			o.record(sw, r, start)
			return
		}
		if o.cache != nil {
			if route, ok := o.cache.TryHitAt(sw, r, start); ok {
				sw.route, sw.outcome = route, cache.Hit
				o.record(sw, r, start)
				return
			}
		}
		if o.adaptive != nil {
			if !o.adaptive.Acquire() {
				ratelimit.ShedResponse(sw)
				if routeOf != nil {
					sw.route = routeOf(r)
				}
				o.record(sw, r, start)
				return
			}
			defer func() { o.adaptive.Release(o.now().Sub(start)) }()
		}
		sw.hashing = r.Method == http.MethodGet
		o.serveMiss(sw, r, inner)
		o.record(sw, r, start)
	})
}

// serveMiss runs the compression and cache layers around next.
func (o *Optimizer) serveMiss(sw *statsWriter, r *http.Request, next http.Handler) {
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.cache == nil {
			next.ServeHTTP(w, r)
			sw.route = r.Pattern
			return
		}
		sw.outcome, sw.route = o.cache.Serve(w, r, next)
	}))
	if o.comp != nil {
		h = o.comp.Middleware(h)
	}
	h.ServeHTTP(sw, r)
}

func (o *Optimizer) allow(sw *statsWriter, r *http.Request, now time.Time, keyOf ratelimit.KeyFunc) bool {
	key := keyOf(r)
	if key == "" {
		return true
	}
	d, _ := o.limiter.Allow(r.Context(), key, now)
	o.rlHdr.Write(sw.Header(), d)
	if !d.Allowed {
		o.limited.Add(1)
		sw.limited = true
		ratelimit.Deny(sw)
	}
	return d.Allowed
}

// SetCritical tightens rate and concurrency limits while critical.
func (o *Optimizer) SetCritical(critical bool) {
	if o.critical.Swap(critical) == critical {
		return
	}
	f := 1.0
	if critical {
		f = CriticalPressure
	}
	if o.pressure != nil {
		o.pressure.SetPressure(f)
	}
	if o.adaptive != nil {
		o.adaptive.SetPressure(f)
	}
	o.log.Info("api limits changed", "critical", critical, "factor", f)
}

// Invalidate drops cached responses tagged with any of tags (the
// Surrogate-Key response header, or "path:/p" for a path) and returns how
// many it dropped.
func (o *Optimizer) Invalidate(_ context.Context, tags ...string) int {
	if o.cache == nil {
		return 0
	}
	return o.cache.Invalidate(tags...)
}

// TuneCache sets the TTL for a route (0 stops caching it by rule) and
// returns the previous one.
func (o *Optimizer) TuneCache(route string, ttl time.Duration) (time.Duration, error) {
	if o.cache == nil {
		return 0, fmt.Errorf("apiopt: cache is disabled")
	}
	if ttl < 0 {
		return 0, fmt.Errorf("apiopt: TTL %v must not be negative", ttl)
	}
	route = normalizeRoute(route)
	if !strings.HasPrefix(route, "GET ") {
		return 0, fmt.Errorf("apiopt: route %q must be a GET pattern", route)
	}
	prev := o.cache.RouteTTLs()[route]
	o.cache.SetRouteTTL(route, ttl)
	rs := o.routes.get(route)
	rs.mu.Lock()
	rs.tuneBase = [2]uint64{rs.refreshed.Load(), rs.changed.Load()}
	rs.mu.Unlock()
	o.log.Info("cache ttl tuned", "route", route, "ttl", ttl, "previous", prev)
	return prev, nil
}

// statsWriter records what a response was, for per-route statistics. It
// hashes the body of GET misses to find routes that always answer the same.
type statsWriter struct {
	http.ResponseWriter
	code    int
	bytes   int64
	route   string
	outcome cache.Outcome
	limited bool
	hashing bool
	hash    uint64
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func (s *statsWriter) reset(w http.ResponseWriter) {
	*s = statsWriter{ResponseWriter: w, hash: fnvOffset}
}

func (s *statsWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statsWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	if s.hashing {
		h := s.hash
		for _, c := range b {
			h = (h ^ uint64(c)) * fnvPrime
		}
		s.hash = h
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statsWriter) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func (s *statsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func (s *statsWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
