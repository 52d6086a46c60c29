package regress

import "math"

// exactTiesLimit bounds the pooled size for which MannWhitney computes the
// exact null distribution of U under ties. The count of arrangements is
// built by dynamic programming over the tie groups in O(N·n·N²) for pooled
// size N and smaller sample n; above 60 values it costs milliseconds and the
// tie-corrected normal approximation is within a few thousandths anyway.
const exactTiesLimit = 60

// tieGroup is one run of equal values in the pooled, sorted sample: its
// size and twice its midrank (an integer, so rank sums stay exact).
type tieGroup struct {
	size  int
	rank2 int
}

// exactTiesP is the two-sided exact p-value of the rank sum of a sample of
// size n1 drawn, under the null, uniformly from the pooled values described
// by groups: P(|W − E W| ≥ |w − E W|), where W is twice the rank sum and
// w2 its observed value. Equal values are exchangeable, so choosing k of a
// group of size t adds k·rank2 to W in C(t, k) ways; the distribution
// conditional on the tie pattern is the permutation distribution of the
// test, which is what R's coin::wilcox_test(distribution = "exact")
// computes with the shift algorithm.
func exactTiesP(n1 int, groups []tieGroup, w2 int) float64 {
	total := 0
	maxSum := 0
	for _, g := range groups {
		total += g.size
		maxSum += g.size * g.rank2
	}
	// f[c][s]: ways to pick c values with doubled rank sum s from the
	// groups seen so far.
	width := maxSum + 1
	f := make([]float64, (n1+1)*width)
	next := make([]float64, (n1+1)*width)
	f[0] = 1
	seen, reach := 0, 0
	for _, g := range groups {
		clear(next)
		binom := 1.0 // C(g.size, k)
		for k := 0; k <= g.size && k <= n1; k++ {
			add := k * g.rank2
			for c := 0; c+k <= n1 && c <= seen; c++ {
				row, out := f[c*width:], next[(c+k)*width:]
				for s := 0; s <= reach; s++ {
					if v := row[s]; v != 0 {
						out[s+add] += v * binom
					}
				}
			}
			binom = binom * float64(g.size-k) / float64(k+1)
		}
		f, next = next, f
		seen += g.size
		reach += g.size * g.rank2
	}
	mu2 := n1 * (total + 1) // E W, doubled rank sum
	obs := iabs(w2 - mu2)
	var tail, all float64
	row := f[n1*width:]
	for s, v := range row {
		if v == 0 {
			continue
		}
		all += v
		if iabs(s-mu2) >= obs {
			tail += v
		}
	}
	if all == 0 {
		return 1
	}
	return math.Min(1, tail/all)
}

func iabs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
