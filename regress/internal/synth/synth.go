// Package synth generates annotated synthetic series for tuning and scoring
// change-point detectors, and scores detections with the F1 measure of the
// Turing change-point benchmark (van den Burg and Williams, 2020).
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Case is one generated series with the change points it was built with:
// the first index of each new regime.
type Case struct {
	Name     string    `json:"name"`
	Category string    `json:"category"`
	Values   []float64 `json:"values"`
	Changes  []int     `json:"changes"`
}

// Categories, in the order Generate emits them.
var Categories = []string{
	"none", "mean", "variance", "trend", "heavy_tail", "outliers",
	"spikes", "seasonal", "lognormal", "short", "long", "missing",
	"small", "autocorr", "mixed", "quantized",
}

// Generate returns perCategory cases per category, deterministic in seed.
func Generate(seed uint64, perCategory int) []Case {
	rng := rand.New(rand.NewPCG(seed, seed*31+7))
	var out []Case
	for _, cat := range Categories {
		for i := range perCategory {
			c := gen(rng, cat)
			c.Name = fmt.Sprintf("%s_%02d", cat, i)
			c.Category = cat
			out = append(out, c)
		}
	}
	return out
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// changes places k change points in [0, n) at least gap apart and away
// from the ends.
func changes(r *rand.Rand, n, k, gap int) []int {
	for attempt := 0; attempt < 1000; attempt++ {
		cps := make([]int, 0, k)
		for range k {
			cps = append(cps, gap+r.IntN(max(1, n-2*gap)))
		}
		slices.Sort(cps)
		ok := true
		for i := 1; i < len(cps); i++ {
			if cps[i]-cps[i-1] < gap {
				ok = false
			}
		}
		if ok {
			return cps
		}
	}
	return nil
}

// levels returns a piecewise-constant signal with a random jump at each
// change, of size between lo and hi noise units, either sign.
func levels(r *rand.Rand, n int, cps []int, lo, hi float64) []float64 {
	out := make([]float64, n)
	level := 0.0
	j := 0
	for i := range n {
		for j < len(cps) && cps[j] == i {
			d := uniform(r, lo, hi)
			if r.IntN(2) == 0 {
				d = -d
			}
			level += d
			j++
		}
		out[i] = level
	}
	return out
}

func studentT(r *rand.Rand, nu float64) float64 {
	// ratio of a normal to the root of a scaled chi-square
	var chi float64
	for range int(nu) {
		z := r.NormFloat64()
		chi += z * z
	}
	return r.NormFloat64() / math.Sqrt(chi/nu)
}

func gen(r *rand.Rand, cat string) Case {
	n := 200 + r.IntN(400)
	base := uniform(r, -50, 150)
	sd := uniform(r, 0.5, 5)
	var c Case
	noise := func() float64 { return r.NormFloat64() }
	k := r.IntN(4)
	switch cat {
	case "none":
		k = 0
	case "short":
		n = 30 + r.IntN(50)
		k = r.IntN(2)
	case "long":
		n = 2000 + r.IntN(3000)
		k = 1 + r.IntN(6)
	case "heavy_tail":
		noise = func() float64 { return studentT(r, 3) / math.Sqrt(3) }
	}
	gap := max(10, n/12)
	if cat == "short" {
		gap = 12
	}
	if k == 0 && cat != "none" && cat != "short" && r.IntN(3) > 0 {
		k = 1
	}
	c.Changes = changes(r, n, k, gap)
	lo, hi := 1.0, 4.0
	if cat == "small" {
		lo, hi = 0.7, 1.5
	}
	sig := levels(r, n, c.Changes, lo, hi)
	scale := make([]float64, n)
	for i := range scale {
		scale[i] = 1
	}
	if cat == "variance" || cat == "mixed" {
		// steps in spread; the mean stays put unless mixed
		if cat == "variance" {
			sig = make([]float64, n)
		}
		f := 1.0
		j := 0
		for i := range n {
			for j < len(c.Changes) && c.Changes[j] == i {
				ratio := uniform(r, 2.5, 5)
				if f > 1 && r.IntN(3) > 0 || f > 4 {
					ratio = 1 / ratio
				}
				f *= ratio
				j++
			}
			scale[i] = f
		}
	}
	c.Values = make([]float64, n)
	slope := uniform(r, -3, 3) / float64(n) // ≤ 3 noise units over the series
	period := float64(12 + r.IntN(40))
	amp := uniform(r, 0.5, 1.5)
	phase := uniform(r, 0, 2*math.Pi)
	phi := uniform(r, 0.3, 0.7)
	ar := 0.0
	for i := range n {
		e := noise()
		if cat == "autocorr" {
			// AR(1) with unit marginal variance
			ar = phi*ar + math.Sqrt(1-phi*phi)*e
			e = ar
		}
		v := sig[i] + scale[i]*e
		switch cat {
		case "trend":
			v += slope * float64(i)
		case "seasonal":
			v += amp * math.Sin(2*math.Pi*float64(i)/period+phase)
		}
		c.Values[i] = base + sd*v
	}
	switch cat {
	case "lognormal":
		// latency-like: multiplicative noise, steps are relative
		lvl := levels(r, n, c.Changes, 0.3, 1.0)
		m := uniform(r, 2, 6)
		for i := range n {
			c.Values[i] = math.Exp(m + lvl[i] + 0.25*r.NormFloat64())
		}
	case "outliers":
		for i := range n {
			if r.Float64() < 0.02 {
				c.Values[i] = base + sd*(sig[i]+uniform(r, 5, 12)*sign(r))
			}
		}
	case "spikes":
		for range 1 + r.IntN(4) {
			i := r.IntN(n)
			c.Values[i] = base + sd*(sig[i]+uniform(r, 8, 25)*sign(r))
		}
	case "quantized":
		// counts: small integers, many repeats
		for i := range n {
			c.Values[i] = math.Round(3 + sig[i] + r.NormFloat64())
			if c.Values[i] < 0 {
				c.Values[i] = 0
			}
		}
	case "missing":
		for i := range n {
			if r.Float64() < 0.05 {
				c.Values[i] = math.NaN()
			}
		}
	}
	return c
}

func sign(r *rand.Rand) float64 {
	if r.IntN(2) == 0 {
		return -1
	}
	return 1
}

// F1 scores predicted change points against the true ones as the Turing
// change-point benchmark does: the start of the series counts as a change
// point in both sets, a prediction within margin of a true change point
// matches it, and each prediction matches at most one.
func F1(truth, pred []int, margin int) (f1, precision, recall float64) {
	t := append([]int{0}, truth...)
	p := append([]int{0}, pred...)
	t, p = uniq(t), uniq(p)
	used := make([]bool, len(p))
	tp := 0
	for _, x := range t {
		best, bi := margin+1, -1
		for j, y := range p {
			if used[j] {
				continue
			}
			if d := abs(x - y); d <= margin && d < best {
				best, bi = d, j
			}
		}
		if bi >= 0 {
			used[bi] = true
			tp++
		}
	}
	precision = float64(tp) / float64(len(p))
	recall = float64(tp) / float64(len(t))
	if precision+recall == 0 {
		return 0, precision, recall
	}
	return 2 * precision * recall / (precision + recall), precision, recall
}

func uniq(xs []int) []int {
	slices.Sort(xs)
	return slices.Compact(xs)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
