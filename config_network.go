package perfengine

import (
	"time"

	"github.com/perfengine/perfengine/netopt"
)

// NetworkConfig configures the network module (package netopt): the pool
// and resilience of the outbound HTTP client the service uses. Zero values
// mean the defaults noted on each field.
type NetworkConfig struct {
	// MaxConnections per host, in use and idle; default 50.
	MaxConnections int `yaml:"maxConnections" json:"maxConnections"`
	// MaxIdleConnections kept per host; default 10.
	MaxIdleConnections int `yaml:"maxIdleConnections" json:"maxIdleConnections"`
	// IdleTimeout closes idle connections; default 30s.
	IdleTimeout Duration `yaml:"idleTimeout" json:"idleTimeout"`
	// ConnectionTimeout bounds dialing and the TLS handshake; default 5s.
	ConnectionTimeout Duration `yaml:"connectionTimeout" json:"connectionTimeout"`
	// MaxAttempts of an idempotent request, the first included; default 5.
	MaxAttempts int `yaml:"maxAttempts" json:"maxAttempts"`
	// RetriesDisabled sends every request once.
	RetriesDisabled bool `yaml:"retriesDisabled" json:"retriesDisabled"`
	// HedgeDelay is a fixed hedging delay; default 0: the host's observed p95.
	HedgeDelay Duration `yaml:"hedgeDelay" json:"hedgeDelay"`
	// HedgingDisabled never sends a second copy of a slow request.
	HedgingDisabled bool `yaml:"hedgingDisabled" json:"hedgingDisabled"`
	// BreakerDisabled turns the per-host circuit breakers off.
	BreakerDisabled bool `yaml:"breakerDisabled" json:"breakerDisabled"`
	// CompressionDisabled sends no Accept-Encoding of ours.
	CompressionDisabled bool `yaml:"compressionDisabled" json:"compressionDisabled"`
	// SlowHost reports a host whose p95 exceeds it; default 500ms.
	SlowHost Duration `yaml:"slowHost" json:"slowHost"`
	// KeepAlive reuses connections across requests (HTTP keep-alive, with
	// TCP keep-alive probes), as the seed's connection pool does; default
	// true. false closes every connection after one request. A pointer so
	// that a section built in code without it keeps the default.
	KeepAlive *bool `yaml:"keepAlive" json:"keepAlive"`
}

func defaultNetworkConfig() NetworkConfig {
	on := true
	return NetworkConfig{KeepAlive: &on}
}

// Netopt returns the netopt configuration the section describes.
func (c NetworkConfig) Netopt() netopt.Config {
	nc := netopt.Config{
		Pool: netopt.PoolConfig{
			MaxConnections: c.MaxConnections, MaxIdleConnections: c.MaxIdleConnections,
			IdleTimeout: c.IdleTimeout.D(), ConnectTimeout: c.ConnectionTimeout.D(),
		},
		Retry:       netopt.RetryConfig{Disabled: c.RetriesDisabled, MaxAttempts: c.MaxAttempts},
		Hedge:       netopt.HedgeConfig{Disabled: c.HedgingDisabled, Delay: c.HedgeDelay.D()},
		Breaker:     netopt.BreakerConfig{Disabled: c.BreakerDisabled},
		Compression: netopt.CompressionConfig{Disabled: c.CompressionDisabled},
		SlowHost:    c.SlowHost.D(),
	}
	if c.KeepAlive != nil && !*c.KeepAlive {
		nc.Pool.DisableKeepAlives, nc.Pool.KeepAlive = true, -1
	}
	return nc
}

func (c NetworkConfig) validate(p *problems) {
	if c.MaxConnections < 0 {
		p.add("network.maxConnections", c.MaxConnections, "must not be negative")
	}
	if c.MaxIdleConnections < 0 || (c.MaxConnections > 0 && c.MaxIdleConnections > c.MaxConnections) {
		p.add("network.maxIdleConnections", c.MaxIdleConnections, "must be in 0..network.maxConnections (%d)", c.MaxConnections)
	}
	if c.IdleTimeout < 0 || c.ConnectionTimeout < 0 || c.HedgeDelay < 0 || c.SlowHost < 0 {
		p.add("network.idleTimeout", c.IdleTimeout, "idleTimeout, connectionTimeout, hedgeDelay and slowHost must not be negative")
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > 10 {
		p.add("network.maxAttempts", c.MaxAttempts, "must be in 0..10")
	}
	if c.HedgeDelay > 0 && c.HedgeDelay.D() < time.Millisecond {
		p.add("network.hedgeDelay", c.HedgeDelay, "must be at least 1ms: a shorter delay doubles every request")
	}
}
