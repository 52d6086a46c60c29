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
	"testing"
	"time"
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
