package memopt

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the optimizer's figures as a prometheus.Collector, for
// a service that uses memopt without the engine: register it on the
// service's own registry. A scrape reads the latest sample (taking one if
// monitoring has not started), the trend tests and the leaks found.
func (m *Optimizer) Collector() prometheus.Collector { return &collector{m: m} }

type collector struct{ m *Optimizer }

var _ prometheus.Collector = (*collector)(nil)

func memDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("perfengine_memory_"+name, help, nil, nil)
}

var (
	memHeapLive    = memDesc("heap_live_bytes", "Heap marked live by the last GC.")
	memHeapGoal    = memDesc("heap_goal_bytes", "Heap size at which the next GC is due.")
	memRSS         = memDesc("rss_bytes", "Resident set size.")
	memGoroutines  = memDesc("goroutines", "Live goroutines.")
	memUsage       = memDesc("usage_ratio", "Memory in use over the effective limit, 0..1 (0 without a limit).")
	memGCCPU       = memDesc("gc_cpu_ratio", "Share of CPU time spent in the GC since the previous sample, 0..1.")
	memGOGC        = memDesc("gogc_percent", "Current GOGC (-1 when the GC is off).")
	memLimit       = memDesc("gomemlimit_bytes", "Current soft memory limit (absent when none).")
	memHeapGrowth  = memDesc("heap_growth_bytes_per_second", "Theil-Sen slope of the live heap over the detector's window.")
	memGoGrowth    = memDesc("goroutine_growth_per_second", "Theil-Sen slope of the goroutine count over the detector's window.")
	memLeaks       = memDesc("leaks", "Leaks found now (heap, goroutines).")
	memScrapeError = memDesc("scrape_error", "1 when the last scrape could not read the optimizer.")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{memHeapLive, memHeapGoal, memRSS, memGoroutines, memUsage, memGCCPU,
		memGOGC, memLimit, memHeapGrowth, memGoGrowth, memLeaks, memScrapeError} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	met, err := c.m.Metrics(ctx)
	if err != nil {
		gauge(memScrapeError, 1)
		return
	}
	gauge(memScrapeError, 0)
	s := met.Sample
	gauge(memHeapLive, float64(s.HeapLive))
	gauge(memHeapGoal, float64(s.HeapGoal))
	gauge(memRSS, float64(s.RSS))
	gauge(memGoroutines, float64(s.Goroutines))
	gauge(memUsage, met.Usage)
	gauge(memGCCPU, s.GCCPUFraction)
	gauge(memGOGC, float64(s.GOGC))
	if s.MemoryLimit > 0 && s.MemoryLimit < math.MaxInt64 {
		gauge(memLimit, float64(s.MemoryLimit))
	}
	gauge(memHeapGrowth, met.HeapTrend.Slope)
	gauge(memGoGrowth, met.GoroutineTrend.Slope)
	gauge(memLeaks, float64(met.Leaks))
}
