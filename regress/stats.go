package regress

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Errors returned for samples the tests cannot use.
var (
	// ErrTooFewSamples means a sample is smaller than a test needs.
	ErrTooFewSamples = errors.New("regress: too few samples")
	// ErrNonFinite means a sample holds NaN or ±Inf.
	ErrNonFinite = errors.New("regress: non-finite value in sample")
)

func checkFinite(xs []float64) error {
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w at position %d", ErrNonFinite, i)
		}
	}
	return nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// variance is the unbiased sample variance, computed in two passes so that
// large offsets (latencies in nanoseconds) do not cancel.
func variance(xs []float64, m float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	var s float64
	for _, x := range xs {
		d := x - m
		s += d * d
	}
	return s / float64(len(xs)-1)
}

// median of xs; xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedMedian(s)
}

func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// WelchResult is the outcome of Welch's unequal-variance t-test of
// candidate against baseline.
type WelchResult struct {
	T  float64 `json:"t"`
	DF float64 `json:"df"`
	P  float64 `json:"p"` // two-sided
	// Diff is mean(candidate) − mean(baseline), with its confidence
	// interval [Lo, Hi] at the requested level.
	Diff float64 `json:"diff"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
}

// Welch runs Welch's t-test of b against a with a confidence interval of the
// mean difference at level conf (for example 0.95). Each sample needs at
// least two values. Two constant samples give p = 1 when equal and p = 0
// when not, since there is no noise to hide a difference in.
func Welch(a, b []float64, conf float64) (WelchResult, error) {
	if len(a) < 2 || len(b) < 2 {
		return WelchResult{}, fmt.Errorf("welch: %w: need 2 per sample, have %d and %d", ErrTooFewSamples, len(a), len(b))
	}
	if err := errors.Join(checkFinite(a), checkFinite(b)); err != nil {
		return WelchResult{}, fmt.Errorf("welch: %w", err)
	}
	ma, mb := mean(a), mean(b)
	va, vb := variance(a, ma)/float64(len(a)), variance(b, mb)/float64(len(b))
	diff := mb - ma
	se := math.Sqrt(va + vb)
	if se == 0 {
		p := 1.0
		if diff != 0 {
			p = 0
		}
		// T stays 0: an infinite score does not survive JSON, and P says it.
		return WelchResult{DF: float64(len(a) + len(b) - 2), P: p, Diff: diff, Lo: diff, Hi: diff}, nil
	}
	df := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	t := diff / se
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	p := 2 * dist.Survival(math.Abs(t))
	q := dist.Quantile(1 - (1-conf)/2)
	return WelchResult{T: t, DF: df, P: math.Min(1, p), Diff: diff, Lo: diff - q*se, Hi: diff + q*se}, nil
}

// MannWhitneyResult is the outcome of the Mann–Whitney U test.
type MannWhitneyResult struct {
	// U is the statistic of the baseline sample: the number of (a, b)
	// pairs with a > b, ties counting one half.
	U float64 `json:"u"`
	// Z is the tie-corrected normal score; 0 when the exact test was used.
	Z     float64 `json:"z"`
	P     float64 `json:"p"` // two-sided
	Exact bool    `json:"exact"`
}

// exactLimit bounds the sample sizes for which the exact null distribution
// of U is computed: it costs O(n1·n1·n2) and is only needed where the normal
// approximation is poor.
const exactLimit = 50

// MannWhitney runs the two-sided Mann–Whitney U test. Without ties and with
// both samples of at most 50 values the p-value is exact (from the
// distribution of U, a Gaussian binomial coefficient); with ties and at
// most 60 values in all it is exact too, from the permutation distribution
// of the midrank sum given the tie pattern; otherwise it uses the normal
// approximation with tie and continuity corrections.
func MannWhitney(a, b []float64) (MannWhitneyResult, error) {
	n1, n2 := len(a), len(b)
	if n1 < 1 || n2 < 1 {
		return MannWhitneyResult{}, fmt.Errorf("mann-whitney: %w: have %d and %d", ErrTooFewSamples, n1, n2)
	}
	if err := errors.Join(checkFinite(a), checkFinite(b)); err != nil {
		return MannWhitneyResult{}, fmt.Errorf("mann-whitney: %w", err)
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	for _, x := range a {
		all = append(all, obs{x, true})
	}
	for _, x := range b {
		all = append(all, obs{x, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var r1, tieSum float64
	ties := false
	groups := make([]tieGroup, 0, len(all))
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1..j
		t := float64(j - i)
		if t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		groups = append(groups, tieGroup{size: j - i, rank2: i + j + 1})
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		i = j
	}
	fn1, fn2 := float64(n1), float64(n2)
	u := r1 - fn1*(fn1+1)/2
	mu := fn1 * fn2 / 2
	if !ties && n1 <= exactLimit && n2 <= exactLimit {
		return MannWhitneyResult{U: u, P: exactUP(n1, n2, u), Exact: true}, nil
	}
	if ties && len(groups) > 1 && n1+n2 <= exactTiesLimit {
		// The normal approximation is poor on small samples with repeated
		// values (n = 5 and 3: p 0.110 where the exact p is 0.036), so
		// small tied samples get the exact permutation distribution.
		return MannWhitneyResult{U: u, P: exactTiesP(n1, groups, int(math.Round(2*r1))), Exact: true}, nil
	}
	n := fn1 + fn2
	sigma := math.Sqrt(fn1 * fn2 / 12 * ((n + 1) - tieSum/(n*(n-1))))
	if sigma == 0 { // every value equal
		return MannWhitneyResult{U: u, P: 1}, nil
	}
	d := math.Abs(u-mu) - 0.5
	if d < 0 {
		d = 0
	}
	z := d / sigma
	p := 2 * distuv.UnitNormal.Survival(z)
	return MannWhitneyResult{U: u, Z: math.Copysign(z, u-mu), P: math.Min(1, p)}, nil
}

// exactUP is the two-sided exact p-value of U for sample sizes m and n: the
// counts of U are the coefficients of the Gaussian binomial [m+n choose m]
// in q, built as ∏_{i=1..m} (1−q^{n+i})/(1−q^i).
func exactUP(m, n int, u float64) float64 {
	size := m*n + 1
	c := make([]float64, size)
	c[0] = 1
	for i := 1; i <= m; i++ {
		// multiply by (1 - q^(n+i)), high to low
		for k := size - 1; k >= n+i; k-- {
			c[k] -= c[k-n-i]
		}
		// divide by (1 - q^i): running sum with stride i
		for k := i; k < size; k++ {
			c[k] += c[k-i]
		}
	}
	var total, lo, hi float64
	for k, v := range c {
		total += v
		if float64(k) <= u {
			lo += v
		}
		if float64(k) >= u {
			hi += v
		}
	}
	p := 2 * math.Min(lo, hi) / total
	return math.Min(1, p)
}

// Shift is the Hodges–Lehmann estimate of how far candidate values sit from
// baseline values, with its distribution-free confidence interval.
type Shift struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
}

// maxPairs bounds the pairwise differences HodgesLehmann materialises; larger
// samples are thinned by an even stride, which keeps their order statistics.
const maxPairs = 1 << 21

// HodgesLehmann returns the median of all differences b_j − a_i and the
// Moses confidence interval at level conf, read from the order statistics of
// those differences at the Mann–Whitney critical value.
func HodgesLehmann(a, b []float64, conf float64) (Shift, error) {
	if len(a) < 1 || len(b) < 1 {
		return Shift{}, fmt.Errorf("hodges-lehmann: %w", ErrTooFewSamples)
	}
	if err := errors.Join(checkFinite(a), checkFinite(b)); err != nil {
		return Shift{}, fmt.Errorf("hodges-lehmann: %w", err)
	}
	a, b = thin(a, b)
	d := make([]float64, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			d = append(d, y-x)
		}
	}
	slices.Sort(d)
	n1, n2 := float64(len(a)), float64(len(b))
	z := distuv.UnitNormal.Quantile(1 - (1-conf)/2)
	k := int(math.Floor(n1*n2/2 - z*math.Sqrt(n1*n2*(n1+n2+1)/12)))
	if k < 0 {
		k = 0
	}
	hiIdx := len(d) - 1 - k
	if hiIdx < k {
		k, hiIdx = 0, len(d)-1
	}
	return Shift{Estimate: sortedMedian(d), Lo: d[k], Hi: d[hiIdx]}, nil
}

func thin(a, b []float64) ([]float64, []float64) {
	for len(a)*len(b) > maxPairs {
		if len(a) >= len(b) {
			a = stride(a)
		} else {
			b = stride(b)
		}
	}
	return a, b
}

func stride(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	out := make([]float64, 0, len(s)/2+1)
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	return out
}

// Ratio is median(candidate)/median(baseline) with a bootstrap interval.
type Ratio struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
}

// DefaultBootstrapIterations is the number of resamples MedianRatio draws
// when asked for zero.
const DefaultBootstrapIterations = 2000

// MedianRatio is a percentile-bootstrap interval at level conf of the ratio
// of medians, resampling each sample independently with a PCG generator
// seeded by seed, so equal inputs give equal intervals. A baseline median of
// zero makes the ratio undefined (an error).
func MedianRatio(a, b []float64, conf float64, iters int, seed uint64) (Ratio, error) {
	if len(a) < 1 || len(b) < 1 {
		return Ratio{}, fmt.Errorf("median ratio: %w", ErrTooFewSamples)
	}
	if err := errors.Join(checkFinite(a), checkFinite(b)); err != nil {
		return Ratio{}, fmt.Errorf("median ratio: %w", err)
	}
	ma := median(a)
	if ma == 0 {
		return Ratio{}, errors.New("median ratio: baseline median is zero")
	}
	if iters <= 0 {
		iters = DefaultBootstrapIterations
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, 0, iters)
	for range iters {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		slices.Sort(ra)
		slices.Sort(rb)
		den := sortedMedian(ra)
		if den == 0 {
			continue
		}
		ratios = append(ratios, sortedMedian(rb)/den)
	}
	est := median(b) / ma
	if len(ratios) == 0 {
		return Ratio{Estimate: est, Lo: est, Hi: est}, nil
	}
	slices.Sort(ratios)
	q := func(p float64) float64 {
		i := int(math.Floor(p * float64(len(ratios)-1)))
		return ratios[i]
	}
	return Ratio{Estimate: est, Lo: q((1 - conf) / 2), Hi: q(1 - (1-conf)/2)}, nil
}

// MedianInterval is the distribution-free confidence interval of the median
// at level conf from order statistics, as benchstat reports it. Samples too
// small for the level give the whole range.
func MedianInterval(xs []float64, conf float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	bin := distuv.Binomial{N: float64(n), P: 0.5}
	// largest k with P(X < k) <= (1-conf)/2
	k := 0
	for j := 1; j <= n/2; j++ {
		if bin.CDF(float64(j-1)) <= (1-conf)/2 {
			k = j
		} else {
			break
		}
	}
	if k == 0 {
		return s[0], s[n-1]
	}
	return s[k-1], s[n-k]
}

// Holm returns Holm–Bonferroni adjusted p-values, in the input order. They
// control the family-wise error rate: reject where adjusted p ≤ α.
func Holm(p []float64) []float64 {
	m := len(p)
	idx := order(p)
	out := make([]float64, m)
	running := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*p[i])
		running = math.Max(running, v)
		out[i] = running
	}
	return out
}

// BenjaminiHochberg returns adjusted p-values (q-values) controlling the
// false discovery rate, in the input order.
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	idx := order(p)
	out := make([]float64, m)
	running := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := idx[rank]
		v := math.Min(1, p[i]*float64(m)/float64(rank+1))
		running = math.Min(running, v)
		out[i] = running
	}
	return out
}

func order(p []float64) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return p[idx[x]] < p[idx[y]] })
	return idx
}
