package regress

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Errors of change-point detection.
var (
	// ErrEmptySeries means there is no finite value to analyse.
	ErrEmptySeries = errors.New("regress: empty series")
)

// Method names an offline change-point search.
type Method string

// Offline methods.
const (
	MethodBinSeg    Method = "binseg"
	MethodPELT      Method = "pelt"
	MethodEDivisive Method = "edivisive"
)

// ChangePoint is where a series changes. Index is the 0-based position, in
// the series as given (missing values included), of the first point of the
// new segment. The means are those of the neighbouring segments; ChangePct
// is the relative change of the mean in percent (0 when the mean before is
// 0); PValue is the Bonferroni-combined p-value of a difference in location
// (Welch's t-test) or in spread (the same test on absolute deviations from
// each segment's median, after Brown and Forsythe).
type ChangePoint struct {
	Index      int     `json:"index"`
	Time       string  `json:"time,omitempty"`
	MeanBefore float64 `json:"mean_before"`
	MeanAfter  float64 `json:"mean_after"`
	ChangePct  float64 `json:"change_pct"`
	PValue     float64 `json:"p_value"`
}

// PELTMaxPoints is the longest series MethodPELT searches exactly; longer
// ones use binary segmentation, whose O(n log n) holds without changes,
// where PELT's pruning fails and its time grows with n².
const PELTMaxPoints = 20_000

// DetectOptions choose the offline detector. DefaultDetectOptions is the
// one fixed parameter set `perfengine regress detect` uses, tuned for F1 on
// the annotated synthetic series in testdata/synth.
type DetectOptions struct {
	Method Method `json:"method"`
	Cost   Cost   `json:"cost"` // binseg and pelt
	// Penalty multiplies the BIC penalty (parameters per segment × ln n).
	Penalty float64 `json:"penalty"`
	// MinSegment is the fewest points a segment may have.
	MinSegment int `json:"min_segment"`
	// Despike replaces a point that sits more than Despike noise deviations
	// from the median of its 5-point neighbourhood by that median, so single
	// spikes and outliers do not open segments. 0 disables it.
	Despike float64 `json:"despike"`
	// MaxP is the highest p-value a change point keeps in the merge pass.
	MaxP float64 `json:"max_p"`
	// MinEffect is the smallest change a change point keeps, in noise
	// standard deviations for a mean change or as |ln(spread ratio)| for a
	// change in spread.
	MinEffect float64 `json:"min_effect"`
	// EDivisive configures MethodEDivisive, which ignores the fields above.
	EDivisive EDivisiveOptions `json:"edivisive"`
}

// DefaultDetectOptions returns the tuned default parameter set.
func DefaultDetectOptions() DetectOptions {
	return DetectOptions{
		Method:     MethodPELT,
		Cost:       CostMeanVar,
		Penalty:    2,
		MinSegment: 5,
		Despike:    4,
		MaxP:       0.001,
		MinEffect:  1,
	}
}

func (o DetectOptions) validate() error {
	switch o.Method {
	case MethodBinSeg, MethodPELT:
		if o.Cost != CostMean && o.Cost != CostMeanVar {
			return fmt.Errorf("detect: cost %q must be %q or %q", o.Cost, CostMean, CostMeanVar)
		}
	case MethodEDivisive:
	default:
		return fmt.Errorf("detect: method %q must be binseg, pelt or edivisive", o.Method)
	}
	if o.Penalty < 0 || o.MinSegment < 0 || o.Despike < 0 || o.MaxP < 0 || o.MaxP > 1 || o.MinEffect < 0 {
		return errors.New("detect: penalty, min segment, despike, min effect must not be negative and max p must be in [0, 1]")
	}
	return nil
}

// Detect finds the change points of values. NaN marks a missing value: it is
// skipped, and indices still refer to the positions given. ±Inf is an error.
// A constant series, or one too short for two segments, has none.
func Detect(values []float64, o DetectOptions) ([]ChangePoint, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	y := make([]float64, 0, len(values))
	pos := make([]int, 0, len(values))
	for i, v := range values {
		if math.IsInf(v, 0) {
			return nil, fmt.Errorf("detect: infinite value at index %d", i)
		}
		if math.IsNaN(v) {
			continue
		}
		y = append(y, v)
		pos = append(pos, i)
	}
	if len(y) == 0 {
		return nil, ErrEmptySeries
	}
	cps := detectIdx(y, o)
	out := make([]ChangePoint, len(cps))
	for i, c := range cps {
		lo, hi := 0, len(y)
		if i > 0 {
			lo = cps[i-1]
		}
		if i+1 < len(cps) {
			hi = cps[i+1]
		}
		mb, ma := mean(y[lo:c]), mean(y[c:hi])
		p, _ := robustTest(1)(y[lo:c], y[c:hi])
		pct := 0.0
		if mb != 0 {
			pct = (ma/mb - 1) * 100
		}
		out[i] = ChangePoint{Index: pos[c], MeanBefore: mb, MeanAfter: ma, ChangePct: pct, PValue: p}
	}
	return out, nil
}

