package netopt

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the transport's per-host figures as a
// prometheus.Collector, for a service that uses netopt without the engine:
// register it on the service's own registry. Counters are totals since the
// transport was made; latencies are gauges over the recent window of each
// host. Hosts beyond the transport's bound are folded into one series, so
// the host label stays bounded.
func (t *Transport) Collector() prometheus.Collector { return &collector{t: t} }

type collector struct{ t *Transport }

var _ prometheus.Collector = (*collector)(nil)

func netDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("perfengine_net_"+name, help, []string{"host"}, nil)
}

var (
	netRequests  = netDesc("requests_total", "Requests sent through the transport.")
	netAttempts  = netDesc("attempts_total", "Attempts sent, retries and hedges included.")
	netRetries   = netDesc("retries_total", "Retried attempts.")
	netHedges    = netDesc("hedges_total", "Hedged second attempts sent.")
	netHedgeWins = netDesc("hedge_wins_total", "Hedges that answered first.")
	netFailures  = netDesc("failures_total", "Attempts that failed.")
	netRejected  = netDesc("circuit_rejected_total", "Requests refused by an open circuit breaker.")
	netThrottled = netDesc("retries_throttled_total", "Retries refused by the retry budget.")
	netCoalesced = netDesc("coalesced_total", "Requests answered by another request's round trip.")
	netConns     = netDesc("connections_total", "Connections obtained, new or reused.")
	netReuse     = netDesc("connection_reuse_ratio", "Reused connections over connections obtained, 0..1.")
	netInFlight  = netDesc("in_flight_requests", "Requests in flight now.")
	netOpen      = netDesc("circuit_open", "1 while the host's circuit breaker is open or half-open.")
	netP50       = netDesc("latency_p50_seconds", "Median attempt latency over the recent window.")
	netP95       = netDesc("latency_p95_seconds", "95th percentile attempt latency over the recent window.")
	netP99       = netDesc("latency_p99_seconds", "99th percentile attempt latency over the recent window.")
	netTTFB      = netDesc("ttfb_seconds", "Mean time from sending a request to its response headers.")
	netHedgeAt   = netDesc("hedge_delay_seconds", "Delay after which a second attempt is sent, 0 when not hedging.")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{netRequests, netAttempts, netRetries, netHedges, netHedgeWins, netFailures,
		netRejected, netThrottled, netCoalesced, netConns, netReuse, netInFlight, netOpen, netP50, netP95, netP99, netTTFB, netHedgeAt} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.t.Metrics(context.Background()).Hosts {
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), h.Host)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, h.Host)
		}
		counter(netRequests, h.Requests)
		counter(netAttempts, h.Attempts)
		counter(netRetries, h.Retries)
		counter(netHedges, h.Hedges)
		counter(netHedgeWins, h.HedgeWins)
		counter(netFailures, h.Failures)
		counter(netRejected, h.Rejected)
		counter(netThrottled, h.Throttled)
		counter(netCoalesced, h.Coalesced)
		counter(netConns, h.Conns)
		gauge(netReuse, h.ReuseRatio)
		gauge(netInFlight, float64(h.InFlight))
		open := 0.0
		if h.Breaker != BreakerClosed {
			open = 1
		}
		gauge(netOpen, open)
		gauge(netP50, h.P50.Seconds())
		gauge(netP95, h.P95.Seconds())
		gauge(netP99, h.P99.Seconds())
		gauge(netTTFB, h.TTFB.Seconds())
		gauge(netHedgeAt, h.HedgeDelay.Seconds())
	}
}
