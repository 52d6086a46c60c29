package regress

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
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

// PELTMaxPoints is the longest series MethodPELT searches; longer ones use
// binary segmentation, O(n log n). Without changes PELT's pruning fails,
// so its search is bounded by segments of at most 1000 points (O(n·1000),
// the boundaries that forces merged away again when nothing changes
// there), and the switch is where that still costs under half a second.
const PELTMaxPoints = 5_000

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
		p, _ := robustTest(1, 1)(y[lo:c], y[c:hi])
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
//
// Real series are rarely white noise between their changes: a smooth
// trend, a slow cycle or a persistent error leaves residuals that stay on
// one side of the fitted levels for many points, and a search that takes
// them as independent reads every swing as a change. So the search runs
// twice: once as if the noise were white, then, from the residuals of the
// model that won, the long-run variance factor f = (1+ρ)/(1−ρ) of their
// lag-one autocorrelation ρ (the variance of a mean of AR(1) noise is f
// times that of white noise) scales the penalty and the tests, which is the
// BIC of the same model under correlated noise. White residuals (ρ ≤ 0)
// leave the first answer unchanged.
func detectIdx(y []float64, o DetectOptions) []int {
	n := len(y)
	if o.Method == MethodEDivisive {
		return EDivisive(y, o.EDivisive)
	}
	if ly, ok := multiplicative(y); ok {
		y = ly
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
	cps, res, work := selectModel(z, o, 1)
	if f := longRunFactor(res); f > minLongRunFactor {
		cps, _, work = selectModel(z, o, f)
	}
	return keepJumps(work, cps, o.MinEffect)
}

// multiplicative returns log y when y is a positive seasonal series whose
// cycle grows with its level, as sales, traffic and passenger counts do:
// on the raw scale the cycles of the high years swing more than any model
// with one seasonal profile can absorb, and each wider swing reads as a
// change in spread. On the log scale the profile is one multiplicative
// pattern. The test is Tukey's spread-versus-level plot over whole cycles:
// a slope of log spread on log level near 1 (above 1/2 here) says the
// spread is proportional to the level, and the levels must differ enough
// (by half) for the slope to mean anything.
func multiplicative(y []float64) ([]float64, bool) {
	for _, v := range y {
		if v <= 0 {
			return nil, false
		}
	}
	// The period from the first differences, which a growth curve does
	// not dominate the way it dominates the autocorrelation of the levels.
	d := make([]float64, len(y)-1)
	for i := range d {
		d[i] = y[i+1] - y[i]
	}
	p, _ := season(d, nil)
	if p == 0 || len(y)/p < 4 {
		return nil, false
	}
	var lx, ly []float64
	for lo := 0; lo+p <= len(y); lo += p {
		res := lineResiduals(y, lo, lo+p)
		var ss float64
		for _, r := range res {
			ss += r * r
		}
		level, spread := mean(y[lo:lo+p]), math.Sqrt(ss/float64(p))
		if spread <= 0 {
			return nil, false
		}
		lx, ly = append(lx, math.Log(level)), append(ly, math.Log(spread))
	}
	if slices.Max(lx)-slices.Min(lx) < math.Log(1.5) {
		return nil, false
	}
	mx, my := mean(lx), mean(ly)
	var sxy, sxx float64
	for i := range lx {
		sxy += (lx[i] - mx) * (ly[i] - my)
		sxx += (lx[i] - mx) * (lx[i] - mx)
	}
	if sxx == 0 || sxy/sxx < 0.5 {
		return nil, false
	}
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = math.Log(v)
	}
	return out, true
}

// jumpWindow is how many points on each side of a change point the
// continuity check fits a line to: short enough that a smooth curve is
// nearly straight over it, long enough for a stable slope.
const jumpWindow = 20

// keepJumps drops the change points where the series does not jump: a
// line fitted to up to jumpWindow points on each side (within the
// neighbouring segments) is extrapolated to the boundary from both sides,
// and the gap must be at least minEffect residual deviations and
// significant at the Bonferroni level for the number of candidates. A smooth
// curve cut into steps passes through each cut without a gap; a level
// shift leaves one. It repeats until every survivor has its jump.
func keepJumps(y []float64, cps []int, minEffect float64) []int {
	cps = slices.Clone(cps)
	for {
		worst, worstZ := -1, math.Inf(1)
		for i, c := range cps {
			lo, hi := 0, len(y)
			if i > 0 {
				lo = cps[i-1]
			}
			if i+1 < len(cps) {
				hi = cps[i+1]
			}
			z, ok := jumpZ(y, max(lo, c-jumpWindow), c, min(hi, c+jumpWindow), minEffect)
			wlo, whi := max(lo, c-3*jumpWindow), min(hi, c+3*jumpWindow)
			if !ok || spreadChanges(y, wlo, c, whi) || (flat(y, wlo, c) && flat(y, c, whi)) {
				continue
			}
			if z < worstZ {
				worst, worstZ = i, z
			}
		}
		crit := distuv.UnitNormal.Quantile(1 - 0.005/float64(max(1, len(cps))))
		if worst < 0 || worstZ >= crit {
			return cps
		}
		cps = slices.Delete(cps, worst, worst+1)
	}
}

