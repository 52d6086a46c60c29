package metrics

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

func byName(samples []Sample) map[string]Sample {
	m := make(map[string]Sample, len(samples))
	for _, s := range samples {
		m[s.Name] = s
	}
	return m
}

func TestRuntimeCollectorSane(t *testing.T) {
	runtime.GC() // the live heap is only known after a cycle
	rc := NewRuntimeCollector()
	now := time.Now()
	got := byName(rc.Collect(now))
	for _, s := range got {
		if !s.Time.Equal(now) {
			t.Errorf("%s stamped %v, want %v", s.Name, s.Time, now)
		}
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) || s.Value < 0 {
			t.Errorf("%s = %v, want a finite non-negative value", s.Name, s.Value)
		}
	}
	checks := []struct {
		name string
		unit Unit
		ok   func(v float64) bool
		want string
	}{
		{Goroutines, UnitCount, func(v float64) bool { return v >= 1 }, ">= 1"},
		{HeapInUseBytes, UnitBytes, func(v float64) bool { return v > 0 }, "> 0"},
		{LiveHeapBytes, UnitBytes, func(v float64) bool { return v > 0 }, "> 0"},
		{GCPauseP99Ms, UnitMilliseconds, func(v float64) bool { return v >= 0 }, ">= 0"},
		{GCCPUFraction, UnitRatio, func(v float64) bool { return v >= 0 && v <= 1 }, "in [0, 1]"},
	}
	if runtime.GOOS == "linux" {
		checks = append(checks, []struct {
			name string
			unit Unit
			ok   func(v float64) bool
			want string
		}{
			{RSSBytes, UnitBytes, func(v float64) bool { return v > 1<<20 }, "> 1 MiB"},
			{OpenFDs, UnitCount, func(v float64) bool { return v >= 3 }, ">= 3 (stdin, stdout, stderr)"},
			{MemoryLimitBytes, UnitBytes, func(v float64) bool { return v > 1<<20 }, "> 1 MiB"},
			{MemoryUsageRatio, UnitRatio, func(v float64) bool { return v > 0 && v < 1 }, "in (0, 1)"},
			{CPUPercent, UnitPercent, func(v float64) bool { return v >= 0 }, ">= 0"},
			{CPUPercentOfGOMAXPROCS, UnitPercent, func(v float64) bool { return v >= 0 }, ">= 0"},
		}...)
	}
	for _, c := range checks {
		s, ok := got[c.name]
		if !ok {
			t.Errorf("Collect() has no %s", c.name)
			continue
		}
		if s.Unit != c.unit {
			t.Errorf("%s unit = %q, want %q", c.name, s.Unit, c.unit)
		}
		if !c.ok(s.Value) {
			t.Errorf("%s = %v, want %s", c.name, s.Value, c.want)
		}
	}
}

// TestRuntimeCollectorCPU burns a fixed amount of CPU time, measured by the
// kernel rather than the clock, so a slow or busy machine only makes the
// test take longer, never fail.
func TestRuntimeCollectorCPU(t *testing.T) {
	start, ok := processCPUTime()
	if !ok {
		t.Skip("no process CPU time on " + runtime.GOOS)
	}
	rc := NewRuntimeCollector()
	x := 1.0
	for {
		for i := 0; i < 100000; i++ {
			x = math.Sqrt(x + float64(i))
		}
		if now, _ := processCPUTime(); now-start >= 20*time.Millisecond {
			break
		}
	}
	got := byName(rc.Collect(time.Now()))
	if got[CPUPercent].Value <= 0 {
		t.Errorf("after burning CPU %s = %v, want > 0 (x=%v)", CPUPercent, got[CPUPercent].Value, x)
	}
	if got[CPUPercentOfGOMAXPROCS].Value < got[CPUPercent].Value {
		t.Errorf("%s = %v below %s = %v; GOMAXPROCS <= NumCPU", CPUPercentOfGOMAXPROCS,
			got[CPUPercentOfGOMAXPROCS].Value, CPUPercent, got[CPUPercent].Value)
	}
}

func TestRuntimeCollectorNoElapsedNoRate(t *testing.T) {
	rc := NewRuntimeCollector()
	now := time.Now()
	rc.Collect(now)
	if _, ok := byName(rc.Collect(now))[CPUPercent]; ok {
		t.Errorf("Collect at the same instant twice reported %s; want it left out", CPUPercent)
	}
	if _, ok := byName(rc.Collect(now.Add(-time.Second)))[CPUPercent]; ok {
		t.Errorf("Collect with the clock going back reported %s; want it left out", CPUPercent)
	}
}

