package regress

import (
	"math"
	"slices"
)

// OnlineOptions tune the streaming detector. Zero values mean the defaults.
type OnlineOptions struct {
	// Warmup is how many points learn the reference level after a start
	// or a detected change; default 10.
	Warmup int `json:"warmup"`
	// Threshold is the CUSUM decision level h in noise deviations;
	// default 5.
	Threshold float64 `json:"threshold"`
	// Drift is the CUSUM allowance k in noise deviations; default 0.5.
	Drift float64 `json:"drift"`
	// Clip bounds each point's contribution to ±Clip noise deviations, so
	// one spike moves the sums by at most Clip−Drift, below Threshold;
	// default 3.
	Clip float64 `json:"clip"`
	// MinEffect is the smallest relative change of the mean reported,
	// 0.1 = 10%; default 0.1. Series whose reference mean is 0 use the
	// noise scale instead.
	MinEffect float64 `json:"min_effect"`
}

// Default online settings.
const (
	DefaultOnlineWarmup    = 10
	DefaultOnlineThreshold = 5
	DefaultOnlineDrift     = 0.5
	DefaultOnlineClip      = 3
	DefaultOnlineMinEffect = 0.1
)

func (o OnlineOptions) withDefaults() OnlineOptions {
	if o.Warmup < 3 {
		o.Warmup = DefaultOnlineWarmup
	}
	if o.Threshold <= 0 {
		o.Threshold = DefaultOnlineThreshold
	}
	if o.Drift <= 0 {
		o.Drift = DefaultOnlineDrift
	}
	if o.Clip <= 0 {
		o.Clip = DefaultOnlineClip
	}
	if o.MinEffect <= 0 {
		o.MinEffect = DefaultOnlineMinEffect
	}
	return o
}

// Alarm is a change the online detector confirmed.
type Alarm struct {
	// Index is the position (counting every point added, missing ones
	// too) at which the change was confirmed; Start is the estimated first
	// point of the new level.
	Index      int     `json:"index"`
	Start      int     `json:"start"`
	MeanBefore float64 `json:"mean_before"`
	MeanAfter  float64 `json:"mean_after"`
	ChangePct  float64 `json:"change_pct"`
	// Up is true when the level rose.
	Up bool `json:"up"`
}

// Online is a two-sided CUSUM over a robustly estimated reference: the
// median and MAD of the first Warmup points. After an alarm it learns the
// new level and carries on. Each Add is O(1) amortised: the warm-up sort
// happens once per regime.
//
// The zero value is not usable; create one with NewOnline. An Online is not
// safe for concurrent use.
type Online struct {
	o       OnlineOptions
	n       int // points seen, missing included
	warm    []float64
	ref, sd float64
	ready   bool
	hi, lo  float64 // CUSUM sums
	hiStart int     // where the current positive run began
	loStart int
	scratch []float64
	// ring holds the newest values (and their positions) so an alarm can
	// place the change by maximum likelihood; fixed size keeps Add O(1).
	ring    [ringSize]float64
	ringPos [ringSize]int
	ringN   int
}

const ringSize = 128

// NewOnline returns a detector with options o.
func NewOnline(o OnlineOptions) *Online {
	o = o.withDefaults()
	return &Online{o: o, warm: make([]float64, 0, o.Warmup)}
}

// Ready reports whether the reference level has been learnt.
func (d *Online) Ready() bool { return d.ready }

// Reference returns the learnt level and noise scale.
func (d *Online) Reference() (level, scale float64) { return d.ref, d.sd }

// Add feeds one value; NaN counts as missing and is skipped. It reports
// an Alarm when a change is confirmed.
func (d *Online) Add(v float64) (Alarm, bool) {
	i := d.n
	d.n++
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Alarm{}, false
	}
	if !d.ready {
		d.warm = append(d.warm, v)
		if len(d.warm) == d.o.Warmup {
			d.learn()
		}
		return Alarm{}, false
	}
	d.ring[d.ringN%ringSize], d.ringPos[d.ringN%ringSize] = v, i
	d.ringN++
	z := (v - d.ref) / d.sd
	z = math.Max(-d.o.Clip, math.Min(d.o.Clip, z))
	if d.hi == 0 {
		d.hiStart = i
	}
	if d.lo == 0 {
		d.loStart = i
	}
	d.hi = math.Max(0, d.hi+z-d.o.Drift)
	d.lo = math.Max(0, d.lo-z-d.o.Drift)
	if d.hi > d.o.Threshold {
		if a, ok := d.alarm(i, d.hiStart, true); ok {
			return a, true
		}
	}
	if d.lo > d.o.Threshold {
		if a, ok := d.alarm(i, d.loStart, false); ok {
			return a, true
		}
	}
	return Alarm{}, false
}

