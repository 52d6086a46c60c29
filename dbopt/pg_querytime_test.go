package dbopt

import (
	"math"
	"testing"
)

func TestMixtureQuantile(t *testing.T) {
	// A log-normal of mean m and sd s has sigma² = ln(1 + s²/m²), mu =
	// ln m − sigma²/2; its p95 is exp(mu + 1.6449 sigma).
	m, s := 10.0, 5.0
	s2 := math.Log(1 + s*s/(m*m))
	want := math.Exp(math.Log(m) - s2/2 + 1.6448536*math.Sqrt(s2))
	for _, tc := range []struct {
		name  string
		comps []component
		want  float64
		tol   float64
	}{
		{"point mass", []component{{weight: 5, mean: 3}}, 3, 1e-4},
		{"one log-normal", []component{{weight: 1, mean: m, sd: s}}, want, 1e-3},
		{"90 % fast, 10 % at 50 ms", []component{{weight: 90, mean: 0.1}, {weight: 10, mean: 50}}, 50, 1e-3},
		{"96 % fast", []component{{weight: 96, mean: 0.1}, {weight: 4, mean: 50}}, 0.1, 1e-3},
	} {
		if got := mixtureQuantile(tc.comps, 0.95); math.Abs(got-tc.want) > tc.tol*math.Max(1, tc.want) {
			t.Errorf("%s: p95 %.5f, want %.5f", tc.name, got, tc.want)
		}
	}
}
