package metrics

import (
	"math"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync"
	"time"
)

// cgroupRefresh is how often the collector rereads the cgroup memory limit.
// Limits change rarely (a container resize), and rereading every second would
// cost a few file reads for nothing.
const cgroupRefresh = 30 * time.Second

// Indexes into RuntimeCollector.rt, in the order of runtimeMetricNames.
const (
	rtHeapObjects = iota
	rtHeapUnused
	rtHeapLive
	rtGCPauses
	rtCPUGC
	rtCPUTotal
	rtGoroutines
	rtMemLimit
	rtGOMAXPROCS
	rtGCCycles
)

var runtimeMetricNames = [...]string{
	rtHeapObjects: "/memory/classes/heap/objects:bytes",
	rtHeapUnused:  "/memory/classes/heap/unused:bytes",
	rtHeapLive:    "/gc/heap/live:bytes",
	rtGCPauses:    "/sched/pauses/total/gc:seconds",
	rtCPUGC:       "/cpu/classes/gc/total:cpu-seconds",
	rtCPUTotal:    "/cpu/classes/total:cpu-seconds",
	rtGoroutines:  "/sched/goroutines:goroutines",
	rtMemLimit:    "/gc/gomemlimit:bytes",
	rtGOMAXPROCS:  "/sched/gomaxprocs:threads",
	rtGCCycles:    "/gc/cycles/total:gc-cycles",
}

// RuntimeCollector samples the Go runtime and the process: CPU, memory,
// garbage collection, goroutines and file descriptors, under the names in
// names.go. Rates (CPU %, GC pause p99, GC CPU fraction) are computed
// between consecutive calls to Collect. Figures the platform does not offer
// (no /proc outside Linux, no cgroup outside a container) are left out
// rather than reported as zero. It reuses its buffers, so it is cheap to call
// every second. It is safe for concurrent use. Create it with
// NewRuntimeCollector.
type RuntimeCollector struct {
	mu sync.Mutex
	rt []rtmetrics.Sample
	os osState // platform-specific readers and their buffers

	// Previous readings, for the rates.
	prevTime   time.Time
	prevCPU    time.Duration // process user+system CPU time
	prevCPUOK  bool
	prevPauses []uint64
	prevGC     float64
	prevTotal  float64
	gcFraction float64

	memTotal     uint64 // physical memory, 0 when unknown
	cgroupLimit  uint64 // 0 when none
	cgroupReadAt time.Time
}

// NewRuntimeCollector returns a collector whose first Collect measures rates
// since this call.
func NewRuntimeCollector() *RuntimeCollector {
	c := &RuntimeCollector{rt: make([]rtmetrics.Sample, len(runtimeMetricNames))}
	for i, name := range runtimeMetricNames {
		c.rt[i].Name = name
	}
	c.os.init()
	c.memTotal, _ = c.os.memTotal()
	c.cgroupLimit, _ = c.os.cgroupLimit()

	rtmetrics.Read(c.rt)
	c.prevTime = time.Now()
	c.prevCPU, c.prevCPUOK = processCPUTime()
	if h := c.rt[rtGCPauses].Value; h.Kind() == rtmetrics.KindFloat64Histogram {
		c.prevPauses = append([]uint64(nil), h.Float64Histogram().Counts...)
	}
	c.prevGC = float64Value(c.rt[rtCPUGC].Value)
	c.prevTotal = float64Value(c.rt[rtCPUTotal].Value)
	if c.prevTotal > 0 {
		// Until a GC cycle ends after construction, the best figure is the
		// fraction since the process started (what MemStats.GCCPUFraction
		// reports).
		c.gcFraction = c.prevGC / c.prevTotal
	}
	return c
}

// Collect returns the current samples, stamped now.
func (c *RuntimeCollector) Collect(now time.Time) []Sample {
	return c.Append(make([]Sample, 0, 13), now)
}