// jumpZ is the gap at c between lines fitted to y[lo:c] and y[c:hi], as a
// z-score; a gap below minEffect residual deviations scores 0. ok is false
// when a side is too short for a line.
func jumpZ(y []float64, lo, c, hi int, minEffect float64) (float64, bool) {
	if c-lo < 4 || hi-c < 4 {
		return 0, false
	}
	at := float64(c) - 0.5
	gl, vl, rl, nl := lineAt(y, lo, c, at)
	gr, vr, rr, nr := lineAt(y, c, hi, at)
	s2 := (rl + rr) / float64(nl+nr-4) // pooled residual variance
	if s2 <= 0 {
		if gl == gr {
			return 0, true
		}
		return math.Inf(1), true
	}
	gap := math.Abs(gr - gl)
	if gap < minEffect*math.Sqrt(s2) {
		return 0, true
	}
	return gap / math.Sqrt(s2*(vl+vr)), true
}

// flat reports whether y[lo:hi] has no significant slope (|t| < 3): a step
// between flat sides needs no continuity check, the merge pass has already
// weighed it.
func flat(y []float64, lo, hi int) bool {
	n := hi - lo
	if n < 6 {
		return true
	}
	var sx, sy float64
	for i := lo; i < hi; i++ {
		sx += float64(i)
		sy += y[i]
	}
	fn := float64(n)
	xb, yb := sx/fn, sy/fn
	var sxx, sxy float64
	for i := lo; i < hi; i++ {
		sxx += (float64(i) - xb) * (float64(i) - xb)
		sxy += (float64(i) - xb) * (y[i] - yb)
	}
	b := sxy / sxx
	var rss float64
	for i := lo; i < hi; i++ {
		r := y[i] - yb - b*(float64(i)-xb)
		rss += r * r
	}
	se := math.Sqrt(rss / (fn - 2) / sxx)
	return se > 0 && math.Abs(b)/se < 3
}

// spreadChanges reports whether the noise around lines fitted to y[lo:c]
// and y[c:hi] differs in spread: a change in variance is a change point
// even where the level runs on without a gap.
func spreadChanges(y []float64, lo, c, hi int) bool {
	if c-lo < 8 || hi-c < 8 {
		return false
	}
	l, r := lineResiduals(y, lo, c), lineResiduals(y, c, hi)
	w, err := Welch(l, r, 0.95)
	if err != nil {
		return false
	}
	ml, mr := mean(l), mean(r)
	return w.P < spreadMaxP && ml > 0 && mr > 0 && math.Abs(math.Log(mr/ml)) >= spreadMinLogRatio
}

// A spread change must pass p < 0.001 and a ratio of at least e^0.4 ≈ 1.5.
const (
	spreadMaxP        = 1e-3
	spreadMinLogRatio = 0.4
)

// lineResiduals returns |y − line| over y[lo:hi] for the least-squares line.
func lineResiduals(y []float64, lo, hi int) []float64 {
	n := float64(hi - lo)
	var sx, sy float64
	for i := lo; i < hi; i++ {
		sx += float64(i)
		sy += y[i]
	}
	xb, yb := sx/n, sy/n
	var sxx, sxy float64
	for i := lo; i < hi; i++ {
		sxx += (float64(i) - xb) * (float64(i) - xb)
		sxy += (float64(i) - xb) * (y[i] - yb)
	}
	b := sxy / sxx
	out := make([]float64, hi-lo)
	for i := lo; i < hi; i++ {
		out[i-lo] = math.Abs(y[i] - yb - b*(float64(i)-xb))
	}
	return out
}

// lineAt fits y[lo:hi] by least squares and returns the fit at x, the
// variance factor of that fit (its variance over σ²), the residual sum of
// squares and the number of points.
func lineAt(y []float64, lo, hi int, x float64) (fit, vf, rss float64, n int) {
	n = hi - lo
	var sx, sy float64
	for i := lo; i < hi; i++ {
		sx += float64(i)
		sy += y[i]
	}
	fn := float64(n)
	xb, yb := sx/fn, sy/fn
	var sxx, sxy float64
	for i := lo; i < hi; i++ {
		dx := float64(i) - xb
		sxx += dx * dx
		sxy += dx * (y[i] - yb)
	}
	b := sxy / sxx
	for i := lo; i < hi; i++ {
		r := y[i] - yb - b*(float64(i)-xb)
		rss += r * r
	}
	return yb + b*(x-xb), 1/fn + (x-xb)*(x-xb)/sxx, rss, n
}

