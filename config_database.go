package perfengine

import (
	"strings"
	"time"

	"github.com/perfengine/perfengine/dbopt"
)

// DatabaseConfig configures the database module.
type DatabaseConfig struct {
	// DSN of the database to watch: postgres://… or sqlite:PATH. Empty: none.
	DSN string `yaml:"dsn" json:"dsn" perfengine:"secret"`
	// AutoCreateIndexes lets the engine create suggested indexes by itself.
	// Off by default: a schema change is risky.
	AutoCreateIndexes bool `yaml:"autoCreateIndexes" json:"autoCreateIndexes"`
	// SlowQueryThreshold marks a statement slow by mean time; default 100ms.
	SlowQueryThreshold Duration `yaml:"slowQueryThreshold" json:"slowQueryThreshold"`
	// AdviceInterval is how often the index advisor and the health checks
	// run; they cost more than a collection. Default 5m.
	AdviceInterval Duration `yaml:"adviceInterval" json:"adviceInterval"`
	// IndexBudget caps the total size of suggested indexes, in bytes;
	// 0 means no cap.
	IndexBudget int64 `yaml:"indexBudget" json:"indexBudget"`
	// MaintenanceWindow is when VACUUM and ANALYZE may run, "HH:MM-HH:MM"
	// in UTC (it may wrap past midnight). Empty: any time.
	MaintenanceWindow string `yaml:"maintenanceWindow" json:"maintenanceWindow"`
}

// DefaultAdviceInterval is DatabaseConfig.AdviceInterval's default.
const DefaultAdviceInterval = 5 * time.Minute

func defaultDatabaseConfig() DatabaseConfig {
	return DatabaseConfig{SlowQueryThreshold: Duration(100 * time.Millisecond), AdviceInterval: Duration(DefaultAdviceInterval)}
}

func (c DatabaseConfig) validate(p *problems) {
	if c.DSN != "" && !strings.HasPrefix(c.DSN, "postgres://") && !strings.HasPrefix(c.DSN, "postgresql://") && !strings.HasPrefix(c.DSN, "sqlite:") {
		p.add("database.dsn", redactDSN(c.DSN), "must start with postgres://, postgresql:// or sqlite:")
	} else if c.DSN != "" {
		if _, err := dbopt.ParseDSN(c.DSN); err != nil {
			p.add("database.dsn", redactDSN(c.DSN), "must be a valid DSN: %v", err)
		}
	}
	if c.SlowQueryThreshold < 0 {
		p.add("database.slowQueryThreshold", c.SlowQueryThreshold, "must not be negative")
	}
	if d := c.AdviceInterval.D(); d != 0 && (d < time.Second || d > 24*time.Hour) {
		p.add("database.adviceInterval", d, "must be between 1s and 24h")
	}
	if c.IndexBudget < 0 {
		p.add("database.indexBudget", c.IndexBudget, "must not be negative (0: no cap)")
	}
	if _, err := dbopt.ParseWindow(c.MaintenanceWindow); err != nil {
		p.add("database.maintenanceWindow", c.MaintenanceWindow, "must be HH:MM-HH:MM in UTC, or empty for any time")
	}
}
