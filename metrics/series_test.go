package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestSeriesStats(t *testing.T) {
	type pt struct {
		sec float64
		v   float64
	}
	line := func(n int, f func(i int) (float64, float64)) []pt {
		out := make([]pt, n)
		for i := range out {
			out[i].sec, out[i].v = f(i)
		}
		return out
	}
	tests := []struct {
		name     string
		capacity int
		points   []pt
		now      float64
		window   time.Duration
		want     Stats
	}{
		{
			name: "empty",
			want: Stats{},
		},
		{
			name:   "one point",
			points: []pt{{0, 7}},
			want:   Stats{Count: 1, Last: 7, Mean: 7, Min: 7, Max: 7, P50: 7, P95: 7, P99: 7},
		},
		{
			name:   "1 to 100, one per second",
			points: line(100, func(i int) (float64, float64) { return float64(i), float64(i + 1) }),
			now:    99,
			want: Stats{Count: 100, Last: 100, Mean: 50.5, Min: 1, Max: 100,
				P50: 50.5, P95: 95.05, P99: 99.01, Slope: 1},
		},
		{
			name:   "shuffled values give the same percentiles",
			points: []pt{{0, 5}, {1, 1}, {2, 4}, {3, 2}, {4, 3}},
			now:    4,
			want:   Stats{Count: 5, Last: 3, Mean: 3, Min: 1, Max: 5, P50: 3, P95: 4.8, P99: 4.96, Slope: -0.3},
		},
		{
			name:   "line 3+2t sampled every half second",
			points: line(21, func(i int) (float64, float64) { return float64(i) / 2, 3 + float64(i) }),
			now:    10,
			want:   Stats{Count: 21, Last: 23, Mean: 13, Min: 3, Max: 23, P50: 13, P95: 22, P99: 22.8, Slope: 2},
		},
		{
			name:   "falling line",
			points: line(11, func(i int) (float64, float64) { return float64(i * 60), 100 - float64(i) }),
			now:    600,
			want:   Stats{Count: 11, Last: 90, Mean: 95, Min: 90, Max: 100, P50: 95, P95: 99.5, P99: 99.9, Slope: -1.0 / 60},
		},
		{
			name:   "window keeps points newer than now-window",
			points: line(10, func(i int) (float64, float64) { return float64(i), float64(i) }),
			now:    9,
			window: 5 * time.Second,
			want:   Stats{Count: 5, Last: 9, Mean: 7, Min: 5, Max: 9, P50: 7, P95: 8.8, P99: 8.96, Slope: 1},
		},
		{
			name:   "window past every point",
			points: line(10, func(i int) (float64, float64) { return float64(i), float64(i) }),
			now:    100,
			window: 5 * time.Second,
			want:   Stats{},
		},
		{
			name:     "ring wrap keeps the newest",
			capacity: 5,
			points:   line(8, func(i int) (float64, float64) { return float64(i), float64(i * 10) }),
			now:      7,
			want:     Stats{Count: 5, Last: 70, Mean: 50, Min: 30, Max: 70, P50: 50, P95: 68, P99: 69.6, Slope: 10},
		},
		{
			name:   "same instant has no slope",
			points: []pt{{1, 1}, {1, 3}},
			now:    1,
			want:   Stats{Count: 2, Last: 3, Mean: 2, Min: 1, Max: 3, P50: 2, P95: 2.9, P99: 2.98},
		},
		{
			name:   "NaN and Inf are ignored",
			points: []pt{{0, 1}, {1, math.NaN()}, {2, math.Inf(1)}, {3, 3}},
			now:    3,
			want:   Stats{Count: 2, Last: 3, Mean: 2, Min: 1, Max: 3, P50: 2, P95: 2.9, P99: 2.98, Slope: 2.0 / 3},
		},
		{
			name:   "constant",
			points: line(50, func(i int) (float64, float64) { return float64(i), 4 }),
			now:    49,
			want:   Stats{Count: 50, Last: 4, Mean: 4, Min: 4, Max: 4, P50: 4, P95: 4, P99: 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSeries("x", tc.capacity)
			for _, p := range tc.points {
				s.Add(at(p.sec), p.v)
			}
			got := s.Stats(at(tc.now), tc.window)
			want := tc.want
			want.Name, want.Window = "x", tc.window
			if got.Count != want.Count || !near(got.Last, want.Last) || !near(got.Mean, want.Mean) ||
				!near(got.Min, want.Min) || !near(got.Max, want.Max) || !near(got.P50, want.P50) ||
				!near(got.P95, want.P95) || !near(got.P99, want.P99) || !near(got.Slope, want.Slope) ||
				got.Name != want.Name || got.Window != want.Window {
				t.Errorf("Stats() = %+v\nwant      %+v", got, want)
			}
		})
	}
}

// reference computes R-7 percentiles by sorting, to check the selection.
func reference(vals []float64, q float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	k := int(h)
	if k+1 >= len(s) {
		return s[k]
	}
	return s[k] + (h-float64(k))*(s[k+1]-s[k])
}

func TestPercentilesMatchSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func(i int) float64{
		"uniform":    func(int) float64 { return r.Float64() * 1000 },
		"few values": func(int) float64 { return float64(r.IntN(4)) },
		"ascending":  func(i int) float64 { return float64(i) },
		"descending": func(i int) float64 { return float64(-i) },
		"heavy tail": func(int) float64 { return math.Exp(r.NormFloat64() * 2) },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 2, 3, 15, 16, 17, 100, 1000, 4097} {
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = gen(i)
			}
			want := []float64{reference(vals, 0.5), reference(vals, 0.95), reference(vals, 0.99)}
			p50, p95, p99 := percentiles(slices.Clone(vals))
			if got := []float64{p50, p95, p99}; !slices.EqualFunc(got, want, near) {
				t.Errorf("%s n=%d: percentiles = %v, want %v", name, n, got, want)
			}
		}
	}
}

func TestSeriesPointsAndLast(t *testing.T) {
	s := NewSeries("x", 3)
	if _, ok := s.Last(); ok {
		t.Fatal("Last() on an empty series reported a point")
	}
	if got := s.Points(nil); len(got) != 0 {
		t.Fatalf("Points() = %v, want none", got)
	}
	for i := range 5 {
		s.Add(at(float64(i)), float64(i))
		want := []float64{}
		for v := max(0, i-2); v <= i; v++ {
			want = append(want, float64(v))
		}
		var got []float64
		for _, p := range s.Points(nil) {
			got = append(got, p.Value)
		}
		if !slices.Equal(got, want) {
			t.Errorf("after %d adds Points() = %v, want %v", i+1, got, want)
		}
		if p, _ := s.Last(); p.Value != float64(i) || !p.Time.Equal(at(float64(i))) {
			t.Errorf("after %d adds Last() = %v, want %d", i+1, p, i)
		}
		if s.Len() != len(want) {
			t.Errorf("after %d adds Len() = %d, want %d", i+1, s.Len(), len(want))
		}
	}
	buf := make([]Point, 0, 8)
	if got := s.Points(buf); &got[0] != &buf[:1][0] {
		t.Error("Points(dst) did not reuse dst")
	}
	if NewSeries("d", 0).Cap() != DefaultSeriesCapacity {
		t.Errorf("NewSeries(0).Cap() = %d, want %d", NewSeries("d", 0).Cap(), DefaultSeriesCapacity)
	}
}

func TestSet(t *testing.T) {
	s := NewSet(4)
	s.Observe(
		Sample{Name: "b", Value: 1, Time: at(0)},
		Sample{Name: "a", Value: 2, Time: at(0), Labels: map[string]string{"route": "/x"}},
		Sample{Name: "a", Value: 3, Time: at(1), Labels: map[string]string{"route": "/x"}},
		Sample{Name: "zero-time", Value: 3},
	)
	if got, want := s.Keys(), []string{`a{route="/x"}`, "b"}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %q, want %q", got, want)
	}
	latest := s.Latest()
	if len(latest) != 2 || latest[`a{route="/x"}`] != 3 || latest["b"] != 1 {
		t.Errorf("Latest() = %v", latest)
	}
	ser, ok := s.Get(`a{route="/x"}`)
	if !ok || ser.Len() != 2 || ser.Cap() != 4 {
		t.Fatalf("Get() = %v, %v", ser, ok)
	}
	st := s.Stats(at(1), 0)
	if len(st) != 2 || st[0].Name != `a{route="/x"}` || st[0].Mean != 2.5 || st[1].Name != "b" {
		t.Errorf("Stats() = %+v", st)
	}
	if n := s.Prune(at(0)); n != 1 || s.Len() != 1 {
		t.Errorf("Prune() removed %d, left %d; want 1 and 1", n, s.Len())
	}
	if _, ok := s.Get("b"); ok {
		t.Error("Prune() kept the stale series")
	}
}

func TestSetConcurrent(t *testing.T) {
	s := NewSet(64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				s.Observe(Sample{Name: "shared", Value: float64(i), Time: at(float64(i))},
					Sample{Name: "own", Labels: map[string]string{"g": string(rune('a' + g))}, Value: 1, Time: at(float64(i))})
				_ = s.Stats(at(float64(i)), time.Minute)
				_ = s.Latest()
			}
		})
	}
	wg.Wait()
	if s.Len() != 5 {
		t.Errorf("Len() = %d, want 5", s.Len())
	}
	if ser, _ := s.Get("shared"); ser.Len() != 64 {
		t.Errorf("shared Len() = %d, want 64", ser.Len())
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(3, 4)) }

// exactQuantile is the nearest-rank quantile: the smallest value with at
// least a fraction q of the values at or below it, what HDR estimates.
func exactQuantile(vals []float64, q float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(k, 0)]
}

// TestSelectKthBudget feeds an input that defeats median-of-three pivots
// (an organ pipe) to check the sort fallback keeps results right.
func TestSelectKthBudget(t *testing.T) {
	const n = 4096
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = float64(min(i, n-1-i))
	}
	for _, k := range []int{0, n / 2, n * 95 / 100, n - 1} {
		a := slices.Clone(vals)
		want := slices.Sorted(slices.Values(vals))[k]
		if got := selectKth(a, 0, n-1, k); got != want {
			t.Errorf("selectKth(organ pipe, %d) = %v, want %v", k, got, want)
		}
	}
}