// Bounds of the long-run variance factor: below the floor (ρ = 0.5) the
// residuals count as white, which keeps the synthetic suite's mildly
// autocorrelated series at their first answer; the cap (ρ ≈ 0.82) keeps a
// near-random-walk series from silencing a step that is plain to see. Both
// were chosen on the synthetic suite and the real tuning set only.
const (
	minLongRunFactor = 3
	maxLongRunFactor = 10
)

// longRunFactor returns (1+ρ)/(1−ρ) for the lag-one autocorrelation ρ of
// res, clipped to [1, maxLongRunFactor].
func longRunFactor(res []float64) float64 {
	if len(res) < 8 {
		return 1
	}
	m := mean(res)
	var c0, c1 float64
	for i, v := range res {
		c0 += (v - m) * (v - m)
		if i > 0 {
			c1 += (v - m) * (res[i-1] - m)
		}
	}
	if c0 == 0 {
		return 1
	}
	rho := c1 / c0
	if rho <= 0 {
		return 1
	}
	return min(maxLongRunFactor, (1+rho)/(1-rho))
}

// selectModel segments z as steps, steps on a linear trend and steps on a
// seasonal profile, keeps the model with the lowest penalised cost and
// returns its change points and residuals. infl ≥ 1 is the long-run
// variance factor of the noise: it multiplies every penalty and divides the
// tests' statistics by its square root.
func selectModel(z []float64, o DetectOptions, infl float64) (cps []int, res, work []float64) {
	n := len(z)
	cps, cost := segment(z, o, infl)
	work = z
	// A steady trend fitted by steps turns into a staircase of change
	// points. Estimate one slope within the segments found (so steps do not
	// bend it), segment what the slope leaves, and keep whichever model has
	// the lower penalised cost; the slope pays for itself like a change
	// point does. A global slope suits a long steady trend, whose segments
	// would each absorb some of it; a slope between the steps suits a trend
	// with a step in it.
	logn := math.Log(float64(n)) * infl
	trendPen := o.Penalty * o.Cost.params() * logn
	best := cost
	for _, within := range [][]int{nil, cps} { // one global slope; one between the steps
		r := detrend(z, within)
		if r == nil {
			continue
		}
		if rcps, rcost := segment(r, o, infl); rcost+trendPen < best {
			cps, best, work = rcps, rcost+trendPen, r
		}
	}
	// Likewise a strong season: remove a per-phase profile (p − 1 more
	// parameters at ln n each) and keep it if the steps left cost less.
	found := cps
	final := work
	for _, levels := range [][]int{found, nil} { // levels from the steps found, or none
		p, prof := season(work, levels)
		if p == 0 {
			continue
		}
		y := make([]float64, n)
		for i, v := range work {
			y[i] = v - prof[i%p]
		}
		if scps, scost := segment(y, o, infl); scost+float64(p-1)*logn < best {
			cps, best, final = scps, scost+float64(p-1)*logn, y
		}
	}
	res = make([]float64, n)
	prev := 0
	for _, c := range append(slices.Clone(cps), n) {
		m := mean(final[prev:c])
		for i := prev; i < c; i++ {
			res[i] = final[i] - m
		}
		prev = c
	}
	return cps, res, final
}

// segment runs the search and the merge pass over standardised z and
// returns the change points with their penalised cost.
func segment(z []float64, o DetectOptions, infl float64) ([]int, float64) {
	n := len(z)
	minSeg := max(o.MinSegment, 2)
	cost := newSegCost(z, o.Cost, 1e-2)
	pen := o.Penalty * o.Cost.params() * math.Log(float64(n)) * infl
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
		cps = mergeWeakest(z, cps, robustTest(1, infl), maxP, o.MinEffect)
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
func robustTest(sigma, infl float64) segTest {
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
		if infl > 1 {
			// Correlated noise: the statistics shrink by √f and the
			// effect is measured against the long-run scale.
			wl.P = inflatedP(wl, infl)
			ws.P = inflatedP(ws, infl)
			sigma *= math.Sqrt(infl)
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

// inflatedP is the two-sided p-value of a Welch result whose variance is f
// times larger than the independent-sample estimate.
func inflatedP(w WelchResult, f float64) float64 {
	if w.T == 0 {
		return w.P
	}
	return math.Min(1, 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: w.DF}.Survival(math.Abs(w.T)/math.Sqrt(f)))
}

func absDev(xs []float64) []float64 {
	m := median(xs)
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Abs(x - m)
	}
	return out
}
