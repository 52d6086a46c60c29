package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// oracleP enumerates every way to split the pooled values into samples of
// sizes len(a) and len(b) and counts those whose rank-sum statistic is at
// least as far from its mean as the observed one: the exact two-sided
// permutation p-value, by brute force.
func oracleP(a, b []float64) float64 {
	pool := append(append([]float64{}, a...), b...)
	n, n1 := len(pool), len(a)
	// midranks of the pooled values, doubled so they are integers
	r2 := make([]int, n)
	for i, x := range pool {
		less, eq := 0, 0
		for _, y := range pool {
			if y < x {
				less++
			} else if y == x {
				eq++
			}
		}
		r2[i] = 2*less + eq + 1
	}
	obs := 0
	for i := range n1 {
		obs += r2[i]
	}
	mu := n1 * (n + 1)
	var hit, all int
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != n1 {
			continue
		}
		s := 0
		for i := range n {
			if mask&(1<<i) != 0 {
				s += r2[i]
			}
		}
		all++
		if iabs(s-mu) >= iabs(obs-mu) {
			hit++
		}
	}
	return float64(hit) / float64(all)
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

// TestMannWhitneyTiesExact checks the exact p-value under ties against the
// brute-force oracle on a grid of sample sizes and tie patterns: few
// distinct values (heavy ties), ties in one sample only, ties across the
// samples, one large tie block, and no ties (where the Gaussian-binomial
// path must agree too).
func TestMannWhitneyTiesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 20))
	patterns := []struct {
		name string
		draw func() float64
	}{
		{"two values", func() float64 { return float64(rng.IntN(2)) }},
		{"three values", func() float64 { return float64(rng.IntN(3)) }},
		{"five values", func() float64 { return float64(rng.IntN(5)) }},
		{"one big block", func() float64 {
			if rng.IntN(2) == 0 {
				return 10
			}
			return rng.Float64()
		}},
		{"no ties", func() float64 { return rng.Float64() }},
	}
	sizes := [][2]int{{1, 3}, {2, 2}, {3, 3}, {3, 5}, {5, 3}, {4, 6}, {6, 6}, {5, 9}, {8, 8}, {2, 12}}
	checked := 0
	for _, pat := range patterns {
		for _, sz := range sizes {
			for rep := range 4 {
				a, b := make([]float64, sz[0]), make([]float64, sz[1])
				for i := range a {
					a[i] = pat.draw()
				}
				for i := range b {
					b[i] = pat.draw() + float64(rep%2) // half the cases shifted
				}
				name := fmt.Sprintf("%s/%dx%d/%d", pat.name, sz[0], sz[1], rep)
				got, err := MannWhitney(a, b)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := oracleP(a, b)
				allEqual := true
				for _, x := range append(append([]float64{}, a...), b...) {
					allEqual = allEqual && x == a[0]
				}
				if allEqual {
					want = 1
				}
				if !near(got.P, want, 1e-9) {
					t.Errorf("%s: MannWhitney(%v, %v).P = %.6f, want %.6f", name, a, b, got.P, want)
				}
				if !allEqual && !got.Exact {
					t.Errorf("%s: MannWhitney(%v, %v) not exact", name, a, b)
				}
				checked++
			}
		}
	}
	t.Logf("%d cases against the enumeration oracle", checked)
}

// The case from the issue: n = 5 and 3 with repeated values, where the
// normal approximation said 0.110 and the exact p-value is 0.036.
func TestMannWhitneyTiesIssueCase(t *testing.T) {
	a := []float64{1, 1, 2, 2, 2}
	b := []float64{3, 3, 3}
	got, err := MannWhitney(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := oracleP(a, b)
	if !near(got.P, want, 1e-12) || !got.Exact {
		t.Errorf("MannWhitney(%v, %v) = %+v, want exact p %.4f", a, b, got, want)
	}
	if got.P > 0.05 {
		t.Errorf("MannWhitney(%v, %v).P = %.4f: separated samples must be significant at 0.05", a, b, got.P)
	}
}

// Above the exact limit the tie-corrected normal approximation takes over
// and stays close to the permutation distribution, estimated here by Monte
// Carlo with enough draws for ±0.01.
func TestMannWhitneyTiesNormalAboveLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float64, 35), make([]float64, 35)
	for i := range a {
		a[i] = float64(rng.IntN(4))
		b[i] = float64(rng.IntN(4)) + 0.4*float64(rng.IntN(2))
	}
	got, err := MannWhitney(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Exact {
		t.Fatalf("n = 70 should use the normal approximation")
	}
	pool := append(append([]float64{}, a...), b...)
	obs := rankSum(pool, len(a))
	mu := float64(len(a)) * float64(len(pool)+1) / 2
	const draws = 20000
	hit := 0
	for range draws {
		rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		if math.Abs(rankSum(pool, len(a))-mu) >= math.Abs(obs-mu)-1e-9 {
			hit++
		}
	}
	mc := float64(hit) / draws
	if !near(got.P, mc, 0.02) {
		t.Errorf("normal p %.4f vs permutation p %.4f", got.P, mc)
	}
}

func rankSum(pool []float64, n1 int) float64 {
	var s float64
	for i := range n1 {
		less, eq := 0, 0
		for _, y := range pool {
			if y < pool[i] {
				less++
			} else if y == pool[i] {
				eq++
			}
		}
		s += float64(less) + float64(eq+1)/2
	}
	return s
}

// BenchmarkMannWhitneyTiesExact times the exact path at its limit.
//
//	go test ./regress -run '^$' -bench MannWhitneyTies -benchmem
func BenchmarkMannWhitneyTiesExact(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := make([]float64, 30), make([]float64, 30)
	for i := range x {
		x[i], y[i] = float64(rng.IntN(8)), float64(rng.IntN(8))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MannWhitney(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
