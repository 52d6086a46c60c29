package loadtest

import (
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// Samples expresses the result in the engine's vocabulary, so a load test
// can be recorded in the store or compared with what the API module sees:
// p95 latency as metrics.ResponseTimeMs, throughput and error rate under
// their standard names, and the tail and schedule figures under loadtest_*
// names. Every sample carries the label source=loadtest.
func (r *Result) Samples(at time.Time) []metrics.Sample {
	l := map[string]string{"source": "loadtest"}
	s := func(name string, v float64, u metrics.Unit) metrics.Sample {
		return metrics.Sample{Name: name, Value: v, Unit: u, Labels: l, Time: at}
	}
	return []metrics.Sample{
		s(metrics.ResponseTimeMs, r.Latency.P95, metrics.UnitMilliseconds),
		s(metrics.ThroughputRPS, r.Throughput(), metrics.UnitPerSecond),
		s(metrics.ErrorRate, r.ErrorRatio(), metrics.UnitRatio),
		s("loadtest_latency_p50_ms", r.Latency.P50, metrics.UnitMilliseconds),
		s("loadtest_latency_p99_ms", r.Latency.P99, metrics.UnitMilliseconds),
		s("loadtest_latency_uncorrected_p99_ms", r.LatencyUncorrected.P99, metrics.UnitMilliseconds),
		s("loadtest_requests", float64(r.Requests), metrics.UnitCount),
		s("loadtest_dropped", float64(r.Dropped), metrics.UnitCount),
		s("loadtest_late", float64(r.Late), metrics.UnitCount),
	}
}
