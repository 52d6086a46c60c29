package perfengine

import (
	"strings"
	"time"
)

// StoreConfig configures persistence.
type StoreConfig struct {
	// DSN of the store: sqlite:PATH or postgres://…. Empty: SQLite in
	// DataDir.
	DSN string `yaml:"dsn" json:"dsn" perfengine:"secret"`
	// DataDir holds the embedded SQLite store; default ".perfengine".
	DataDir string `yaml:"dataDir" json:"dataDir"`
	// RawRetention keeps raw samples this long; default 24h.
	RawRetention Duration `yaml:"rawRetention" json:"rawRetention"`
	// AggregateRetention keeps 1-minute aggregates this long; default 720h.
	AggregateRetention Duration `yaml:"aggregateRetention" json:"aggregateRetention"`
}

// DefaultDataDir is where the embedded store lives unless configured.
const DefaultDataDir = ".perfengine"

func defaultStoreConfig() StoreConfig {
	return StoreConfig{
		DataDir:            DefaultDataDir,
		RawRetention:       Duration(24 * time.Hour),
		AggregateRetention: Duration(30 * 24 * time.Hour),
	}
}

func (c StoreConfig) validate(p *problems) {
	if c.DSN != "" && !strings.HasPrefix(c.DSN, "postgres://") && !strings.HasPrefix(c.DSN, "postgresql://") && !strings.HasPrefix(c.DSN, "sqlite:") {
		p.add("store.dsn", redactDSN(c.DSN), "must start with postgres://, postgresql:// or sqlite:")
	}
	if c.RawRetention.D() < time.Minute {
		p.add("store.rawRetention", c.RawRetention, "must be at least 1m")
	}
	if c.AggregateRetention.D() < c.RawRetention.D() {
		p.add("store.aggregateRetention", c.AggregateRetention, "must be at least the raw retention %s", c.RawRetention)
	}
}

// redactDSN hides a password in a DSN before it is printed.
func redactDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return dsn[:scheme+3] + userinfo[:i] + ":xxxxx" + dsn[at:]
	}
	return dsn
}