// DetectSeries is Detect that also fills in each change point's time.
func DetectSeries(s Series, o DetectOptions) ([]ChangePoint, error) {
	cps, err := Detect(s.Values, o)
	if err != nil {
		return nil, err
	}
	if len(s.Times) == len(s.Values) {
		for i := range cps {
			cps[i].Time = s.Times[cps[i].Index]
		}
	}
	return cps, nil
}

// detectIdx works on finite values and returns positions into y.
func detectIdx(y []float64, o DetectOptions) []int {
	n := len(y)
	if o.Method == MethodEDivisive {
		return EDivisive(y, o.EDivisive)
	}
	sigma := noiseScale(y)
	if sigma == 0 {
		return nil // constant, or constant apart from isolated steps of zero width
	}
	med := median(y)
	z := make([]float64, n)
	for i, v := range y {
		z[i] = (v - med) / sigma
	}
	if o.Despike > 0 {
		z = despike(z, o.Despike)
	}
	cps, cost := segment(z, o)
	// A steady trend fitted by steps turns into a staircase of change
	// points. Estimate one slope within the segments found (so steps do not
	// bend it), segment what the slope leaves, and keep whichever model has
	// the lower penalised cost; the slope pays for itself like a change
	// point does. A global slope suits a long steady trend, whose segments
	// would each absorb some of it; a slope between the steps suits a trend
	// with a step in it.
	trendPen := o.Penalty * o.Cost.params() * math.Log(float64(n))
	best, work := cost, z
	for _, within := range [][]int{nil, cps} { // one global slope; one between the steps
		r := detrend(z, within)
		if r == nil {
			continue
		}
		if rcps, rcost := segment(r, o); rcost+trendPen < best {
			cps, best, work = rcps, rcost+trendPen, r
		}
	}
	// Likewise a strong season: remove a per-phase profile (p − 1 more
	// parameters at ln n each) and keep it if the steps left cost less.
	found := cps
	for _, levels := range [][]int{found, nil} { // levels from the steps found, or none
		p, prof := season(work, levels)
		if p == 0 {
			continue
		}
		y := make([]float64, n)
		for i, v := range work {
			y[i] = v - prof[i%p]
		}
		if scps, scost := segment(y, o); scost+float64(p-1)*math.Log(float64(n)) < best {
			cps, best = scps, scost+float64(p-1)*math.Log(float64(n))
		}
	}
	return cps
}

// segment runs the search and the merge pass over standardised z and
// returns the change points with their penalised cost.
func segment(z []float64, o DetectOptions) ([]int, float64) {
	n := len(z)
	minSeg := max(o.MinSegment, 2)
	cost := newSegCost(z, o.Cost, 1e-2)
	pen := o.Penalty * o.Cost.params() * math.Log(float64(n))
	var cps []int
	if o.Method == MethodPELT && n <= PELTMaxPoints {
		cps = pelt(cost, n, minSeg, pen)
	} else {
		cps = binSeg(cost, n, minSeg, pen)
	}
	if o.MaxP > 0 || o.MinEffect > 0 {
		maxP := o.MaxP
		if maxP == 0 {
			maxP = 1
		}
		cps = mergeWeakest(z, cps, robustTest(1), maxP, o.MinEffect)
	}
	total := pen * float64(len(cps))
	prev := 0
	for _, c := range append(cps, n) {
		total += cost.cost(prev, c)
		prev = c
	}
	return cps, total
}

// maxSeasonPoints bounds the series season examines; the autocorrelation
// costs O(n·period).
const maxSeasonPoints = 20_000

