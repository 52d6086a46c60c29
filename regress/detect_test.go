package regress

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func noisy(seed uint64, n int, f func(i int) float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i) + rng.NormFloat64()
	}
	return out
}

func TestDetect(t *testing.T) {
	step := func(at int, d float64) func(int) float64 {
		return func(i int) float64 {
			if i >= at {
				return 100 + d
			}
			return 100
		}
	}
	withSpikes := noisy(3, 300, step(1000, 0))
	withSpikes[50], withSpikes[51], withSpikes[200] = 160, 40, 180
	withNaN := noisy(4, 200, step(120, 5))
	for i := 0; i < len(withNaN); i += 7 {
		withNaN[i] = math.NaN()
	}
	tests := []struct {
		name string
		in   []float64
		want []int
	}{
		{"step up", noisy(1, 200, step(100, 5)), []int{100}},
		{"step down", noisy(2, 200, step(80, -4)), []int{80}},
		{"flat", noisy(5, 500, step(1000, 0)), nil},
		{"spikes are not changes", withSpikes, nil},
		{"missing values keep positions", withNaN, []int{120}},
		{"constant", make([]float64, 100), nil},
		{"season", noisy(14, 500, func(i int) float64 { return 5 * math.Sin(2*math.Pi*float64(i)/50) }), nil},
		{"season and step", noisy(15, 600, func(i int) float64 {
			v := 4 * math.Sin(2*math.Pi*float64(i)/40)
			if i >= 330 {
				v += 8
			}
			return v
		}), []int{330}},
		{"steady trend", noisy(12, 500, func(i int) float64 { return 0.05 * float64(i) }), nil},
		{"trend and step", noisy(13, 400, func(i int) float64 {
			if i >= 250 {
				return 0.02*float64(i) + 6
			}
			return 0.02 * float64(i)
		}), []int{250}},
		{"too short", []float64{1, 2, 3}, nil},
		{"variance step", noisy(6, 400, func(int) float64 { return 0 }), nil},
	}
	// A variance step: same mean, spread ×5 from 200 on.
	rng := rand.New(rand.NewPCG(9, 9))
	v := make([]float64, 400)
	for i := range v {
		sd := 1.0
		if i >= 200 {
			sd = 5
		}
		v[i] = 50 + sd*rng.NormFloat64()
	}
	tests[len(tests)-1].in, tests[len(tests)-1].want = v, []int{200}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cps, err := Detect(tc.in, DefaultDetectOptions())
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) != len(tc.want) {
				t.Fatalf("Detect = %+v, want change points at %v", cps, tc.want)
			}
			for i, cp := range cps {
				if d := cp.Index - tc.want[i]; d < -3 || d > 3 {
					t.Errorf("change point %d at %d, want %d ± 3", i, cp.Index, tc.want[i])
				}
				if cp.PValue > 0.001 {
					t.Errorf("change point %d p = %g, want ≤ 0.001", i, cp.PValue)
				}
			}
		})
	}
}

func TestDetectFields(t *testing.T) {
	y := noisy(7, 100, func(i int) float64 {
		if i >= 50 {
			return 150
		}
		return 100
	})
	s := Series{Values: y, Times: make([]string, len(y))}
	for i := range s.Times {
		s.Times[i] = "t" + string(rune('A'+i%26))
	}
	cps, err := DetectSeries(s, DefaultDetectOptions())
	if err != nil || len(cps) != 1 {
		t.Fatalf("DetectSeries = %+v, %v", cps, err)
	}
	cp := cps[0]
	if cp.Index != 50 || cp.Time != s.Times[50] || math.Abs(cp.MeanBefore-100) > 1 || math.Abs(cp.MeanAfter-150) > 1 || math.Abs(cp.ChangePct-50) > 2 {
		t.Errorf("change point = %+v, want index 50, time %q, 100 → 150 (+50%%)", cp, s.Times[50])
	}
}

func TestDetectErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		o    DetectOptions
		want error
	}{
		{"empty", nil, DefaultDetectOptions(), ErrEmptySeries},
		{"all missing", []float64{math.NaN(), math.NaN()}, DefaultDetectOptions(), ErrEmptySeries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Detect(tc.in, tc.o); !errors.Is(err, tc.want) {
				t.Errorf("Detect(%v) error = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
	if _, err := Detect([]float64{1, math.Inf(1)}, DefaultDetectOptions()); err == nil {
		t.Error("Detect(+Inf) succeeded")
	}
	if _, err := Detect([]float64{1}, DetectOptions{Method: "magic"}); err == nil {
		t.Error("Detect(method magic) succeeded")
	}
}

func TestOfflineMethodsAgree(t *testing.T) {
	y := noisy(11, 600, func(i int) float64 {
		switch {
		case i >= 400:
			return 10
		case i >= 200:
			return 5
		}
		return 0
	})
	for _, m := range []Method{MethodPELT, MethodBinSeg, MethodEDivisive} {
		t.Run(string(m), func(t *testing.T) {
			o := DefaultDetectOptions()
			o.Method = m
			cps, err := Detect(y, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) != 2 || abs(cps[0].Index-200) > 3 || abs(cps[1].Index-400) > 3 {
				t.Errorf("%s: Detect = %+v, want 200 and 400", m, cps)
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
