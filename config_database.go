package perfengine

import (
	"strings"
	"time"
)

// DatabaseConfig configures the database module.
type DatabaseConfig struct {
	// DSN of the database to watch: postgres://… or sqlite:PATH. Empty: none.
	DSN string `yaml:"dsn" json:"dsn"`
	// AutoCreateIndexes lets the engine create suggested indexes by itself.
	// Off by default: a schema change is risky.
	AutoCreateIndexes bool `yaml:"autoCreateIndexes" json:"autoCreateIndexes"`
	// SlowQueryThreshold marks a statement slow by mean time; default 100ms.
	SlowQueryThreshold Duration `yaml:"slowQueryThreshold" json:"slowQueryThreshold"`
}

func defaultDatabaseConfig() DatabaseConfig {
	return DatabaseConfig{SlowQueryThreshold: Duration(100 * time.Millisecond)}
}

func (c DatabaseConfig) validate(p *problems) {
	if c.DSN != "" && !strings.HasPrefix(c.DSN, "postgres://") && !strings.HasPrefix(c.DSN, "postgresql://") && !strings.HasPrefix(c.DSN, "sqlite:") {
		p.add("database.dsn", redactDSN(c.DSN), "must start with postgres://, postgresql:// or sqlite:")
	}
	if c.SlowQueryThreshold < 0 {
		p.add("database.slowQueryThreshold", c.SlowQueryThreshold, "must not be negative")
	}
}
