package memopt

import (
	"io/fs"
	"math"
	"os"
	"runtime/metrics"
	"time"

	pemetrics "github.com/perfengine/perfengine/metrics"
)

// Sample is one reading of the Go runtime, taken by a Sampler. It is plain
// data (JSON-friendly) so samples taken in one process can be analysed in
// another, as the child-process test does.
type Sample struct {
	Time time.Time `json:"time"`
	// GCCycles counts completed GC cycles; the detector keeps one heap point
	// per cycle, because the live heap only changes when a GC finishes.
	GCCycles uint64 `json:"gc_cycles"`
	// HeapLive is the heap marked live by the last GC, in bytes: the floor
	// of the heap's sawtooth, where a leak shows.
	HeapLive uint64 `json:"heap_live_bytes"`
	// HeapGoal is the heap size at which the next GC is due, in bytes.
	HeapGoal uint64 `json:"heap_goal_bytes"`
	// HeapInUse is the memory occupied by heap objects now, live or not yet
	// swept, in bytes.
	HeapInUse uint64 `json:"heap_inuse_bytes"`
	// HeapObjects is the number of objects, live or unswept, in the heap.
	HeapObjects uint64 `json:"heap_objects"`
	// Goroutines is the number of live goroutines.
	Goroutines uint64 `json:"goroutines"`
	// States splits Goroutines by scheduler state when the runtime reports
	// it (Go 1.26 and later); nil otherwise.
	States *GoroutineStates `json:"goroutine_states,omitempty"`
	// StackBytes is memory used by goroutine stacks.
	StackBytes uint64 `json:"stack_bytes"`
	// RuntimeTotal is all memory the runtime has mapped minus what it has
	// returned to the OS: its view of its own footprint.
	RuntimeTotal uint64 `json:"runtime_total_bytes"`
	// RSS is the resident set size from /proc/self/statm, 0 where the file
	// is missing.
	RSS uint64 `json:"rss_bytes"`
	// GCCPUFraction is the share of the process's CPU time spent in the GC
	// since the previous sample, 0..1.
	GCCPUFraction float64 `json:"gc_cpu_fraction"`
	// LimiterActive reports that the GC CPU limiter engaged since the
	// previous sample: the GC wanted more CPU than it may take, which under
	// a memory limit means the heap is thrashing against that limit.
	LimiterActive bool `json:"limiter_active"`
	// GOGC is the current GC percent (-1 when off).
	GOGC int64 `json:"gogc"`
	// MemoryLimit is the current soft memory limit (math.MaxInt64 when
	// none).
	MemoryLimit int64 `json:"memory_limit"`
}

// GoroutineStates splits the goroutine count by scheduler state.
type GoroutineStates struct {
	Runnable uint64 `json:"runnable"`
	Running  uint64 `json:"running"`
	Waiting  uint64 `json:"waiting"`
	NotInGo  uint64 `json:"not_in_go"` // in a system call or cgo
}

// Sampler reads the runtime. Reading runtime/metrics costs a few
// microseconds and stops nothing, so it can run every second. The zero value
// is not usable; call NewSampler. A Sampler is not safe for concurrent use:
// it keeps the previous reading to compute rates.
type Sampler struct {
	descs   []metrics.Sample
	idx     map[string]int
	fsys    fs.FS
	now     func() time.Time
	page    uint64
	prevGC  float64
	prevCPU float64
	prevCyc uint64
	started bool
}

// Metric names read from runtime/metrics. Names the running runtime does not
// know read as KindBad and count as absent.
const (
	rmGCCycles     = "/gc/cycles/total:gc-cycles"
	rmHeapLive     = "/gc/heap/live:bytes"
	rmHeapGoal     = "/gc/heap/goal:bytes"
	rmHeapObjBytes = "/memory/classes/heap/objects:bytes"
	rmHeapObjects  = "/gc/heap/objects:objects"
	rmGoroutines   = "/sched/goroutines:goroutines"
	rmRunnable     = "/sched/goroutines/runnable:goroutines"
	rmRunning      = "/sched/goroutines/running:goroutines"
	rmWaiting      = "/sched/goroutines/waiting:goroutines"
	rmNotInGo      = "/sched/goroutines/not-in-go:goroutines"
	rmStacks       = "/memory/classes/heap/stacks:bytes"
	rmOSStacks     = "/memory/classes/os-stacks:bytes"
	rmTotal        = "/memory/classes/total:bytes"
	rmReleased     = "/memory/classes/heap/released:bytes"
	rmGCCPU        = "/cpu/classes/gc/total:cpu-seconds"
	rmTotalCPU     = "/cpu/classes/total:cpu-seconds"
	rmLimiter      = "/gc/limiter/last-enabled:gc-cycle"
	rmGOGC         = "/gc/gogc:percent"
	rmMemLimit     = "/gc/gomemlimit:bytes"
)

