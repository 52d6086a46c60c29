package memopt

// Monitoring cost. Run with:
//
//	go test -run '^$' -bench . -benchtime 2s ./memopt/
//
// BenchmarkMonitoringInterval is one interval's work at steady state (read
// the runtime, test both trends over a full 30-minute window of 1 s
// samples); BenchmarkProfileCapture is the heap and goroutine profiles taken
// once per ProfileInterval. The share of one core at a 1 s interval is
// interval + capture/60 (the default ProfileInterval is a minute), divided
// by one second; the benchmark reports it as pct_core_1s.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func BenchmarkSamplerRead(b *testing.B) {
	s := NewSampler(nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Read()
	}
}

// steadyDetector returns a detector holding a full window of 1 s samples.
func steadyDetector(b *testing.B) (*Detector, *sim) {
	d, err := NewDetector(Options{}, 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	s := newSim(1, 0, 0)
	for range int(DefaultWindow / time.Second) {
		d.Add(s.next())
	}
	return d, s
}

func BenchmarkDetectorAdd(b *testing.B) {
	d, s := steadyDetector(b)
	b.ReportAllocs()
	for b.Loop() {
		d.Add(s.next())
	}
}

func BenchmarkMonitoringInterval(b *testing.B) {
	m, err := New(Options{ProfileInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	// Fill the window so the trend tests run at full size. Each op reads
	// the real runtime, as a tick does, but feeds the detector a simulated
	// sample: in a benchmark loop the real heap would GC far more often
	// than a service does, and the simulated one GCs every ~11 s.
	sm := newSim(1, 0, 0)
	for range int(DefaultWindow / time.Second) {
		m.Observe(sm.next())
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		m.mu.Lock()
		_ = m.sampler.Read()
		m.observe(sm.next())
		m.mu.Unlock()
	}
	perOp := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(100*perOp, "pct_core_1s")
}

func BenchmarkProfileCapture(b *testing.B) {
	m, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		m.mu.Lock()
		m.lastProf = time.Time{}
		m.profile(context.Background(), time.Now())
		m.mu.Unlock()
	}
	perOp := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(100*perOp/60, "pct_core_amortized_per_minute")
}

// syntheticHeap is a heap profile with n allocation sites, each a
// three-frame stack of its own, site i holding (i+1)*scale bytes.
func syntheticHeap(n int, scale int64) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"}, Period: 512 * 1024,
	}
	caller := &profile.Function{ID: 1, Name: "example.com/app.handler", Filename: "/src/app/handler.go"}
	p.Function = append(p.Function, caller)
	callerLoc := &profile.Location{ID: 1, Line: []profile.Line{{Function: caller, Line: 10}}}
	p.Location = append(p.Location, callerLoc)
	for i := range n {
		fn := &profile.Function{ID: uint64(i + 2), Name: fmt.Sprintf("example.com/app.site%d", i), Filename: "/src/app/sites.go"}
		loc := &profile.Location{ID: uint64(i + 2), Line: []profile.Line{{Function: fn, Line: int64(i + 1)}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, loc)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc, callerLoc}, Value: []int64{1, int64(i+1) * scale}})
	}
	return p
}

// BenchmarkDiffHeap is issue 17's growth check of the profile diff: two
// heap profiles of 1k, 10k and 100k allocation sites, every site grown.
// Summing per site in one pass, instead of copying, negating and merging
// the profiles first, took 100k sites from 968 ms, 553 MB and 7.7M
// allocations to 155 ms, 38 MB and 100k (one per site).
//
//	go test -run '^$' -bench DiffHeap -benchmem ./memopt
func BenchmarkDiffHeap(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			before, after := syntheticHeap(n, 1000), syntheticHeap(n, 2000)
			b.ReportAllocs()
			for b.Loop() {
				sites, err := DiffHeap(before, after, 5)
				if err != nil || len(sites) != 5 {
					b.Fatalf("DiffHeap = %d sites, %v", len(sites), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/site")
		})
	}
}
