package perfengine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/perfengine/perfengine/apiopt"
	"github.com/perfengine/perfengine/memopt"
	"github.com/perfengine/perfengine/metrics"
)

// API module sample names, besides the service-level metrics.ResponseTimeMs,
// ThroughputRPS and ErrorRate it reports for the engine's thresholds. They
// differ from the names of apiopt's own Prometheus collector
// (perfengine_api_cache_*), so both can share one registry.
const (
	APICacheHitRatio   = "api_hit_ratio"
	APIBytesSaved      = "api_saved_bytes"
	APIRateLimited     = "api_rate_limited"
	APIRouteP95Ms      = "api_route_p95_ms"
	APIRouteRPS        = "api_route_rps"
	APIRouteHitRatio   = "api_route_hit_ratio"
	APIRouteErrorRate  = "api_route_error_rate"
	APIConcurrencyCap  = "api_concurrency_limit"
	APIRateLimitFallbk = "api_ratelimit_fallbacks"
)

// Action kinds of the API module.
const (
	ActionCacheRoute = apiopt.KindCacheRoute // start caching a route by rule
	ActionTuneTTL    = apiopt.KindTuneTTL    // change a cached route's TTL
)

// APIModule adapts an apiopt.Optimizer: it reports per-route latency,
// throughput, hit ratio and bytes saved, proposes caching routes proven
// identical across callers and TTL changes (safe, undoable), and tightens
// rate and concurrency limits while the engine's status is critical. It is
// safe for concurrent use.
type APIModule struct {
	opt *apiopt.Optimizer
	now func() time.Time

	mu    sync.Mutex
	redis *redis.Client // owned when built from config
}

var (
	_ MemoryShedder  = (*APIModule)(nil)
	_ Module         = (*APIModule)(nil)
	_ Undoer         = (*APIModule)(nil)
	_ Reporter       = (*APIModule)(nil)
	_ StatusListener = (*APIModule)(nil)
	_ Starter        = (*APIModule)(nil)
)

// NewAPIModule wraps an optimizer the caller built (and closes).
func NewAPIModule(opt *apiopt.Optimizer) *APIModule {
	return &APIModule{opt: opt, now: time.Now}
}

// NewAPIModuleFromConfig builds the optimizer from the engine's API
// section; the module owns it (and its Redis client) and closes them at
// Stop. Wrap the service's handler with Optimizer().Middleware.
func NewAPIModuleFromConfig(c APIConfig, opts ...apiopt.Option) (*APIModule, error) {
	cfg := apiopt.Config{
		Cache: apiopt.CacheConfig{
			Disabled: c.CacheDisabled, MaxBytes: c.CacheMaxBytes, PackAbove: c.CachePackAbove,
			Adaptive: c.AdaptiveTTL, MinTTL: c.MinTTL.D(), MaxTTL: c.MaxTTL.D(),
		},
		Compression:   apiopt.CompressionConfig{Disabled: c.CompressionDisabled},
		SlowThreshold: c.SlowThreshold.D(),
		RateLimit: apiopt.RateLimitConfig{
			Rate: c.RateLimit, Period: c.RateLimitPeriod.D(), Burst: c.RateLimitBurst,
			Key: c.RateLimitKey, TrustedProxies: c.Proxies(),
		},
		Concurrency: apiopt.ConcurrencyConfig{Enabled: c.ConcurrencyLimit},
	}
	cfg.Compression.MinSize = c.CompressMinBytes
	routes, err := c.RouteTTLs()
	if err != nil {
		return nil, err
	}
	cfg.Cache.Routes = routes
	var rc *redis.Client
	if c.RedisURL != "" {
		ropts, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("api: redis URL: %w", err)
		}
		rc = redis.NewClient(ropts)
		opts = append(opts, apiopt.WithRedis(rc))
	}
	opt, err := apiopt.New(cfg, opts...)
	if err != nil {
		if rc != nil {
			_ = rc.Close()
		}
		return nil, err
	}
	m := NewAPIModule(opt)
	m.redis = rc
	return m, nil
}

// Optimizer returns the wrapped optimizer.
func (m *APIModule) Optimizer() *apiopt.Optimizer { return m.opt }

// Name returns "api".
func (*APIModule) Name() string { return "api" }

// Start does nothing: the optimizer works inside the service's handlers.
func (m *APIModule) Start(context.Context) error { return nil }

