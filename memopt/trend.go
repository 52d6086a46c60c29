package memopt

import (
	"math"
	"slices"

	"github.com/perfengine/perfengine/metrics"
)

// Trend is the result of a Mann–Kendall trend test with the Hamed–Rao
// variance correction, plus the Theil–Sen slope, over one series.
type Trend struct {
	N int `json:"n"` // points tested
	// S is the Mann–Kendall statistic: concordant minus discordant pairs.
	S float64 `json:"s"`
	// Z is S standardised by its variance after the autocorrelation
	// correction.
	Z float64 `json:"z"`
	// P is the one-sided p-value of an upward trend.
	P float64 `json:"p"`
	// Correction is the Hamed–Rao variance factor n/n*, at least 1: how much
	// autocorrelation widened the variance of S.
	Correction float64 `json:"correction"`
	// Slope is the Theil–Sen slope in units per second.
	Slope float64 `json:"slope_per_second"`
}

// TrendTest runs the Mann–Kendall test on ys observed at times ts (seconds,
// ascending) and estimates the Theil–Sen slope. Autocorrelation makes the
// plain test far too eager on runtime series (a heap that stays high for a
// while is not a trend), so the variance of S is inflated by the Hamed–Rao
// factor computed from the ranks of the detrended series. It needs at least
// three points; with fewer it returns a Trend with P = 1.
//
// Cost is O(n²) in time and O(n²) in memory for the slope, so callers bound n
// (the detector keeps at most MaxPoints).
func TrendTest(ts, ys []float64) Trend {
	var sc scratch
	return sc.trendTest(ts, ys)
}

// scratch holds the buffers of a trend test so a detector testing every
// interval does not allocate.
type scratch struct {
	sorted, detr, rank, slopes []float64
	idx                        []int
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

func (sc *scratch) trendTest(ts, ys []float64) Trend {
	n := len(ys)
	tr := Trend{N: n, P: 1, Correction: 1}
	if n < 3 || len(ts) != n {
		return tr
	}
	tr.Slope = sc.theilSen(ts, ys)

	var s float64
	for i := 0; i < n-1; i++ {
		for j := i + 1; j < n; j++ {
			s += sign(ys[j] - ys[i])
		}
	}
	tr.S = s

	nf := float64(n)
	v := nf * (nf - 1) * (2*nf + 5)
	// Ties shrink the variance of S.
	sorted := grow(sc.sorted, n)
	sc.sorted = sorted
	copy(sorted, ys)
	slices.Sort(sorted)
	for i := 0; i < n; {
		j := i + 1
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		if t := float64(j - i); t > 1 {
			v -= t * (t - 1) * (2*t + 5)
		}
		i = j
	}
	v /= 18

	tr.Correction = sc.hamedRao(ts, ys, tr.Slope)
	v *= tr.Correction
	if v <= 0 {
		return tr
	}
	switch {
	case s > 0:
		tr.Z = (s - 1) / math.Sqrt(v)
	case s < 0:
		tr.Z = (s + 1) / math.Sqrt(v)
	}
	tr.P = 0.5 * math.Erfc(tr.Z/math.Sqrt2)
	return tr
}

// hamedRao returns the variance correction n/n* of Hamed and Rao (1998):
// the series is detrended with the Sen slope, ranked, and the significant
// autocorrelations of the ranks widen the variance. It never returns less
// than 1: a negatively autocorrelated series does not make a trend more
// believable here.
func (sc *scratch) hamedRao(ts, ys []float64, slope float64) float64 {
	n := len(ys)
	detr := grow(sc.detr, n)
	sc.detr = detr
	for i := range ys {
		detr[i] = ys[i] - slope*(ts[i]-ts[0])
	}
	r := sc.ranks(detr)
	var mean float64
	for _, x := range r {
		mean += x
	}
	mean /= float64(n)
	var den float64
	for i := range r {
		r[i] -= mean
		den += r[i] * r[i]
	}
	if den == 0 {
		return 1
	}
	nf := float64(n)
	var sum float64
	bound := 1.96 / math.Sqrt(nf)
	// The weight (n-k)³ makes lags past n/2 count for little, and they are
	// estimated from few pairs; stopping there halves the cost.
	for k := 1; k < n/2; k++ {
		var num float64
		for i := 0; i+k < n; i++ {
			num += r[i] * r[i+k]
		}
		rk := num / den
		// Keep only autocorrelations significant at 5 %, as Hamed and Rao do.
		if math.Abs(rk) <= bound {
			continue
		}
		kf := float64(k)
		sum += (nf - kf) * (nf - kf - 1) * (nf - kf - 2) * rk
	}
	c := 1 + 2/(nf*(nf-1)*(nf-2))*sum
	if c < 1 || math.IsNaN(c) {
		return 1
	}
	return c
}

// ranks returns the 1-based ranks of xs, ties sharing their mean rank.
func (sc *scratch) ranks(xs []float64) []float64 {
	n := len(xs)
	idx := grow(sc.idx, n)
	sc.idx = idx
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	out := grow(sc.rank, n)
	sc.rank = out
	for i := 0; i < n; {
		j := i + 1
		for j < n && xs[idx[j]] == xs[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			out[idx[k]] = r
		}
		i = j
	}
	return out
}

// theilSen is the median of the pairwise slopes, robust to the outliers a
// heap series has (a burst of requests caught by one GC).
func (sc *scratch) theilSen(ts, ys []float64) float64 {
	n := len(ys)
	slopes := grow(sc.slopes, n*(n-1)/2)[:0]
	for i := 0; i < n-1; i++ {
		for j := i + 1; j < n; j++ {
			if dt := ts[j] - ts[i]; dt > 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dt)
			}
		}
	}
	sc.slopes = slopes
	if len(slopes) == 0 {
		return 0
	}
	m := len(slopes) / 2
	hi := metrics.Select(slopes, m)
	if len(slopes)%2 == 1 {
		return hi
	}
	// After selection every element left of m is ≤ hi; the lower middle is
	// their maximum.
	return (slices.Max(slopes[:m]) + hi) / 2
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
