package regress

import (
	"math"
	"slices"
)

// E-divisive means as Apache Otava (formerly Hunter, from MongoDB) runs it:
// the energy statistic q̂ proposes the best split of each interval, a
// Welch t-test between the neighbouring segments replaces the original
// permutation test so results are deterministic, windows of 50 points keep
// the quadratic statistic cheap, and a merge pass drops the weakest change
// point until every survivor is significant and large enough.

// Otava's defaults.
const (
	DefaultEDivisiveWindow    = 50
	DefaultEDivisiveMaxP      = 0.001
	DefaultEDivisiveMagnitude = 0.0
)

// EDivisiveOptions are the parameters of EDivisive. Zero values mean the
// Otava defaults above.
type EDivisiveOptions struct {
	Window       int     // points per window; default 50
	MaxP         float64 // merge threshold; the split pass uses 10×MaxP
	MinMagnitude float64 // minimum |mean_after/mean_before − 1|; default 0
}

// EDivisive returns the change points of y (first index of each new
// segment), ascending.
func EDivisive(y []float64, o EDivisiveOptions) []int {
	if o.Window <= 0 {
		o.Window = DefaultEDivisiveWindow
	}
	if o.MaxP <= 0 {
		o.MaxP = DefaultEDivisiveMaxP
	}
	cps := edivSplit(y, o.Window, math.Min(1, o.MaxP*10))
	return mergeWeakest(y, cps, welchTest, o.MaxP, o.MinMagnitude)
}

// segTest returns the p-value of a difference between two adjacent
// segments and the size of that difference (compared with a minimum).
type segTest func(left, right []float64) (p, magnitude float64)

// welchTest is Otava's: Welch's t-test and the relative change of the mean.
func welchTest(l, r []float64) (float64, float64) {
	if len(l) < 2 || len(r) < 2 {
		return 1, 0
	}
	w, err := Welch(l, r, 0.95)
	if err != nil {
		return 1, 0
	}
	ml := mean(l)
	mag := 0.0
	if ml != 0 {
		mag = math.Abs(mean(r)/ml - 1)
	}
	return w.P, mag
}

func edivSplit(y []float64, window int, maxP float64) []int {
	var out []int
	step := window / 2
	if step < 1 {
		step = 1
	}
	for start := 0; start < len(y); {
		end := min(start+window, len(y))
		found := edivWindow(y[start:end], maxP)
		for i := range found {
			found[i] += start
		}
		out = append(out, found...)
		next := start + step
		if len(found) > 0 && found[len(found)-1] > next {
			next = found[len(found)-1]
		}
		if end == len(y) {
			break
		}
		start = next
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// edivWindow runs hierarchical e-divisive on one window: repeatedly take
// the interval split with the largest q̂ and keep it while the t-test
// between its neighbouring segments is significant.
func edivWindow(y []float64, maxP float64) []int {
	bounds := []int{0, len(y)}
	var cps []int
	for {
		bestQ, bestT := math.Inf(-1), -1
		for i := 0; i+1 < len(bounds); i++ {
			t, q := qhatBest(y[bounds[i]:bounds[i+1]])
			if t >= 0 && q > bestQ {
				bestQ, bestT = q, t+bounds[i]
			}
		}
		if bestT < 0 {
			return cps
		}
		j, _ := slices.BinarySearch(bounds, bestT)
		p, _ := welchTest(y[bounds[j-1]:bestT], y[bestT:bounds[j]])
		if p > maxP {
			return cps
		}
		bounds = slices.Insert(bounds, j, bestT)
		cps = append(cps, bestT)
	}
}

// qhatBest returns the split τ of x maximising the energy statistic
// q̂(τ) = τ(n−τ)/n · (2/(τ(n−τ))·A − 2/(τ(τ−1))·B − 2/((n−τ)(n−τ−1))·C),
// where A sums |x_i − x_j| across the split and B, C within each side. Each
// side keeps at least two points so the t-test that follows is defined.
func qhatBest(x []float64) (int, float64) {
	n := len(x)
	if n < 4 {
		return -1, 0
	}
	// row[i] = Σ_j |x_i − x_j| restricted as needed; computed incrementally.
	var total float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			total += math.Abs(x[i] - x[j])
		}
	}
	// B(τ): pairs within x[:τ]; C(τ): pairs within x[τ:].
	var b float64
	c := total
	best, arg := math.Inf(-1), -1
	for tau := 1; tau < n; tau++ {
		// move x[tau-1] from the right side to the left side
		k := tau - 1
		for i := 0; i < k; i++ {
			b += math.Abs(x[i] - x[k])
		}
		for j := k + 1; j < n; j++ {
			c -= math.Abs(x[k] - x[j])
		}
		if tau < 2 || n-tau < 2 {
			continue
		}
		a := total - b - c
		ft, fr := float64(tau), float64(n-tau)
		q := ft * fr / float64(n) * (2/(ft*fr)*a - 2/(ft*(ft-1))*b - 2/(fr*(fr-1))*c)
		if q > best {
			best, arg = q, tau
		}
	}
	return arg, best
}

// mergeWeakest removes, one at a time, the change point whose neighbouring
// segments differ least (highest p-value, or smallest magnitude once every
// p-value passes), recomputing its neighbours, until all pass both bounds.
func mergeWeakest(y []float64, cps []int, test segTest, maxP, minMag float64) []int {
	cps = slices.Clone(cps)
	type st struct{ p, mag float64 }
	stats := make([]st, len(cps))
	eval := func(i int) {
		lo, hi := 0, len(y)
		if i > 0 {
			lo = cps[i-1]
		}
		if i+1 < len(cps) {
			hi = cps[i+1]
		}
		p, m := test(y[lo:cps[i]], y[cps[i]:hi])
		stats[i] = st{p, m}
	}
	for i := range cps {
		eval(i)
	}
	for len(cps) > 0 {
		w := 0
		for i := range stats {
			if stats[i].p > stats[w].p {
				w = i
			}
		}
		if stats[w].p <= maxP {
			w = 0
			for i := range stats {
				if stats[i].mag < stats[w].mag {
					w = i
				}
			}
			if stats[w].mag >= minMag {
				return cps
			}
		}
		cps = slices.Delete(cps, w, w+1)
		stats = slices.Delete(stats, w, w+1)
		if w < len(cps) {
			eval(w)
		}
		if w > 0 {
			eval(w - 1)
		}
	}
	return cps
}
