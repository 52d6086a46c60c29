package dbopt

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/metrics"
)

// collectTimeout bounds the queries one scrape makes.
const collectTimeout = 5 * time.Second

// Collector returns the database's figures (Metrics) as a
// prometheus.Collector (perfengine_db_size_bytes, perfengine_db_cache_hit_ratio, ...), in base units, for a service
// that uses dbopt without the engine: register it on the service's own
// registry. Each scrape runs the statistics queries Metrics runs, bounded
// in time; a scrape that cannot reach the database exports nothing but
// perfengine_db_up 0.
func (o *Optimizer) Collector() prometheus.Collector {
	return &collector{o: o}
}

type collector struct{ o *Optimizer }

var _ prometheus.Collector = (*collector)(nil)

var dbUp = prometheus.NewDesc("perfengine_db_up", "1 when the last scrape read the database's statistics.", nil, nil)

// Describe sends nothing: the names depend on the backend and are known at
// scrape time, so the collector is unchecked.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	samples, err := c.o.Metrics(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(dbUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(dbUp, prometheus.GaugeValue, 1)
	// Samples are named db_* already: perfengine_db_size_bytes and so on.
	metrics.NewExporter("perfengine", func() []metrics.Sample { return samples }).Collect(ch)
}
