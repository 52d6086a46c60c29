package memopt

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

func TestTrendTest(t *testing.T) {
	seq := func(n int, f func(i int) float64) ([]float64, []float64) {
		ts, ys := make([]float64, n), make([]float64, n)
		for i := range n {
			ts[i], ys[i] = float64(i), f(i)
		}
		return ts, ys
	}
	tests := []struct {
		name      string
		ts, ys    []float64
		wantS     float64
		wantSlope float64
		wantP     float64 // within 1e-3; -1 to skip
		sig       bool    // P < 0.01
	}{
		{name: "linear 5", ts: []float64{0, 1, 2, 3, 4}, ys: []float64{1, 2, 3, 4, 5}, wantS: 10, wantSlope: 1, wantP: 0.01374, sig: false},
		{name: "too short", ts: []float64{0, 1}, ys: []float64{1, 2}, wantS: 0, wantSlope: 0, wantP: 1},
		{name: "constant", ts: []float64{0, 1, 2, 3}, ys: []float64{7, 7, 7, 7}, wantS: 0, wantSlope: 0, wantP: 1},
		{name: "falling", ts: []float64{0, 1, 2, 3, 4, 5}, ys: []float64{6, 5, 4, 3, 2, 1}, wantS: -15, wantSlope: -1, wantP: -1},
		{name: "outlier does not move the slope", ts: []float64{0, 1, 2, 3, 4, 5, 6}, ys: []float64{0, 2, 4, 600, 8, 10, 12}, wantS: 15, wantSlope: 2, wantP: -1},
	}
	ts, ys := seq(40, func(i int) float64 { return float64(i) * 3 })
	tests = append(tests, struct {
		name      string
		ts, ys    []float64
		wantS     float64
		wantSlope float64
		wantP     float64
		sig       bool
	}{name: "long rise", ts: ts, ys: ys, wantS: 780, wantSlope: 3, wantP: -1, sig: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := TrendTest(tc.ts, tc.ys)
			if tr.S != tc.wantS {
				t.Errorf("S = %v, want %v", tr.S, tc.wantS)
			}
			if math.Abs(tr.Slope-tc.wantSlope) > 1e-9 {
				t.Errorf("Slope = %v, want %v", tr.Slope, tc.wantSlope)
			}
			if tc.wantP >= 0 && math.Abs(tr.P-tc.wantP) > 1e-3 {
				t.Errorf("P = %v, want %v", tr.P, tc.wantP)
			}
			if (tr.P < 0.01) != tc.sig {
				t.Errorf("P = %v, significant = %v, want %v", tr.P, tr.P < 0.01, tc.sig)
			}
			if tr.Correction < 1 {
				t.Errorf("Correction = %v, want ≥ 1", tr.Correction)
			}
		})
	}
}

// An autocorrelated series without a trend (a slow wave) fools the plain
// test; the Hamed–Rao correction must widen the variance.
func TestTrendTestAutocorrelationWidensVariance(t *testing.T) {
	n := 120
	ts, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		ts[i] = float64(i)
		ys[i] = math.Sin(float64(i)/6) + float64(i%3)*0.01
	}
	tr := TrendTest(ts, ys)
	if tr.Correction <= 1.5 {
		t.Errorf("Correction = %v for a slow wave, want > 1.5", tr.Correction)
	}
}

func TestQuickselect(t *testing.T) {
	for _, xs := range [][]float64{{5, 1, 4, 2, 3}, {1, 1, 1, 1}, {3, 2, 1}, {2, 2, 1, 1, 3, 3}} {
		for k := range xs {
			c := append([]float64(nil), xs...)
			got := metrics.Select(c, k)
			want := append([]float64(nil), xs...)
			sortFloats(want)
			if got != want[k] {
				t.Errorf("metrics.Select(%v, %d) = %v, want %v", xs, k, got, want[k])
			}
		}
	}
}

func sortFloats(xs []float64) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

// startUp feeds d one GC every `every`, n in all: the live heaps of
// warmUp (MiB) while the process loads, then heap(el) plus noise (MiB),
// stopping early when stop says so. It returns the time of the last GC fed.
func startUp(d *Detector, seed uint64, every time.Duration, n int, warmUp []float64, heap func(el time.Duration) float64, noise float64, stop func() bool) time.Duration {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var el time.Duration
	for i := range n {
		el = time.Duration(i) * every
		live := heap(el)
		if i < len(warmUp) {
			live = warmUp[i] * mib
		}
		live += rng.NormFloat64() * noise * mib
		d.Add(Sample{Time: start.Add(el), GCCycles: uint64(i + 1), HeapLive: uint64(live), Goroutines: 20})
		if stop() {
			break
		}
	}
	return el
}

// A process that has just started grows its live heap by multiples while it
// loads; those first points must not make the steady heap after them look
// like a trend.
func TestWarmUpIsNotATrend(t *testing.T) {
	d, err := NewDetector(Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 3 minutes of a GC every 5 s, at 20 MiB after 2, 5, 10 and 15.
	startUp(d, 3, 5*time.Second, 36, []float64{2, 5, 10, 15}, func(time.Duration) float64 { return 20 * mib }, 0.3, func() bool { return false })
	if first := d.heap[0].v; first < 18*mib {
		t.Errorf("the trend is tested from a live heap of %.1f MiB, want from the 20 MiB after the warm-up", first/mib)
	}
	if tr := d.HeapTrend(); tr.P < 0.05 {
		t.Errorf("steady 20 MiB after a warm-up from 2 MiB: trend p = %.2g (slope %.0f B/s), want no evidence of a trend", tr.P, tr.Slope)
	}
	if l := d.Leaks(); len(l) > 0 {
		t.Errorf("reported %v", l)
	}
}

// A fast leak grows the heap by a quarter within a minute or two, but never
// between two GCs: the warm-up rule must not keep eating its first points.
func TestFastLeakAfterWarmUp(t *testing.T) {
	d, err := NewDetector(Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 6 minutes of a GC every 10 s: 2, 8, 12 MiB, then 16 MiB growing 5 MiB/min.
	leak := func(el time.Duration) float64 { return 16*mib + 5*mib*el.Minutes() }
	reported := func() bool { return len(d.Leaks()) > 0 }
	at := startUp(d, 5, 10*time.Second, 36, []float64{2, 8, 12}, leak, 0.5, reported)
	if !reported() || at > 4*time.Minute {
		t.Errorf("a 5 MiB/min leak on a 16 MiB heap: reported %v at %v, want within 4 minutes", reported(), at)
	}
}
