package metrics

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// within checks d against want to the histogram's three significant digits.
func within(d, want time.Duration) bool {
	return math.Abs(float64(d-want)) <= 0.001*float64(want)+float64(time.Microsecond)
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name    string
		record  []time.Duration
		q       float64
		want    time.Duration
		count   int64
		max     time.Duration
		meanish time.Duration
	}{
		{name: "empty", q: 0.99, want: 0},
		{name: "one value", record: []time.Duration{5 * time.Millisecond}, q: 0.5, want: 5 * time.Millisecond,
			count: 1, max: 5 * time.Millisecond, meanish: 5 * time.Millisecond},
		{name: "1..1000 ms p99", record: msRange(1, 1000), q: 0.99, want: 990 * time.Millisecond,
			count: 1000, max: time.Second, meanish: 500500 * time.Microsecond},
		{name: "1..1000 ms p50", record: msRange(1, 1000), q: 0.5, want: 500 * time.Millisecond,
			count: 1000, max: time.Second, meanish: 500500 * time.Microsecond},
		{name: "q above 1 is the max", record: msRange(1, 10), q: 7, want: 10 * time.Millisecond,
			count: 10, max: 10 * time.Millisecond, meanish: 5500 * time.Microsecond},
		{name: "over an hour is an hour", record: []time.Duration{3 * time.Hour}, q: 1, want: time.Hour,
			count: 1, max: time.Hour, meanish: time.Hour},
		{name: "negative is zero", record: []time.Duration{-time.Second}, q: 1, want: 0, count: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram // the zero value is ready to use
			for _, d := range tc.record {
				h.Record(d)
			}
			if got := h.Quantile(tc.q); !within(got, tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
			if h.Count() != tc.count {
				t.Errorf("Count() = %d, want %d", h.Count(), tc.count)
			}
			if !within(h.Max(), tc.max) {
				t.Errorf("Max() = %v, want %v", h.Max(), tc.max)
			}
			if !within(h.Mean(), tc.meanish) {
				t.Errorf("Mean() = %v, want %v", h.Mean(), tc.meanish)
			}
		})
	}
}

func msRange(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*time.Millisecond)
	}
	return out
}

func TestHistogramMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for _, d := range msRange(1, 500) {
		a.Record(d)
	}
	for _, d := range msRange(501, 1000) {
		b.Record(d)
	}
	a.Merge(b)
	a.Merge(nil)
	a.Merge(&Histogram{})
	if a.Count() != 1000 || b.Count() != 500 {
		t.Fatalf("after Merge counts = %d, %d; want 1000, 500", a.Count(), b.Count())
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.95, 950 * time.Millisecond}, {0.999, 999 * time.Millisecond}} {
		if got := a.Quantile(tc.q); !within(got, tc.want) {
			t.Errorf("merged Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if !within(a.Min(), time.Millisecond) {
		t.Errorf("Min() = %v, want 1ms", a.Min())
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.5) != 0 || a.Max() != 0 || a.Mean() != 0 {
		t.Errorf("after Reset: count %d p50 %v max %v mean %v", a.Count(), a.Quantile(0.5), a.Max(), a.Mean())
	}
}

func TestHistogramRecordCorrected(t *testing.T) {
	// A load generator meant to send every 10 ms stalled for 100 ms: the
	// nine requests it could not send would have waited 90, 80, ... 10 ms.
	var h Histogram
	h.RecordCorrected(100*time.Millisecond, 10*time.Millisecond)
	if h.Count() != 10 {
		t.Errorf("Count() = %d, want 10", h.Count())
	}
	if got := h.Quantile(0); !within(got, 10*time.Millisecond) {
		t.Errorf("Quantile(0) = %v, want 10ms", got)
	}
	h.Reset()
	h.RecordCorrected(time.Millisecond, 0)
	if h.Count() != 1 {
		t.Errorf("with no interval Count() = %d, want 1", h.Count())
	}
}

func TestLatencyRecorder(t *testing.T) {
	r := NewLatencyRecorder()
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.Record(time.Duration(g*each+i+1) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	snap := r.Snapshot()
	if snap.Count() != goroutines*each {
		t.Fatalf("Snapshot().Count() = %d, want %d", snap.Count(), goroutines*each)
	}
	if got, want := snap.Quantile(0.5), 4000*time.Microsecond; !within(got, want) {
		t.Errorf("Snapshot().Quantile(0.5) = %v, want %v", got, want)
	}
	if got := r.SnapshotAndReset().Count(); got != goroutines*each {
		t.Errorf("SnapshotAndReset().Count() = %d, want %d", got, goroutines*each)
	}
	if got := r.Snapshot().Count(); got != 0 {
		t.Errorf("after reset Count() = %d, want 0", got)
	}
	r.Record(time.Millisecond)
	if got := r.SnapshotAndReset(); got.Count() != 1 || !within(got.Max(), time.Millisecond) {
		t.Errorf("next interval: count %d max %v, want 1 and 1ms", got.Count(), got.Max())
	}
}

// TestLatencyRecorderNoLoss checks that values recorded while intervals are
// being cut are each counted in exactly one interval.
func TestLatencyRecorderNoLoss(t *testing.T) {
	r := NewLatencyRecorder()
	const goroutines, each = 4, 5000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				r.Record(time.Millisecond)
			}
		})
	}
	var total int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		total += r.SnapshotAndReset().Count()
	}
	total += r.SnapshotAndReset().Count()
	if total != goroutines*each {
		t.Errorf("intervals summed to %d values, want %d", total, goroutines*each)
	}
}

