package metrics_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

func ExampleSeries() {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := metrics.NewSeries(metrics.ResponseTimeMs, 600)
	// Response time creeping up by 2 ms a second, with one spike: the
	// percentiles hardly notice it; the max and the least-squares trend do.
	for i := range 60 {
		v := 100 + 2*float64(i)
		if i == 50 {
			v = 900
		}
		s.Add(start.Add(time.Duration(i)*time.Second), v)
	}
	now := start.Add(59 * time.Second)
	st := s.Stats(now, 30*time.Second)
	fmt.Printf("last 30 s: n=%d p50=%.0f p95=%.1f max=%.0f slope=%.2f ms/s\n", st.Count, st.P50, st.P95, st.Max, st.Slope)
	// Output:
	// last 30 s: n=30 p50=189 p95=217.1 max=900 slope=3.71 ms/s
}

func ExampleSet() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	set := metrics.NewSet(0)
	set.Observe(
		metrics.Sample{Name: metrics.CPUPercent, Value: 35, Unit: metrics.UnitPercent, Time: now},
		metrics.Sample{Name: metrics.ResponseTimeMs, Value: 120, Unit: metrics.UnitMilliseconds, Time: now,
			Labels: map[string]string{"route": "GET /api/products"}},
	)
	for _, k := range set.Keys() {
		fmt.Println(k, set.Latest()[k])
	}
	// Output:
	// cpu_percent 35
	// response_time_ms{route="GET /api/products"} 120
}

func ExampleHistogram() {
	// One histogram per worker, merged at the end: no locks while recording.
	workers := make([]*metrics.Histogram, 4)
	var wg sync.WaitGroup
	for w := range workers {
		workers[w] = metrics.NewHistogram()
		wg.Go(func() {
			for i := 1; i <= 250; i++ {
				workers[w].Record(time.Duration(w*250+i) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	total := metrics.NewHistogram()
	for _, h := range workers {
		total.Merge(h)
	}
	fmt.Println(total.Count(), total.Quantile(0.5), total.Quantile(0.99), total.Max())
	// Output:
	// 1000 500.170751ms 990.380031ms 1.000341503s
}

func ExampleLatencyRecorder() {
	rec := metrics.NewLatencyRecorder()
	// In middleware: rec.Record(time.Since(start)) from every request goroutine.
	for i := 1; i <= 100; i++ {
		rec.Record(time.Duration(i) * time.Millisecond)
	}
	// Every interval, the engine takes that interval's figures.
	h := rec.SnapshotAndReset()
	fmt.Println("p95:", h.Quantile(0.95), "count:", h.Count())
	fmt.Println("next interval count:", rec.SnapshotAndReset().Count())
	// Output:
	// p95: 95.027199ms count: 100
	// next interval count: 0
}

func ExampleRuntimeCollector() {
	rc := metrics.NewRuntimeCollector()
	samples := rc.Collect(time.Now())
	for _, s := range samples {
		if s.Name == metrics.Goroutines {
			fmt.Println(s.Name, s.Value >= 1, s.Unit)
		}
	}
	// Output:
	// goroutines true count
}

func ExampleExporter() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewExporter("perfengine", func() []metrics.Sample {
		return []metrics.Sample{
			{Name: metrics.GCPauseP99Ms, Value: 1.5, Unit: metrics.UnitMilliseconds},
			{Name: metrics.CPUPercent, Value: 12.5, Unit: metrics.UnitPercent},
		}
	}))
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		_ = enc.Encode(mf)
	}
	fmt.Print(b.String())
	// Output:
	// # HELP perfengine_cpu_percent perfengine sample cpu_percent (percent), in Prometheus base units.
	// # TYPE perfengine_cpu_percent gauge
	// perfengine_cpu_percent 12.5
	// # HELP perfengine_gc_pause_p99_seconds perfengine sample gc_pause_p99_ms (ms), in Prometheus base units.
	// # TYPE perfengine_gc_pause_p99_seconds gauge
	// perfengine_gc_pause_p99_seconds 0.0015
}
