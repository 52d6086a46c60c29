// Package metrics is perfengine's shared vocabulary for measurements.
//
// Every module reports what it measures as [Sample] values (a name from
// names.go, a value, a unit, bounded labels and a time). The engine keeps
// them in a [Set] of [Series]: fixed-capacity ring buffers, so memory stays
// bounded however long the process runs, from which [Series.Stats] computes
// windowed statistics (mean, min, max, exact p50/p95/p99 and the
// least-squares slope per second) in microseconds. Latencies are recorded in
// HDR histograms ([Histogram], one per worker, merged), or from many
// goroutines at once through a striped [LatencyRecorder] whose Record does
// not allocate and rarely contends. [RuntimeCollector] reads the Go runtime
// (runtime/metrics) and the process (/proc, cgroups) every interval, cheaply
// enough to run every second, and [Exporter] exposes any sample source to
// Prometheus in base units on a registry the caller owns.
//
// # Example
//
//	rc := metrics.NewRuntimeCollector()
//	set := metrics.NewSet(600) // ten minutes at one sample per second
//	for now := range time.Tick(time.Second) {
//		set.Observe(rc.Collect(now)...)
//		cpu, _ := set.Get(metrics.CPUPercent)
//		st := cpu.Stats(now, time.Minute)
//		fmt.Printf("cpu p95 over the last minute: %.1f%%, trend %+.2f%%/s\n", st.P95, st.Slope)
//	}
//
// Exporting the same samples to Prometheus:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewExporter("perfengine", func() []metrics.Sample {
//		return rc.Collect(time.Now())
//	}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Concurrency
//
// Series, Set, LatencyRecorder, RuntimeCollector and Exporter are safe for
// concurrent use. Histogram is not: it is the per-worker building block.
package metrics
