package metrics

import "time"

// Unit names what a Sample's value measures.
type Unit string

// Units used across perfengine. Durations are reported in milliseconds in
// samples (people read them), and in seconds in Prometheus (its convention).
const (
	UnitPercent      Unit = "percent"    // 0..100
	UnitRatio        Unit = "ratio"      // 0..1
	UnitBytes        Unit = "bytes"      //
	UnitMilliseconds Unit = "ms"         //
	UnitSeconds      Unit = "s"          //
	UnitPerSecond    Unit = "per_second" // events per second
	UnitCount        Unit = "count"      // a gauge of things
	UnitTotal        Unit = "total"      // a monotonically increasing counter
)

// Sample is one measurement at one instant. Labels, when present, come from
// bounded sets (a route pattern, a host, a table), never raw URLs or SQL.
type Sample struct {
	Name   string            `json:"name"`
	Value  float64           `json:"value"`
	Unit   Unit              `json:"unit,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Time   time.Time         `json:"time"`
}

// Key identifies the series a sample belongs to: its name and its labels in
// sorted order, for example `http_latency_p95_ms{route="GET /api/products"}`.
func (s Sample) Key() string { return SeriesKey(s.Name, s.Labels) }
