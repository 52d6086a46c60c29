package perfengine

import (
	"fmt"

	"github.com/perfengine/perfengine/target"
)

// TargetsConfig lists what the daemon watches besides itself.
type TargetsConfig []TargetConfig

// TargetConfig is one target of the daemon: a service's Prometheus
// endpoint, an HTTP probe, databases, or a Prometheus server. Zero fields
// mean their defaults; Thresholds zero pairs inherit the global ones.
type TargetConfig struct {
	Name   string            `yaml:"name" json:"name"`
	Type   string            `yaml:"type" json:"type"` // service, http, database, prometheus
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	// URL: the /metrics endpoint, the probed URL, or the Prometheus base URL.
	URL      string   `yaml:"url" json:"url,omitempty"`
	Interval Duration `yaml:"interval" json:"interval,omitempty"` // default 15s
	Timeout  Duration `yaml:"timeout" json:"timeout,omitempty"`   // default 5s, at most interval
	// MaxBytes bounds an exposition; default 16 MiB.
	MaxBytes     int64             `yaml:"maxBytes" json:"maxBytes,omitempty"`
	Series       target.Series     `yaml:"series" json:"series,omitempty"`
	Method       string            `yaml:"method" json:"method,omitempty"`
	ExpectStatus []int             `yaml:"expectStatus" json:"expectStatus,omitempty"`
	Queries      map[string]string `yaml:"queries" json:"queries,omitempty"`
	Lookback     Duration          `yaml:"lookback" json:"lookback,omitempty"`
	Version      string            `yaml:"version" json:"version,omitempty"`
	// DSNs of a database target, one database module each.
	DSNs       []string   `yaml:"dsns" json:"-"`
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
}

// spec turns the config into a target.Spec (without the database source).
func (c TargetConfig) spec() target.Spec {
	return target.Spec{
		Name: c.Name, Kind: target.Kind(c.Type), Labels: c.Labels, URL: c.URL,
		Interval: c.Interval.D(), Timeout: c.Timeout.D(), MaxBytes: c.MaxBytes, Series: c.Series,
		Method: c.Method, ExpectStatus: c.ExpectStatus, Queries: c.Queries, Lookback: c.Lookback.D(),
		Version: c.Version,
	}
}

// thresholds are the target's own, each zero pair the global one.
func (c TargetConfig) thresholds(global Thresholds) Thresholds {
	t := c.Thresholds
	pick := func(own *Threshold, g Threshold) {
		if own.Warning == 0 && own.Critical == 0 {
			*own = g
		}
	}
	pick(&t.CPU, global.CPU)
	pick(&t.Memory, global.Memory)
	pick(&t.ResponseTime, global.ResponseTime)
	pick(&t.Throughput, global.Throughput)
	pick(&t.ErrorRate, global.ErrorRate)
	if t.Hysteresis == 0 {
		t.Hysteresis = global.Hysteresis
	}
	return t
}

func (c TargetsConfig) validate(p *problems) {
	seen := map[string]bool{}
	for i, t := range c {
		field := fmt.Sprintf("targets[%d]", i)
		if t.Name != "" {
			field = fmt.Sprintf("targets[%d] (%s)", i, t.Name)
		}
		if seen[t.Name] {
			p.add(field+".name", t.Name, "is used by another target")
		}
		seen[t.Name] = true
		s := t.spec()
		if s.Kind == target.Database {
			if len(t.DSNs) == 0 {
				p.add(field+".dsns", nil, "must list at least one PostgreSQL or SQLite DSN")
			}
			// The source is built at New; a placeholder lets Validate check
			// the rest.
			s.Source = target.SourceFunc(nil)
		}
		if err := s.Validate(); err != nil {
			p.add(field, nil, "%v", err)
		}
		th := t.thresholds(Thresholds{CPU: Threshold{1, 1}, Memory: Threshold{1, 1}, ResponseTime: Threshold{1, 1}, ErrorRate: Threshold{1, 1}})
		checkHigher(p, field+".thresholds.cpu", th.CPU, 0, 100)
		checkHigher(p, field+".thresholds.memory", th.Memory, 0, 1)
		checkHigher(p, field+".thresholds.responseTime", th.ResponseTime, 0, 3_600_000)
		checkHigher(p, field+".thresholds.errorRate", th.ErrorRate, 0, 1)
	}
}
