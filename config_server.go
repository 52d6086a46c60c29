package perfengine

import (
	"net"
)

// DefaultServerAddr is where the daemon listens: loopback only.
const DefaultServerAddr = "127.0.0.1:7070"

// ServerConfig configures the daemon's HTTP server.
type ServerConfig struct {
	// Addr to listen on; default 127.0.0.1:7070.
	Addr string `yaml:"addr" json:"addr"`
	// Token guards the mutating endpoints (approve, undo) as a bearer token.
	// The daemon refuses to listen beyond loopback without one.
	// Env PERFENGINE_TOKEN.
	Token string `yaml:"token" json:"-" perfengine:"secret"`
}

func defaultServerConfig() ServerConfig { return ServerConfig{Addr: DefaultServerAddr} }

func (c ServerConfig) validate(p *problems) {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p.add("server.addr", c.Addr, "must be host:port")
	}
}