func TestLatencyRecorderMoveTo(t *testing.T) {
	r := NewLatencyRecorder()
	dst := NewHistogram()
	for i := 1; i <= 10; i++ {
		r.Record(time.Duration(i) * time.Millisecond)
	}
	r.AddTo(dst)
	if dst.Count() != 10 {
		t.Fatalf("AddTo: count %d, want 10", dst.Count())
	}
	dst.Reset()
	r.MoveTo(dst)
	if dst.Count() != 10 || !within(dst.Max(), 10*time.Millisecond) {
		t.Errorf("MoveTo: count %d max %v, want 10 and 10ms", dst.Count(), dst.Max())
	}
	r.MoveTo(dst)
	if dst.Count() != 10 {
		t.Errorf("second MoveTo added %d values, want none", dst.Count()-10)
	}
}

// TestHistogramAccuracy checks the three-significant-digit promise against
// exact percentiles of a heavy-tailed sample.
func TestHistogramAccuracy(t *testing.T) {
	tests := []struct {
		digits   int
		maxError float64
		maxBytes int
	}{
		{3, 0.001, 200 << 10},
		{2, 0.01, 32 << 10},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d digits", tc.digits), func(t *testing.T) {
			r := newTestRand()
			vals := make([]float64, 100000)
			h := NewHistogramDigits(tc.digits)
			for i := range vals {
				// Log-normal latencies around 5 ms, from 10 µs to seconds.
				d := time.Duration(5e6 * math.Exp(r.NormFloat64()*1.5))
				h.Record(d)
				vals[i] = float64(d)
			}
			worst := 0.0
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
				want := exactQuantile(vals, q)
				got := float64(h.Quantile(q))
				if e := math.Abs(got-want) / want; e > worst {
					worst = e
				}
			}
			size := h.h.ByteSize()
			t.Logf("worst relative error of p50..p99.9 over %d log-normal values: %.5f%%; %d KB", len(vals), 100*worst, size>>10)
			if worst > tc.maxError {
				t.Errorf("worst relative error %.5f, want <= %v", worst, tc.maxError)
			}
			if size > tc.maxBytes {
				t.Errorf("histogram takes %d KB, want at most %d KB", size>>10, tc.maxBytes>>10)
			}
		})
	}
}

// A recorder of two digits hands out two-digit snapshots, and they merge
// with the default three-digit histograms without losing a value.
func TestLatencyRecorderDigits(t *testing.T) {
	r := NewLatencyRecorderDigits(2)
	for i := 1; i <= 1000; i++ {
		r.Record(time.Duration(i) * time.Millisecond)
	}
	s := r.SnapshotAndReset()
	if s.h.ByteSize() > 32<<10 {
		t.Errorf("snapshot takes %d KB, want a two-digit histogram", s.h.ByteSize()>>10)
	}
	var all Histogram
	all.Merge(s)
	if p50 := all.Quantile(0.5); all.Count() != 1000 || math.Abs(float64(p50-500*time.Millisecond)) > 0.01*float64(500*time.Millisecond) {
		t.Errorf("merged: count %d, p50 %v; want 1000 and about 500ms", all.Count(), all.Quantile(0.5))
	}
}
