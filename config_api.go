package perfengine

import (
	"net/netip"
	"strings"
	"time"
)

// APIConfig configures the API module (package apiopt). Zero values mean
// the defaults noted on each field.
type APIConfig struct {
	// CacheRoutes caches ServeMux patterns whose responses carry no
	// freshness of their own: comma-separated PATTERN=TTL pairs, such as
	// "GET /api/products=30s, GET /api/products/{id}=30s". (A string rather
	// than a map keeps Config comparable.) Responses that are private, set
	// cookies or answer Authorization are never stored this way. Default none.
	CacheRoutes string `yaml:"cacheRoutes" json:"cacheRoutes"`
	// CacheMaxBytes bounds the cache's memory; default 64 MiB.
	CacheMaxBytes int64 `yaml:"cacheMaxBytes" json:"cacheMaxBytes"`
	// CachePackAbove is the body size from which stored bodies are packed
	// with LZ4, in memory and in Redis; default 4096, negative never.
	CachePackAbove int `yaml:"cachePackAbove" json:"cachePackAbove"`
	// CacheDisabled turns the response cache off.
	CacheDisabled bool `yaml:"cacheDisabled" json:"cacheDisabled"`
	// AdaptiveTTL grows a rule-cached entry's TTL while it revalidates
	// unchanged and shrinks it when it changes, within MinTTL..MaxTTL
	// (defaults 1s..1h).
	AdaptiveTTL bool     `yaml:"adaptiveTTL" json:"adaptiveTTL"`
	MinTTL      Duration `yaml:"minTTL" json:"minTTL"`
	MaxTTL      Duration `yaml:"maxTTL" json:"maxTTL"`
	// CompressionDisabled turns gzip, zstd and brotli off.
	CompressionDisabled bool `yaml:"compressionDisabled" json:"compressionDisabled"`
	// CompressMinBytes is the smallest body compressed; default 1024.
	CompressMinBytes int `yaml:"compressMinBytes" json:"compressMinBytes"`
	// RateLimit is requests per RateLimitPeriod (default 1m) per key; 0
	// turns rate limiting off (the default). RateLimitBurst defaults to it.
	RateLimit       int      `yaml:"rateLimit" json:"rateLimit"`
	RateLimitPeriod Duration `yaml:"rateLimitPeriod" json:"rateLimitPeriod"`
	RateLimitBurst  int      `yaml:"rateLimitBurst" json:"rateLimitBurst"`
	// RateLimitKey is "ip" (default), "route" or "header:NAME".
	RateLimitKey string `yaml:"rateLimitKey" json:"rateLimitKey"`
	// TrustedProxies are comma-separated CIDRs whose X-Forwarded-For is
	// believed, such as "10.0.0.0/8, 192.168.0.0/16". Default none.
	TrustedProxies string `yaml:"trustedProxies" json:"trustedProxies"`
	// RedisURL keeps rate-limit counters in Redis (redis://host:port/db),
	// shared by every instance, with a local fallback. Empty: in memory.
	RedisURL string `yaml:"redisURL" json:"redisURL" perfengine:"secret"`
	// ConcurrencyLimit sheds load with 503 past an adaptive (Gradient2)
	// concurrency limit. Off by default.
	ConcurrencyLimit bool `yaml:"concurrencyLimit" json:"concurrencyLimit"`
	// SlowThreshold marks a route slow above this p95; default 500ms.
	SlowThreshold Duration `yaml:"slowThreshold" json:"slowThreshold"`
}

func defaultAPIConfig() APIConfig { return APIConfig{} }

// RouteTTLs parses CacheRoutes.
func (c APIConfig) RouteTTLs() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	var p problems
	for item := range strings.SplitSeq(c.CacheRoutes, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '=')
		if i < 0 {
			p.add("api.cacheRoutes", item, "must be PATTERN=TTL, such as GET /api/products=30s")
			continue
		}
		route, raw := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		ttl, err := time.ParseDuration(raw)
		if err != nil || ttl <= 0 {
			p.add("api.cacheRoutes", item, "TTL must be a positive duration such as 30s")
			continue
		}
		if !strings.HasPrefix(route, "GET ") && !strings.HasPrefix(route, "/") {
			p.add("api.cacheRoutes", item, `route must be a GET ServeMux pattern such as "GET /api/products"`)
			continue
		}
		out[route] = ttl
	}
	return out, p.err()
}

// Proxies parses TrustedProxies.
func (c APIConfig) Proxies() []string {
	var out []string
	for s := range strings.SplitSeq(c.TrustedProxies, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c APIConfig) validate(p *problems) {
	if _, err := c.RouteTTLs(); err != nil {
		p.add("api.cacheRoutes", c.CacheRoutes, "must be comma-separated PATTERN=TTL pairs with GET patterns and positive TTLs, such as \"GET /api/products=30s\"")
	}
	if c.CacheMaxBytes < 0 {
		p.add("api.cacheMaxBytes", c.CacheMaxBytes, "must not be negative")
	}
	if c.MinTTL < 0 || c.MaxTTL < 0 || (c.MaxTTL > 0 && c.MinTTL > c.MaxTTL) {
		p.add("api.minTTL", c.MinTTL, "must be non-negative and not above api.maxTTL (%v)", c.MaxTTL)
	}
	if c.CompressMinBytes < 0 {
		p.add("api.compressMinBytes", c.CompressMinBytes, "must not be negative")
	}
	if c.RateLimit < 0 || c.RateLimitBurst < 0 || c.RateLimitPeriod < 0 {
		p.add("api.rateLimit", c.RateLimit, "rateLimit, rateLimitBurst and rateLimitPeriod must not be negative")
	}
	if k := c.RateLimitKey; k != "" && k != "ip" && k != "route" && !(strings.HasPrefix(k, "header:") && len(k) > len("header:")) {
		p.add("api.rateLimitKey", k, "must be ip, route or header:NAME")
	}
	for _, cidr := range c.Proxies() {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			p.add("api.trustedProxies", cidr, "must be a CIDR such as 10.0.0.0/8")
		}
	}
	checkURL(p, "api.redisURL", c.RedisURL, "redis", "rediss")
	if c.SlowThreshold < 0 || c.SlowThreshold.D() > time.Hour {
		p.add("api.slowThreshold", c.SlowThreshold, "must be between 0 and 1h")
	}
}