// Stop waits for the cache's background revalidations and closes the Redis
// client the module owns.
func (m *APIModule) Stop(context.Context) error {
	err := m.opt.Close()
	m.mu.Lock()
	rc := m.redis
	m.redis = nil
	m.mu.Unlock()
	if rc != nil {
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Collect reports the interval since the previous Collect.
func (m *APIModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	s := m.opt.Metrics(ctx)
	t := s.Time
	out := []metrics.Sample{
		{Name: metrics.ResponseTimeMs, Value: ms(s.P95), Unit: metrics.UnitMilliseconds, Time: t},
		{Name: metrics.ThroughputRPS, Value: s.RPS, Unit: metrics.UnitPerSecond, Time: t},
		{Name: metrics.ErrorRate, Value: s.ErrorRate, Unit: metrics.UnitRatio, Time: t},
		{Name: APICacheHitRatio, Value: s.HitRatio, Unit: metrics.UnitRatio, Time: t},
		{Name: APIBytesSaved, Value: float64(s.BytesSaved), Unit: metrics.UnitTotal, Time: t},
		{Name: APIRateLimited, Value: float64(s.RateLimited), Unit: metrics.UnitTotal, Time: t},
	}
	if s.Concurrency > 0 {
		out = append(out, metrics.Sample{Name: APIConcurrencyCap, Value: float64(s.Concurrency), Unit: metrics.UnitCount, Time: t})
	}
	if s.Fallbacks > 0 {
		out = append(out, metrics.Sample{Name: APIRateLimitFallbk, Value: float64(s.Fallbacks), Unit: metrics.UnitTotal, Time: t})
	}
	for _, r := range s.Routes {
		l := map[string]string{"route": r.Route}
		out = append(out,
			metrics.Sample{Name: APIRouteP95Ms, Value: ms(r.P95), Unit: metrics.UnitMilliseconds, Labels: l, Time: t},
			metrics.Sample{Name: APIRouteRPS, Value: r.RPS, Unit: metrics.UnitPerSecond, Labels: l, Time: t},
			metrics.Sample{Name: APIRouteHitRatio, Value: r.HitRatio, Unit: metrics.UnitRatio, Labels: l, Time: t},
			metrics.Sample{Name: APIRouteErrorRate, Value: r.ErrorRate, Unit: metrics.UnitRatio, Labels: l, Time: t},
		)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Recommend turns the optimizer's proposals into safe actions.
func (m *APIModule) Recommend(_ context.Context, snap Snapshot) ([]Action, error) {
	var out []Action
	for _, r := range m.opt.Recommendations() {
		a := Action{
			Module: "api", Kind: r.Kind, Target: r.Route, Description: r.Reason, Risk: RiskSafe,
			Params: map[string]string{"route": r.Route, "ttl": r.TTL.String()},
			Expect: &Expectation{Series: metrics.SeriesKey(APIRouteP95Ms, map[string]string{"route": r.Route}), LowerIsBetter: true},
		}
		switch r.Kind {
		case apiopt.KindCacheRoute:
			a.Impact = fmt.Sprintf("repeat requests to %s answered from memory for %v", r.Route, r.TTL)
			a.Undo = "stop caching the route"
		case apiopt.KindTuneTTL:
			a.Impact = fmt.Sprintf("TTL %v -> %v", r.Current, r.TTL)
			a.Undo = "restore TTL " + r.Current.String()
		}
		out = append(out, a)
	}
	return out, nil
}

// Apply sets the route's TTL and remembers the previous one for Undo.
func (m *APIModule) Apply(_ context.Context, a Action) (Result, error) {
	route, ttl, err := apiActionParams(a)
	if err != nil {
		return Result{}, err
	}
	prev, err := m.opt.TuneCache(route, ttl)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Message: fmt.Sprintf("%s cached for %v (was %v)", route, ttl, prev),
		Params:  map[string]string{"previous_ttl": prev.String()},
	}, nil
}

// Undo restores the TTL the route had before Apply (none: not cached).
func (m *APIModule) Undo(_ context.Context, a Action) error {
	route, _, err := apiActionParams(a)
	if err != nil {
		return err
	}
	prev, err := time.ParseDuration(a.Params["previous_ttl"])
	if err != nil {
		return fmt.Errorf("api: action %s has no previous_ttl: %w", a.ID, err)
	}
	_, err = m.opt.TuneCache(route, prev)
	return err
}

func apiActionParams(a Action) (string, time.Duration, error) {
	if a.Kind != apiopt.KindCacheRoute && a.Kind != apiopt.KindTuneTTL {
		return "", 0, fmt.Errorf("api: unknown action kind %q: %w", a.Kind, ErrNotFound)
	}
	route := a.Params["route"]
	ttl, err := time.ParseDuration(a.Params["ttl"])
	if route == "" || err != nil || ttl < 0 {
		return "", 0, fmt.Errorf("api: action %s needs a route and a ttl, got %q %q", a.ID, route, a.Params["ttl"])
	}
	return route, ttl, nil
}

// Findings lists slow routes.
func (m *APIModule) Findings() []Finding {
	var out []Finding
	now := m.now()
	for _, r := range m.opt.SlowRoutes() {
		out = append(out, Finding{
			Module: "api", Kind: "slow_endpoint", Severity: SeverityWarning,
			Title:  fmt.Sprintf("%s is slow: p95 %v", r.Route, r.P95.Round(time.Millisecond)),
			Detail: fmt.Sprintf("p50 %v, p99 %v, %.1f req/s over the last interval", r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.RPS),
			Time:   now, Subject: r.Route,
		})
	}
	return out
}

// StatusChanged tightens limits while critical and restores them after.
func (m *APIModule) StatusChanged(s Status) { m.opt.SetCritical(s == StatusCritical) }

// ShedMemory drops half of the API cache's bytes under memory pressure, the
// coldest entries first, and all of it when memory is critical.
func (m *APIModule) ShedMemory(_ context.Context, p memopt.Pressure) (int64, error) {
	fraction := 0.5
	if p >= memopt.PressureCritical {
		fraction = 1
	}
	return m.opt.ShedMemory(fraction), nil
}