func TestRuntimeCollectorGCPause(t *testing.T) {
	rc := NewRuntimeCollector()
	runtime.GC()
	got := byName(rc.Collect(time.Now()))
	if got[GCPauseP99Ms].Value <= 0 {
		t.Errorf("after runtime.GC %s = %v, want > 0", GCPauseP99Ms, got[GCPauseP99Ms].Value)
	}
	if f := got[GCCPUFraction].Value; f <= 0 || f > 1 {
		t.Errorf("after runtime.GC %s = %v, want in (0, 1]", GCCPUFraction, f)
	}
	// No GC in the next interval: no pause to report.
	if got := byName(rc.Collect(time.Now()))[GCPauseP99Ms].Value; got != 0 {
		t.Logf("%s = %v with no explicit GC (a background cycle ran)", GCPauseP99Ms, got)
	}
}

func TestRuntimeCollectorMemoryLimit(t *testing.T) {
	rc := NewRuntimeCollector()
	base, ok := byName(rc.Collect(time.Now()))[MemoryLimitBytes]
	if !ok {
		t.Skip("no memory limit known on " + runtime.GOOS)
	}
	limit := int64(base.Value / 2)
	old := debug.SetMemoryLimit(limit)
	defer debug.SetMemoryLimit(old)
	if got := byName(rc.Collect(time.Now()))[MemoryLimitBytes].Value; got != float64(limit) {
		t.Errorf("with GOMEMLIMIT=%d %s = %v", limit, MemoryLimitBytes, got)
	}
}

func TestRuntimeCollectorOpenFDs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("open descriptors are counted from /proc on Linux only")
	}
	dir := t.TempDir()
	// The first open file starts the runtime's poller, which opens
	// descriptors of its own; open one before the baseline.
	warm, err := os.Create(filepath.Join(dir, "warm"))
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	rc := NewRuntimeCollector()
	before := byName(rc.Collect(time.Now()))[OpenFDs].Value
	for i := range 3 {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	after := byName(rc.Collect(time.Now()))[OpenFDs].Value
	if after-before != 3 {
		t.Errorf("%s went from %v to %v after opening 3 files, want +3", OpenFDs, before, after)
	}
}

func TestRuntimeCollectorAppendReuses(t *testing.T) {
	rc := NewRuntimeCollector()
	buf := rc.Append(nil, time.Now())
	again := rc.Append(buf[:0], time.Now())
	if len(again) == 0 || &again[0] != &buf[0] {
		t.Error("Append(buf[:0]) did not reuse buf")
	}
}

func TestDeltaQuantile(t *testing.T) {
	h := &rtmetrics.Float64Histogram{
		Buckets: []float64{0, 1, 2, 3, math.Inf(1)},
		Counts:  []uint64{10, 20, 0, 5},
	}
	tests := []struct {
		name string
		prev []uint64
		q    float64
		want float64
	}{
		{"nothing new", []uint64{10, 20, 0, 5}, 0.99, 0},
		{"all new, p99 in the open bucket", nil, 0.99, 3},
		{"all new, p50", nil, 0.5, 2},
		{"only the first bucket is new", []uint64{5, 20, 0, 5}, 0.99, 1},
		{"p0 is the first new bucket", []uint64{10, 10, 0, 5}, 0, 2},
		{"shorter prev counts the rest as new", []uint64{10}, 0.5, 2},
		{"prev above now is ignored", []uint64{50, 20, 0, 5}, 0.99, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deltaQuantile(h, tc.prev, tc.q); got != tc.want {
				t.Errorf("deltaQuantile(%v, %v) = %v, want %v", tc.prev, tc.q, got, tc.want)
			}
		})
	}
}

func TestRuntimeCollectorGOMAXPROCS(t *testing.T) {
	if _, ok := processCPUTime(); !ok {
		t.Skip("no process CPU time on " + runtime.GOOS)
	}
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs to run with GOMAXPROCS below NumCPU")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rc := NewRuntimeCollector()
	start, _ := processCPUTime()
	for {
		if now, _ := processCPUTime(); now-start >= 20*time.Millisecond {
			break
		}
	}
	got := byName(rc.Collect(time.Now()))
	// With one P of NumCPU, the share of GOMAXPROCS is NumCPU times the
	// share of the machine.
	want := got[CPUPercent].Value * float64(runtime.NumCPU())
	if !near(got[CPUPercentOfGOMAXPROCS].Value, want) {
		t.Errorf("%s = %v with GOMAXPROCS=1, want %v", CPUPercentOfGOMAXPROCS, got[CPUPercentOfGOMAXPROCS].Value, want)
	}
}