func (d *Online) alarm(i, start int, up bool) (Alarm, bool) {
	start, after, n := d.locate(start)
	if n < minConfirm {
		return Alarm{}, false // at most minConfirm−1 more tries
	}
	// The median since the change must sit on the side the sums say: a
	// couple of extreme intervals pull a mean, not a median.
	if (after > d.ref) != up {
		if up {
			d.hi = 0
		} else {
			d.lo = 0
		}
		return Alarm{}, false
	}
	big := math.Abs(after-d.ref) >= d.o.MinEffect*math.Abs(d.ref)
	if d.ref == 0 {
		big = math.Abs(after) >= d.sd
	}
	if !big {
		// A real shift, too small to report: follow it, so the sums do not
		// stay above the threshold and re-examine every point. Drift made of
		// many small steps is what baseline comparisons are for.
		d.ref = after
		d.hi, d.lo = 0, 0
		return Alarm{}, false
	}
	a := Alarm{Index: i, Start: start, MeanBefore: d.ref, MeanAfter: after, Up: up}
	if d.ref != 0 {
		a.ChangePct = (after/d.ref - 1) * 100
	}
	d.ready = false
	d.warm = d.warm[:0]
	d.hi, d.lo = 0, 0
	return a, true
}

// minConfirm is the fewest points after a change before it is reported, so
// that its size is estimated from more than one or two intervals.
const minConfirm = 3

// locate re-estimates where the change began: among the positions since
// the CUSUM run started (as far back as the ring reaches), the τ that
// maximises (Σ_{j≥τ} (x_j − ref))² / count, the likelihood of a mean shift
// from the known reference. It returns τ, the median of the values since τ
// (robust to a stray interval) and their number.
func (d *Online) locate(runStart int) (int, float64, int) {
	var sum float64
	best, bestPos, bestK := -1.0, runStart, 0
	for k := 1; k <= min(d.ringN, ringSize); k++ {
		j := (d.ringN - k) % ringSize
		if d.ringPos[j] < runStart {
			break
		}
		sum += d.ring[j] - d.ref
		if score := sum * sum / float64(k); score > best {
			best, bestPos, bestK = score, d.ringPos[j], k
		}
	}
	if bestK == 0 {
		return runStart, d.ref, 0
	}
	vals := d.scratch[:0]
	for k := 1; k <= bestK; k++ {
		vals = append(vals, d.ring[(d.ringN-k)%ringSize])
	}
	slices.Sort(vals)
	d.scratch = vals
	return bestPos, sortedMedian(vals), bestK
}

func (d *Online) learn() {
	s := slices.Clone(d.warm)
	slices.Sort(s)
	d.ref = sortedMedian(s)
	// The larger of two robust scales: MAD ignores a minority of slow
	// intervals, the interquartile range does not, and live latency is
	// often bimodal (an interval with or without a slow request).
	iqr := (quantileSorted(s, 0.75) - quantileSorted(s, 0.25)) / 1.349
	for i := range s {
		s[i] = math.Abs(s[i] - d.ref)
	}
	slices.Sort(s)
	d.sd = math.Max(1.4826*sortedMedian(s), iqr)
	// A quiet or quantised warm-up has no spread; a floor of 1% of the level
	// keeps ordinary jitter from looking like a change.
	if floor := 0.01 * math.Abs(d.ref); d.sd < floor {
		d.sd = floor
	}
	if d.sd == 0 {
		d.sd = 1e-9
	}
	d.ready = true
	d.hi, d.lo = 0, 0
}

// quantileSorted is the linearly interpolated p-quantile of sorted s.
func quantileSorted(s []float64, p float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	h := p * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}
