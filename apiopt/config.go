package apiopt

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/perfengine/perfengine/apiopt/compress"
	"github.com/perfengine/perfengine/apiopt/ratelimit"
)

// Defaults.
const (
	DefaultSlowThreshold  = 500 * time.Millisecond
	DefaultIdenticalRatio = 0.95
	DefaultMinSamples     = 20
	DefaultSuggestedTTL   = 60 * time.Second
	DefaultWindow         = 10 * time.Minute
	// CriticalPressure is how much rate and concurrency limits shrink while
	// the engine reports the service critical.
	CriticalPressure = 0.5
)

// Config configures an Optimizer. The zero value caches what origins allow,
// compresses, and does not rate limit.
type Config struct {
	Cache       CacheConfig
	Compression CompressionConfig
	RateLimit   RateLimitConfig
	Concurrency ConcurrencyConfig
	// SlowThreshold marks a route slow when its p95 exceeds it; default 500ms.
	SlowThreshold time.Duration
	// IdenticalRatio is the share of identical bodies per URL above which a
	// route is proposed for caching; default 0.95.
	IdenticalRatio float64
	// MinSamples before a route is judged; default 20.
	MinSamples int
	// Window over which identical bodies are counted; default 10m.
	Window time.Duration
}

// CacheConfig configures the response cache.
type CacheConfig struct {
	Disabled bool
	// MaxBytes bounds memory; default 64 MiB. MaxEntryBytes bounds one
	// body; default 1 MiB.
	MaxBytes      int64
	MaxEntryBytes int
	// PackAbove is the body size from which stored bodies are held packed
	// with LZ4 (cache.Config.PackAbove); default 4 KiB, negative never.
	PackAbove int
	// Routes caches the listed ServeMux patterns for the given TTL when the
	// origin gives no freshness itself, e.g. {"GET /api/products": 30s}.
	Routes map[string]time.Duration
	// Adaptive grows and shrinks the TTL of rule-cached entries within
	// MinTTL..MaxTTL (defaults 1s..1h) as they revalidate unchanged or not.
	Adaptive       bool
	MinTTL, MaxTTL time.Duration
	// KeepParents turns off the default that a successful write to /a/b also
	// drops cached /a/b and /a with any query.
	KeepParents bool
	// TargetedFields are the response fields obeyed ahead of Cache-Control
	// (RFC 9213); default Perfengine-Cache-Control, then CDN-Cache-Control.
	// ForwardTargeted passes them on to clients; by default they stop here.
	TargetedFields  []string
	ForwardTargeted bool
	// CookieRoutes may be stored although they set cookies (the cookie is
	// never stored); every other response with Set-Cookie is not stored.
	CookieRoutes []string
	// StorePOST lets a POST response with explicit freshness and its own
	// URI in Content-Location answer later GETs of that URI.
	StorePOST bool
}

// CompressionConfig configures response compression.
type CompressionConfig struct {
	Disabled bool
	compress.Config
}

// RateLimitConfig configures GCRA rate limiting. Rate 0 turns it off.
type RateLimitConfig struct {
	// Rate requests per Period (default 1m) per key, bursts up to Burst
	// (default Rate).
	Rate   int
	Period time.Duration
	Burst  int
	// Key selects the bucket: "ip" (default), "header:NAME" or "route".
	Key string
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Policy names the policy in the RateLimit headers; default "default".
	Policy string
}

// ConcurrencyConfig configures adaptive load shedding (Gradient2).
type ConcurrencyConfig struct {
	Enabled bool
	ratelimit.AdaptiveConfig
}

func (c Config) withDefaults() Config {
	if c.SlowThreshold == 0 {
		c.SlowThreshold = DefaultSlowThreshold
	}
	if c.IdenticalRatio == 0 {
		c.IdenticalRatio = DefaultIdenticalRatio
	}
	if c.MinSamples == 0 {
		c.MinSamples = DefaultMinSamples
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	rl := &c.RateLimit
	if rl.Period == 0 {
		rl.Period = time.Minute
	}
	if rl.Burst == 0 {
		rl.Burst = rl.Rate
	}
	if rl.Key == "" {
		rl.Key = "ip"
	}
	if rl.Policy == "" {
		rl.Policy = "default"
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("apiopt: "+format, args...)) }
	if c.SlowThreshold < 0 {
		add("SlowThreshold %v must not be negative", c.SlowThreshold)
	}
	if c.IdenticalRatio < 0 || c.IdenticalRatio > 1 {
		add("IdenticalRatio %g must be in [0, 1]", c.IdenticalRatio)
	}
	if c.MinSamples < 0 || c.Window < 0 {
		add("MinSamples and Window must not be negative")
	}
	for route, ttl := range c.Cache.Routes {
		if ttl <= 0 {
			add("Cache.Routes[%q] = %v must be positive", route, ttl)
		}
		if !strings.HasPrefix(route, "GET ") && !strings.HasPrefix(route, "/") {
			add("Cache.Routes[%q] must be a GET ServeMux pattern such as \"GET /api/products\"", route)
		}
	}
	rl := c.RateLimit
	if rl.Rate < 0 || rl.Burst < 0 || rl.Period < 0 {
		add("RateLimit Rate, Burst and Period must not be negative")
	}
	if k := rl.Key; k != "" && k != "ip" && k != "route" && !(strings.HasPrefix(k, "header:") && len(k) > len("header:")) {
		add("RateLimit.Key %q must be ip, route or header:NAME", k)
	}
	for _, p := range rl.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			add("RateLimit.TrustedProxies: %q is not a CIDR", p)
		}
	}
	if c.Concurrency.Enabled {
		if err := c.Concurrency.AdaptiveConfig.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.Compression.Disabled {
		if err := c.Compression.Config.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
