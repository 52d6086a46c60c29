package netopt

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults of Config, from the seed's pool configuration and gRPC's retry
// policy. Zero fields in a Config take these values.
const (
	DefaultMaxConnections     = 50               // per host, in use and idle
	DefaultMaxIdleConnections = 10               // per host
	DefaultIdleTimeout        = 30 * time.Second // idle connections closed after
	DefaultConnectTimeout     = 5 * time.Second  // dial, and TLS handshake
	DefaultKeepAlive          = 30 * time.Second // TCP keep-alive probe interval

	DefaultMaxAttempts   = 5 // first try included; gRPC's cap
	DefaultBackoffBase   = 50 * time.Millisecond
	DefaultBackoffMax    = 5 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
	DefaultBudgetTokens  = 100
	DefaultBudgetRatio   = 0.5

	DefaultHedgeQuantile       = 0.95
	DefaultHedgeMedianMultiple = 4.0
	DefaultHedgeMinDelay       = 100 * time.Microsecond
	DefaultHedgeMinSamples     = 50

	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerMinRequests  = 20
	DefaultBreakerWindow       = 10 * time.Second
	DefaultBreakerOpenFor      = 5 * time.Second

	DefaultCoalesceMaxBytes = 8 << 20
	DefaultMaxHosts         = 64
	DefaultSlowHost         = 500 * time.Millisecond
)

// Config configures a Transport. The zero value is valid and means the
// defaults above: retries, hedging at the observed p95, circuit breakers and
// compression on; coalescing only through OptimizedFetch.
type Config struct {
	Pool        PoolConfig        `yaml:"pool" json:"pool"`
	Retry       RetryConfig       `yaml:"retry" json:"retry"`
	Hedge       HedgeConfig       `yaml:"hedge" json:"hedge"`
	Breaker     BreakerConfig     `yaml:"breaker" json:"breaker"`
	Compression CompressionConfig `yaml:"compression" json:"compression"`
	// Coalesce shares one response between identical GETs in flight for
	// every request, not only those of OptimizedFetch. Off by default: it
	// buffers bodies (up to CoalesceMaxBytes).
	Coalesce bool `yaml:"coalesce" json:"coalesce"`
	// CoalesceMaxBytes bounds a shared body; larger responses are fetched
	// again by each waiter. Default 8 MiB.
	CoalesceMaxBytes int64 `yaml:"coalesceMaxBytes" json:"coalesceMaxBytes"`
	// MaxHosts bounds the hosts tracked one by one; the rest share the
	// host label "other". Default 64.
	MaxHosts int `yaml:"maxHosts" json:"maxHosts"`
	// SlowHost is the p95 above which a host is reported slow; default 500ms.
	SlowHost time.Duration `yaml:"slowHost" json:"slowHost"`
}

// PoolConfig sizes the connection pool of the transport NewTransport builds
// when it is given no base.
type PoolConfig struct {
	MaxConnections     int           `yaml:"maxConnections" json:"maxConnections"`         // per host; default 50
	MaxIdleConnections int           `yaml:"maxIdleConnections" json:"maxIdleConnections"` // per host; default 10
	IdleTimeout        time.Duration `yaml:"idleTimeout" json:"idleTimeout"`               // default 30s
	ConnectTimeout     time.Duration `yaml:"connectTimeout" json:"connectTimeout"`         // default 5s
	// KeepAlive is the TCP keep-alive interval; default 30s, negative off.
	KeepAlive time.Duration `yaml:"keepAlive" json:"keepAlive"`
	// DisableKeepAlives closes every connection after one request.
	DisableKeepAlives bool `yaml:"disableKeepAlives" json:"disableKeepAlives"`
}

// RetryConfig decides which requests are tried again, and how often.
type RetryConfig struct {
	// Disabled sends every request once.
	Disabled bool `yaml:"disabled" json:"disabled"`
	// MaxAttempts counts the first try; default 5.
	MaxAttempts int `yaml:"maxAttempts" json:"maxAttempts"`
	// BackoffBase and BackoffMax bound the full-jitter backoff: attempt n
	// waits a uniform random time in [0, min(BackoffMax, BackoffBase·2ⁿ)].
	// Defaults 50ms and 5s.
	BackoffBase time.Duration `yaml:"backoffBase" json:"backoffBase"`
	BackoffMax  time.Duration `yaml:"backoffMax" json:"backoffMax"`
	// MaxRetryAfter is the longest Retry-After honoured; a server asking for
	// more gets its response back instead of a retry. Default 30s.
	MaxRetryAfter time.Duration `yaml:"maxRetryAfter" json:"maxRetryAfter"`
	// Statuses are the response codes retried; default 429, 502, 503, 504.
	Statuses []int `yaml:"statuses" json:"statuses"`
	// BudgetTokens and BudgetRatio are gRPC's retry throttling: every failed
	// attempt and every hedge takes a token, every success gives back
	// BudgetRatio, and retries and hedges stop while half the tokens or
	// fewer are left, so retries never multiply an outage. Per host;
	// defaults 100 and 0.5.
	BudgetTokens float64 `yaml:"budgetTokens" json:"budgetTokens"`
	BudgetRatio  float64 `yaml:"budgetRatio" json:"budgetRatio"`
}