// season finds a strong period in y once the levels of its segments are
// removed: the first autocorrelation peak, at lag 4 to n/4, above 0.3. It
// returns the period and the per-phase profile (medians, centred), or 0.
func season(y []float64, cps []int) (int, []float64) {
	n := len(y)
	if n < 16 || n > maxSeasonPoints {
		return 0, nil
	}
	res := make([]float64, n)
	prev := 0
	for _, c := range append(slices.Clone(cps), n) {
		m := mean(y[prev:c])
		for i := prev; i < c; i++ {
			res[i] = y[i] - m
		}
		prev = c
	}
	var v0 float64
	for _, v := range res {
		v0 += v * v
	}
	if v0 == 0 {
		return 0, nil
	}
	maxLag := min(n/4, 500)
	acf := make([]float64, maxLag+2)
	for lag := 1; lag <= maxLag+1 && lag < n; lag++ {
		var s float64
		for i := lag; i < n; i++ {
			s += res[i] * res[i-lag]
		}
		acf[lag] = s / v0
	}
	p := 0
	for lag := 4; lag <= maxLag; lag++ {
		if acf[lag] > 0.3 && acf[lag] >= acf[lag-1] && acf[lag] >= acf[lag+1] {
			p = lag
			break
		}
	}
	if p == 0 {
		return 0, nil
	}
	prof := make([]float64, p)
	buf := make([]float64, 0, n/p+1)
	var total float64
	for k := range p {
		buf = buf[:0]
		for i := k; i < n; i += p {
			buf = append(buf, res[i])
		}
		slices.Sort(buf)
		prof[k] = sortedMedian(buf)
		total += prof[k]
	}
	for k := range prof {
		prof[k] -= total / float64(p)
	}
	return p, prof
}

// detrend returns z minus the least-squares slope common to the segments
// between cps (each keeping its own level), or nil when there is none.
func detrend(z []float64, cps []int) []float64 {
	var sxy, sxx float64
	prev := 0
	for _, c := range append(cps, len(z)) {
		seg := z[prev:c]
		m := float64(len(seg))
		xbar := float64(prev) + (m-1)/2
		ybar := mean(seg)
		for i, v := range seg {
			dx := float64(prev+i) - xbar
			sxy += dx * (v - ybar)
			sxx += dx * dx
		}
		prev = c
	}
	if sxx == 0 || sxy == 0 {
		return nil
	}
	b := sxy / sxx
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = v - b*float64(i)
	}
	return out
}

// noiseScale estimates the noise standard deviation from the median
// absolute first difference, which level shifts and single outliers barely
// move. Series whose differences are mostly zero (quantised or idle) fall
// back to the plain standard deviation.
func noiseScale(y []float64) float64 {
	if len(y) < 3 {
		return 0
	}
	d := make([]float64, len(y)-1)
	for i := 1; i < len(y); i++ {
		d[i-1] = math.Abs(y[i] - y[i-1])
	}
	s := 1.4826 * median(d) / math.Sqrt2
	if s > 0 {
		return s
	}
	return math.Sqrt(variance(y, mean(y)))
}

// despike replaces points far from their 5-point rolling median.
func despike(z []float64, k float64) []float64 {
	out := slices.Clone(z)
	var w [5]float64
	for i := range z {
		lo, hi := max(0, i-2), min(len(z), i+3)
		win := w[:0]
		win = append(win, z[lo:hi]...)
		slices.Sort(win)
		m := sortedMedian(win)
		if math.Abs(z[i]-m) > k {
			out[i] = m
		}
	}
	return out
}

// robustTest compares neighbouring segments of a standardised series: the
// p-value is the Bonferroni combination of Welch's test on the values and on
// their absolute deviations from each segment's median; the magnitude is the
// larger of |Δmean| (in noise units, sigma) and |ln(spread ratio)|.
func robustTest(sigma float64) segTest {
	return func(l, r []float64) (float64, float64) {
		if len(l) < 2 || len(r) < 2 {
			return 1, 0
		}
		wl, err1 := Welch(l, r, 0.95)
		al, ar := absDev(l), absDev(r)
		ws, err2 := Welch(al, ar, 0.95)
		if err1 != nil || err2 != nil {
			return 1, 0
		}
		p := math.Min(1, 2*math.Min(wl.P, ws.P))
		mag := math.Abs(wl.Diff) / sigma
		sl, sr := mean(al), mean(ar)
		if sl > 0 && sr > 0 {
			mag = math.Max(mag, math.Abs(math.Log(sr/sl)))
		} else if sl != sr {
			mag = math.Inf(1)
		}
		return p, mag
	}
}

func absDev(xs []float64) []float64 {
	m := median(xs)
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Abs(x - m)
	}
	return out
}