// SamplerOption changes how a Sampler is built.
type SamplerOption func(*Sampler)

// SampleClock sets the clock that dates samples; nil keeps time.Now.
func SampleClock(now func() time.Time) SamplerOption {
	return func(s *Sampler) {
		if now != nil {
			s.now = now
		}
	}
}

// NewSampler returns a Sampler of this process. fsys is the root file system
// the RSS is read from (nil means the real one).
func NewSampler(fsys fs.FS, opts ...SamplerOption) *Sampler {
	if fsys == nil {
		fsys = os.DirFS("/")
	}
	names := []string{rmGCCycles, rmHeapLive, rmHeapGoal, rmHeapObjBytes, rmHeapObjects,
		rmGoroutines, rmRunnable, rmRunning, rmWaiting, rmNotInGo, rmStacks, rmOSStacks,
		rmTotal, rmReleased, rmGCCPU, rmTotalCPU, rmLimiter, rmGOGC, rmMemLimit}
	s := &Sampler{descs: make([]metrics.Sample, len(names)), idx: make(map[string]int, len(names)),
		fsys: fsys, now: time.Now, page: uint64(os.Getpagesize())}
	for _, o := range opts {
		o(s)
	}
	for i, n := range names {
		s.descs[i].Name = n
		s.idx[n] = i
	}
	return s
}

func (s *Sampler) u64(name string) (uint64, bool) {
	v := s.descs[s.idx[name]].Value
	if v.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return v.Uint64(), true
}

func (s *Sampler) f64(name string) float64 {
	v := s.descs[s.idx[name]].Value
	if v.Kind() != metrics.KindFloat64 {
		return 0
	}
	return v.Float64()
}

// Read takes one sample. It allocates only for the RSS file read.
func (s *Sampler) Read() Sample {
	metrics.Read(s.descs)
	var out Sample
	out.Time = s.now()
	out.GCCycles, _ = s.u64(rmGCCycles)
	out.HeapLive, _ = s.u64(rmHeapLive)
	out.HeapGoal, _ = s.u64(rmHeapGoal)
	out.HeapInUse, _ = s.u64(rmHeapObjBytes)
	out.HeapObjects, _ = s.u64(rmHeapObjects)
	out.Goroutines, _ = s.u64(rmGoroutines)
	if r, ok := s.u64(rmRunnable); ok {
		st := GoroutineStates{Runnable: r}
		st.Running, _ = s.u64(rmRunning)
		st.Waiting, _ = s.u64(rmWaiting)
		st.NotInGo, _ = s.u64(rmNotInGo)
		out.States = &st
	}
	stk, _ := s.u64(rmStacks)
	osStk, _ := s.u64(rmOSStacks)
	out.StackBytes = stk + osStk
	total, _ := s.u64(rmTotal)
	released, _ := s.u64(rmReleased)
	if total >= released {
		out.RuntimeTotal = total - released
	}
	gcCPU, cpu := s.f64(rmGCCPU), s.f64(rmTotalCPU)
	if s.started && cpu > s.prevCPU {
		out.GCCPUFraction = (gcCPU - s.prevGC) / (cpu - s.prevCPU)
	}
	lim, _ := s.u64(rmLimiter)
	if s.started && lim > s.prevCyc {
		out.LimiterActive = true
	}
	s.prevGC, s.prevCPU, s.prevCyc, s.started = gcCPU, cpu, out.GCCycles, true
	if g, ok := s.u64(rmGOGC); ok {
		out.GOGC = int64(g)
	}
	if l, ok := s.u64(rmMemLimit); ok {
		out.MemoryLimit = int64(min(l, math.MaxInt64))
	}
	if rss, err := pemetrics.ReadRSS(s.fsys); err == nil {
		out.RSS = rss
	}
	return out
}