// HedgeConfig sends a second attempt of an idempotent request that has not
// answered after the host's observed hedging delay: the lower of the
// latency Quantile and MedianMultiple times the median, but not below the
// quantile that hedges three times as many attempts (p85 for p95). The
// quantile alone fails when the slow tail is about as large as
// 1-Quantile, since it then lands inside the tail. The quantile is
// taken over the attempts that completed: a cancelled loser is known only
// to have exceeded the delay, and counting it at the time it ran would pile
// losers just above the delay and push it up whenever more than 1-Quantile
// of the attempts are hedged.
type HedgeConfig struct {
	Disabled bool `yaml:"disabled" json:"disabled"`
	// Delay is a fixed hedging delay; zero uses the host's observed Quantile
	// once MinSamples attempts are known (no hedging before).
	Delay time.Duration `yaml:"delay" json:"delay"`
	// Quantile of the host's attempt latencies; default 0.95.
	Quantile float64 `yaml:"quantile" json:"quantile"`
	// MedianMultiple caps the delay at this many times the host's median
	// latency; default 4, negative hedges at Quantile alone.
	MedianMultiple float64 `yaml:"medianMultiple" json:"medianMultiple"`
	// MinSamples before the observed quantile is trusted; default 50.
	MinSamples int `yaml:"minSamples" json:"minSamples"`
	// MinDelay is the shortest delay hedged at: a host observed faster is
	// hedged at MinDelay, where a second request still saves more than it
	// costs. Default 100µs.
	MinDelay time.Duration `yaml:"minDelay" json:"minDelay"`
}

// BreakerConfig trips a host's circuit after a failure ratio over a window.
type BreakerConfig struct {
	Disabled bool `yaml:"disabled" json:"disabled"`
	// FailureRatio of attempts (connection errors and retryable statuses)
	// in Window that opens the circuit, once MinRequests were seen.
	// Defaults 0.5, 20 and 10s.
	FailureRatio float64       `yaml:"failureRatio" json:"failureRatio"`
	MinRequests  int           `yaml:"minRequests" json:"minRequests"`
	Window       time.Duration `yaml:"window" json:"window"`
	// OpenFor is how long the circuit stays open before one probe is let
	// through (half-open); default 5s.
	OpenFor time.Duration `yaml:"openFor" json:"openFor"`
}

