package metrics

// Well-known sample names. The engine evaluates its thresholds against these;
// modules that measure the same thing report under the same name so the
// engine sees one series.
const (
	// CPUPercent is process CPU time as a percentage of the whole machine
	// (all cores), 0..100.
	CPUPercent = "cpu_percent"
	// CPUPercentOfGOMAXPROCS is process CPU time as a percentage of the cores
	// the Go scheduler may use.
	CPUPercentOfGOMAXPROCS = "cpu_gomaxprocs_percent"
	// MemoryUsageRatio is resident memory divided by the memory limit
	// (GOMEMLIMIT, the cgroup limit, or physical memory, whichever is lowest).
	MemoryUsageRatio = "memory_usage_ratio"
	// MemoryLimitBytes is the limit MemoryUsageRatio divides by.
	MemoryLimitBytes = "memory_limit_bytes"
	RSSBytes         = "memory_rss_bytes"
	HeapInUseBytes   = "memory_heap_inuse_bytes"
	LiveHeapBytes    = "memory_heap_live_bytes" // live heap after the last GC
	GCPauseP99Ms     = "gc_pause_p99_ms"
	GCCPUFraction    = "gc_cpu_fraction"
	Goroutines       = "goroutines"
	OpenFDs          = "open_fds"

	// ResponseTimeMs is the service's p95 response time in milliseconds.
	ResponseTimeMs = "response_time_ms"
	// ThroughputRPS is requests served per second.
	ThroughputRPS = "throughput_rps"
	// ErrorRate is the fraction of requests that failed (5xx), 0..1.
	ErrorRate = "error_rate"
)
