package regress

import (
	"math"
	"slices"
)

// Cost names the segment cost the offline searches minimise.
type Cost string

// Segment costs. Both are Gaussian negative log-likelihoods, so penalties on
// the BIC scale (a multiple of log n) mean the same thing for either.
const (
	// CostMeanVar detects changes in the mean, the variance or both:
	// n·log σ̂² per segment.
	CostMeanVar Cost = "meanvar"
	// CostMean detects changes in the mean only, with the noise scale of the
	// whole series: Σ(x − x̄)²/σ² per segment.
	CostMean Cost = "mean"
)

// segCost evaluates a cost over half-open ranges of one series in O(1) from
// prefix sums. The series is expected to be standardised (noise scale ≈ 1),
// which keeps the sums well conditioned and lets varFloor be absolute.
type segCost struct {
	s1, s2   []float64
	kind     Cost
	varFloor float64
}

func newSegCost(y []float64, kind Cost, varFloor float64) *segCost {
	c := &segCost{s1: make([]float64, len(y)+1), s2: make([]float64, len(y)+1), kind: kind, varFloor: varFloor}
	for i, v := range y {
		c.s1[i+1] = c.s1[i] + v
		c.s2[i+1] = c.s2[i] + v*v
	}
	return c
}

// cost of y[s:t].
func (c *segCost) cost(s, t int) float64 {
	n := float64(t - s)
	sum := c.s1[t] - c.s1[s]
	ss := c.s2[t] - c.s2[s] - sum*sum/n
	if ss < 0 {
		ss = 0
	}
	if c.kind == CostMean {
		return ss
	}
	v := ss / n
	if v < c.varFloor {
		v = c.varFloor
	}
	return n * math.Log(v)
}

// params is the number of parameters one extra segment adds, the BIC
// multiplier of log n.
func (k Cost) params() float64 {
	if k == CostMean {
		return 2 // location and mean
	}
	return 3 // location, mean and variance
}

// pelt finds the segmentation of y minimising total cost plus pen per change
// point (Killick, Fearnhead & Eckley 2012), with segments of at least
// minSeg points. It returns the first index of every new segment, ascending.
// Pruning makes it linear when change points keep arriving; a long series
// without any change degrades towards quadratic time, which is why Detect
// defaults to binary segmentation.
// peltMaxSegment bounds the segments PELT considers. Its pruning keeps
// every past candidate while nothing changes, which makes a flat series
// cost O(n²); with the bound it costs O(n·peltMaxSegment). A segment the
// bound cuts where nothing changes is joined again by the merge pass,
// whose tests find no difference across the cut.
const peltMaxSegment = 1000

func pelt(c *segCost, n, minSeg int, pen float64) []int {
	if minSeg < 1 {
		minSeg = 1
	}
	if n < 2*minSeg {
		return nil
	}
	f := make([]float64, n+1)
	prev := make([]int, n+1)
	f[0] = -pen
	cands := []int{0}
	vals := make([]float64, 0, 64)
	for t := minSeg; t <= n; t++ {
		if s := t - minSeg; s >= minSeg {
			cands = append(cands, s)
		}
		for len(cands) > 1 && t-cands[0] > peltMaxSegment {
			cands = cands[1:]
		}
		best, arg := math.Inf(1), 0
		vals = vals[:0]
		for _, s := range cands {
			v := f[s] + c.cost(s, t)
			vals = append(vals, v)
			if v+pen < best {
				best, arg = v+pen, s
			}
		}
		f[t], prev[t] = best, arg
		kept := cands[:0]
		for i, s := range cands {
			if vals[i] <= best {
				kept = append(kept, s)
			}
		}
		cands = kept
	}
	var cps []int
	for t := prev[n]; t > 0; t = prev[t] {
		cps = append(cps, t)
	}
	slices.Reverse(cps)
	return cps
}

// binSeg finds change points by binary segmentation: split a segment where
// the cost drops most, keep the split if the drop exceeds pen, and recurse
// into both halves. O(n log n) for balanced splits.
func binSeg(c *segCost, n, minSeg int, pen float64) []int {
	if minSeg < 1 {
		minSeg = 1
	}
	var cps []int
	type span struct{ s, e int }
	stack := []span{{0, n}}
	for len(stack) > 0 {
		sp := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if sp.e-sp.s < 2*minSeg {
			continue
		}
		whole := c.cost(sp.s, sp.e)
		best, arg := math.Inf(-1), -1
		for t := sp.s + minSeg; t <= sp.e-minSeg; t++ {
			if g := whole - c.cost(sp.s, t) - c.cost(t, sp.e); g > best {
				best, arg = g, t
			}
		}
		if arg < 0 || best <= pen {
			continue
		}
		cps = append(cps, arg)
		stack = append(stack, span{sp.s, arg}, span{arg, sp.e})
	}
	slices.Sort(cps)
	return cps
}
