package regress

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMannWhitney(t *testing.T) {
	tests := []struct {
		name  string
		a, b  []float64
		u, p  float64
		exact bool
	}{
		// Exact: P(U ≤ 0) = 1/C(6,3) = 1/20, two-sided 0.1.
		{"separated 3+3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1, true},
		// 2/C(10,5) = 2/252.
		{"separated 5+5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 0, 2.0 / 252, true},
		{"reversed", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 25, 2.0 / 252, true},
		{"interleaved", []float64{1, 3, 5}, []float64{2, 4, 6}, 3, 0.7, true},
		// All tied: no evidence at all.
		{"all tied", []float64{2, 2, 2}, []float64{2, 2, 2}, 4.5, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := MannWhitney(tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if r.U != tc.u || !near(r.P, tc.p, 1e-9) || r.Exact != tc.exact {
				t.Errorf("MannWhitney(%v, %v) = %+v, want U=%g p=%g exact=%v", tc.a, tc.b, r, tc.u, tc.p, tc.exact)
			}
		})
	}
}

// The exact distribution and the normal approximation agree closely at
// sizes where both apply, which checks the Gaussian-binomial recursion.
func TestMannWhitneyExactMatchesNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, n = 40, 45
	for i := range 20 {
		a, b := make([]float64, m), make([]float64, n)
		for j := range a {
			a[j] = rng.NormFloat64()
		}
		for j := range b {
			b[j] = rng.NormFloat64() + 0.3
		}
		ex, _ := MannWhitney(a, b)
		if !ex.Exact {
			t.Fatalf("case %d: not exact", i)
		}
		mu, sigma := float64(m*n)/2, math.Sqrt(float64(m*n*(m+n+1))/12)
		normal := 2 * (1 - 0.5*math.Erfc(-(math.Max(0, math.Abs(ex.U-mu)-0.5)/sigma)/math.Sqrt2))
		if !near(ex.P, normal, 0.01) {
			t.Errorf("case %d: exact p %.4f vs normal p %.4f", i, ex.P, normal)
		}
	}
}

func TestWelch(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5}  // mean 3, var 2.5
	b := []float64{2, 4, 6, 8, 10} // mean 6, var 10
	r, err := Welch(a, b, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// se² = 2.5/5 + 10/5 = 2.5; df = 6.25 / (0.25/4 + 4/4)
	if !near(r.T, 3/math.Sqrt(2.5), 1e-12) || !near(r.DF, 6.25/1.0625, 1e-12) || r.Diff != 3 {
		t.Errorf("Welch = %+v", r)
	}
	if r.P < 0.09 || r.P > 0.12 || !(r.Lo < 0 && r.Hi > 6) {
		t.Errorf("Welch p=%g CI=[%g, %g], want p≈0.107 and an interval containing 0", r.P, r.Lo, r.Hi)
	}
	if _, err := Welch([]float64{1}, b, 0.95); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("Welch(1 value) error = %v, want ErrTooFewSamples", err)
	}
	if _, err := Welch([]float64{1, math.NaN()}, b, 0.95); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Welch(NaN) error = %v, want ErrNonFinite", err)
	}
	c, _ := Welch([]float64{5, 5}, []float64{6, 6}, 0.95)
	if c.P != 0 || c.Diff != 1 {
		t.Errorf("Welch(constant, different) = %+v, want p=0", c)
	}
}

func TestHodgesLehmann(t *testing.T) {
	s, err := HodgesLehmann([]float64{1, 2, 3}, []float64{4, 5, 6}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if s.Estimate != 3 || s.Lo > 3 || s.Hi < 3 {
		t.Errorf("HodgesLehmann = %+v, want 3 inside its interval", s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float64, 200), make([]float64, 200)
	for i := range a {
		a[i] = rng.NormFloat64()
		b[i] = rng.NormFloat64() + 2
	}
	s, _ = HodgesLehmann(a, b, 0.95)
	if !(s.Lo < 2 && s.Hi > 2) || !near(s.Estimate, 2, 0.3) {
		t.Errorf("HodgesLehmann(shift 2) = %+v", s)
	}
}

func TestMedianRatio(t *testing.T) {
	a := []float64{10, 11, 9, 10, 12, 10, 9, 11}
	b := []float64{20, 22, 18, 20, 24, 20, 18, 22}
	r1, err := MedianRatio(a, b, 0.95, 500, 7)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := MedianRatio(a, b, 0.95, 500, 7)
	if r1 != r2 {
		t.Errorf("same seed gave %+v and %+v", r1, r2)
	}
	if r1.Estimate != 2 || r1.Lo > 2 || r1.Hi < 2 {
		t.Errorf("MedianRatio = %+v, want 2 inside", r1)
	}
	if _, err := MedianRatio([]float64{0, 0}, b, 0.95, 10, 1); err == nil {
		t.Error("MedianRatio(zero baseline) succeeded")
	}
}

func TestMedianInterval(t *testing.T) {
	xs := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	// P(Bin(10, .5) ≤ 1) = 11/1024 ≤ 0.025 < P(≤ 2): the 2nd and 9th values.
	if lo, hi := MedianInterval(xs, 0.95); lo != 2 || hi != 9 {
		t.Errorf("MedianInterval = [%g, %g], want [2, 9]", lo, hi)
	}
	if lo, hi := MedianInterval([]float64{3, 1}, 0.95); lo != 1 || hi != 3 {
		t.Errorf("MedianInterval(2 values) = [%g, %g], want the range", lo, hi)
	}
}

func TestCorrections(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03}
	tests := []struct {
		name string
		fn   func([]float64) []float64
		want []float64
	}{
		{"holm", Holm, []float64{0.03, 0.06, 0.06}},
		{"bh", BenjaminiHochberg, []float64{0.03, 0.04, 0.04}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.fn(p)
			for i := range got {
				if !near(got[i], tc.want[i], 1e-12) {
					t.Fatalf("%s(%v) = %v, want %v", tc.name, p, got, tc.want)
				}
			}
		})
	}
}