// Append appends the current samples, stamped now, to dst and returns it.
// Reuse dst between calls to collect without allocating.
func (c *RuntimeCollector) Append(dst []Sample, now time.Time) []Sample {
	c.mu.Lock()
	defer c.mu.Unlock()

	rtmetrics.Read(c.rt)
	add := func(name string, v float64, u Unit) {
		dst = append(dst, Sample{Name: name, Value: v, Unit: u, Time: now})
	}

	// CPU, as a share of the machine and of the cores Go may use.
	elapsed := now.Sub(c.prevTime)
	cpu, cpuOK := processCPUTime()
	if cpuOK && c.prevCPUOK && elapsed > 0 && cpu >= c.prevCPU {
		used := float64(cpu-c.prevCPU) / float64(elapsed)
		add(CPUPercent, 100*used/float64(runtime.NumCPU()), UnitPercent)
		procs := float64(uint64Value(c.rt[rtGOMAXPROCS].Value))
		if procs <= 0 {
			procs = float64(runtime.GOMAXPROCS(0))
		}
		add(CPUPercentOfGOMAXPROCS, 100*used/procs, UnitPercent)
	}
	if cpuOK && (elapsed > 0 || !c.prevCPUOK) {
		c.prevCPU, c.prevCPUOK, c.prevTime = cpu, true, now
	}

	// Memory.
	rss, rssOK := c.os.rss()
	if rssOK {
		add(RSSBytes, float64(rss), UnitBytes)
	}
	if v := c.rt[rtHeapObjects].Value; v.Kind() == rtmetrics.KindUint64 {
		add(HeapInUseBytes, float64(v.Uint64()+uint64Value(c.rt[rtHeapUnused].Value)), UnitBytes)
	}
	// The live heap is measured by marking: before the first GC cycle the
	// runtime reports 0, which would read as "nothing is live".
	if v := c.rt[rtHeapLive].Value; v.Kind() == rtmetrics.KindUint64 && uint64Value(c.rt[rtGCCycles].Value) > 0 {
		add(LiveHeapBytes, float64(v.Uint64()), UnitBytes)
	}
	if limit := c.memoryLimit(now); limit > 0 {
		add(MemoryLimitBytes, float64(limit), UnitBytes)
		if rssOK {
			add(MemoryUsageRatio, float64(rss)/float64(limit), UnitRatio)
		}
	}

	// Garbage collection.
	if v := c.rt[rtGCPauses].Value; v.Kind() == rtmetrics.KindFloat64Histogram {
		h := v.Float64Histogram()
		add(GCPauseP99Ms, 1000*deltaQuantile(h, c.prevPauses, 0.99), UnitMilliseconds)
		c.prevPauses = append(c.prevPauses[:0], h.Counts...)
	}
	add(GCCPUFraction, c.gcCPUFraction(), UnitRatio)

	if v := c.rt[rtGoroutines].Value; v.Kind() == rtmetrics.KindUint64 {
		add(Goroutines, float64(v.Uint64()), UnitCount)
	}
	if n, ok := c.os.openFDs(); ok {
		add(OpenFDs, float64(n), UnitCount)
	}
	return dst
}

// gcCPUFraction returns the share of CPU the GC used. The runtime updates its
// CPU classes only when a GC cycle ends, so the fraction is over the span
// between the two latest cycle ends seen by Collect, and repeats until the
// next cycle ends: a steady process reads its true steady fraction rather
// than a spike followed by zeros.
// Before the first cycle ends there has been no GC work: the fraction is 0.
func (c *RuntimeCollector) gcCPUFraction() float64 {
	gc := float64Value(c.rt[rtCPUGC].Value)
	total := float64Value(c.rt[rtCPUTotal].Value)
	if total > c.prevTotal && gc >= c.prevGC {
		c.gcFraction = (gc - c.prevGC) / (total - c.prevTotal)
		c.prevGC, c.prevTotal = gc, total
	}
	return c.gcFraction
}

// memoryLimit returns the lowest of GOMEMLIMIT, the cgroup limit and
// physical memory, or 0 when none is known.
func (c *RuntimeCollector) memoryLimit(now time.Time) uint64 {
	if now.Sub(c.cgroupReadAt) >= cgroupRefresh || now.Before(c.cgroupReadAt) {
		c.cgroupLimit, _ = c.os.cgroupLimit()
		c.cgroupReadAt = now
	}
	limit := uint64(0)
	lower := func(v uint64) {
		if v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	// GOMEMLIMIT is math.MaxInt64 when unset: not a limit.
	if v := uint64Value(c.rt[rtMemLimit].Value); v > 0 && v < math.MaxInt64 {
		lower(v)
	}
	lower(c.cgroupLimit)
	lower(c.memTotal)
	return limit
}

// deltaQuantile returns quantile q, in the histogram's unit, of the values
// recorded since prev was copied from the same histogram's counts; 0 when
// none were. A bucket stands for its upper bound, erring towards the longer
// pause, except the open last bucket, which stands for its lower bound.
func deltaQuantile(h *rtmetrics.Float64Histogram, prev []uint64, q float64) float64 {
	var total uint64
	for i, n := range h.Counts {
		if i < len(prev) && prev[i] <= n {
			n -= prev[i]
		}
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, n := range h.Counts {
		if i < len(prev) && prev[i] <= n {
			n -= prev[i]
		}
		seen += n
		if seen >= rank {
			upper := h.Buckets[i+1]
			if math.IsInf(upper, 1) {
				return h.Buckets[i]
			}
			return upper
		}
	}
	return h.Buckets[len(h.Buckets)-2]
}

func float64Value(v rtmetrics.Value) float64 {
	if v.Kind() == rtmetrics.KindFloat64 {
		return v.Float64()
	}
	return 0
}

func uint64Value(v rtmetrics.Value) uint64 {
	if v.Kind() == rtmetrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}