// CompressionConfig asks for compressed responses.
type CompressionConfig struct {
	// Disabled sends no Accept-Encoding of ours.
	Disabled bool `yaml:"disabled" json:"disabled"`
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Pool.MaxConnections, DefaultMaxConnections)
	def(&c.Pool.MaxIdleConnections, DefaultMaxIdleConnections)
	defD(&c.Pool.IdleTimeout, DefaultIdleTimeout)
	defD(&c.Pool.ConnectTimeout, DefaultConnectTimeout)
	defD(&c.Pool.KeepAlive, DefaultKeepAlive)
	def(&c.Retry.MaxAttempts, DefaultMaxAttempts)
	defD(&c.Retry.BackoffBase, DefaultBackoffBase)
	defD(&c.Retry.BackoffMax, DefaultBackoffMax)
	defD(&c.Retry.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.Retry.Statuses == nil {
		c.Retry.Statuses = []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	if c.Retry.BudgetTokens == 0 {
		c.Retry.BudgetTokens = DefaultBudgetTokens
	}
	if c.Retry.BudgetRatio == 0 {
		c.Retry.BudgetRatio = DefaultBudgetRatio
	}
	if c.Hedge.Quantile == 0 {
		c.Hedge.Quantile = DefaultHedgeQuantile
	}
	if c.Hedge.MedianMultiple == 0 {
		c.Hedge.MedianMultiple = DefaultHedgeMedianMultiple
	}
	def(&c.Hedge.MinSamples, DefaultHedgeMinSamples)
	defD(&c.Hedge.MinDelay, DefaultHedgeMinDelay)
	if c.Breaker.FailureRatio == 0 {
		c.Breaker.FailureRatio = DefaultBreakerFailureRatio
	}
	def(&c.Breaker.MinRequests, DefaultBreakerMinRequests)
	defD(&c.Breaker.Window, DefaultBreakerWindow)
	defD(&c.Breaker.OpenFor, DefaultBreakerOpenFor)
	if c.CoalesceMaxBytes == 0 {
		c.CoalesceMaxBytes = DefaultCoalesceMaxBytes
	}
	def(&c.MaxHosts, DefaultMaxHosts)
	defD(&c.SlowHost, DefaultSlowHost)
	return c
}

// Validate reports every field out of range at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, v any, want string) {
		errs = append(errs, fmt.Errorf("netopt: %s = %v: must be %s", field, v, want))
	}
	if c.Pool.MaxConnections < 0 {
		bad("pool.maxConnections", c.Pool.MaxConnections, "non-negative")
	}
	if c.Pool.MaxIdleConnections < 0 {
		bad("pool.maxIdleConnections", c.Pool.MaxIdleConnections, "non-negative")
	}
	if c.Pool.MaxConnections > 0 && c.Pool.MaxIdleConnections > c.Pool.MaxConnections {
		bad("pool.maxIdleConnections", c.Pool.MaxIdleConnections, fmt.Sprintf("at most pool.maxConnections (%d)", c.Pool.MaxConnections))
	}
	if c.Pool.IdleTimeout < 0 || c.Pool.ConnectTimeout < 0 {
		bad("pool.idleTimeout/connectTimeout", fmt.Sprint(c.Pool.IdleTimeout, "/", c.Pool.ConnectTimeout), "non-negative")
	}
	if c.Retry.MaxAttempts < 0 || c.Retry.MaxAttempts > 10 {
		bad("retry.maxAttempts", c.Retry.MaxAttempts, "in 0..10")
	}
	if c.Retry.BackoffBase < 0 || c.Retry.BackoffMax < 0 || c.Retry.MaxRetryAfter < 0 {
		bad("retry.backoffBase/backoffMax/maxRetryAfter", fmt.Sprint(c.Retry.BackoffBase, "/", c.Retry.BackoffMax, "/", c.Retry.MaxRetryAfter), "non-negative")
	}
	for _, s := range c.Retry.Statuses {
		if s < 100 || s > 599 {
			bad("retry.statuses", s, "HTTP status codes in 100..599")
		}
	}
	if c.Retry.BudgetTokens < 0 || c.Retry.BudgetTokens > 1000 {
		bad("retry.budgetTokens", c.Retry.BudgetTokens, "in 0..1000")
	}
	if c.Retry.BudgetRatio < 0 || c.Retry.BudgetRatio > 1 {
		bad("retry.budgetRatio", c.Retry.BudgetRatio, "in 0..1")
	}
	if c.Hedge.Delay < 0 || c.Hedge.MinDelay < 0 {
		bad("hedge.delay/minDelay", fmt.Sprint(c.Hedge.Delay, "/", c.Hedge.MinDelay), "non-negative")
	}
	if c.Hedge.Quantile < 0 || c.Hedge.Quantile >= 1 {
		bad("hedge.quantile", c.Hedge.Quantile, "in [0, 1)")
	}
	if c.Hedge.MedianMultiple > 0 && c.Hedge.MedianMultiple < 1 {
		bad("hedge.medianMultiple", c.Hedge.MedianMultiple, "at least 1 (or negative to hedge at the quantile alone)")
	}
	if c.Hedge.MinSamples < 0 {
		bad("hedge.minSamples", c.Hedge.MinSamples, "non-negative")
	}
	if c.Breaker.FailureRatio < 0 || c.Breaker.FailureRatio > 1 {
		bad("breaker.failureRatio", c.Breaker.FailureRatio, "in 0..1")
	}
	if c.Breaker.MinRequests < 0 || c.Breaker.Window < 0 || c.Breaker.OpenFor < 0 {
		bad("breaker.minRequests/window/openFor", fmt.Sprint(c.Breaker.MinRequests, "/", c.Breaker.Window, "/", c.Breaker.OpenFor), "non-negative")
	}
	if c.CoalesceMaxBytes < 0 {
		bad("coalesceMaxBytes", c.CoalesceMaxBytes, "non-negative")
	}
	if c.MaxHosts < 0 {
		bad("maxHosts", c.MaxHosts, "non-negative")
	}
	if c.SlowHost < 0 {
		bad("slowHost", c.SlowHost, "non-negative")
	}
	return errors.Join(errs...)
}
