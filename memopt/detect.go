package memopt

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// LeakKind names what leaks.
type LeakKind string

// Leak kinds.
const (
	// LeakHeap is live heap that grows GC after GC: objects kept reachable
	// by a cache without bounds, a registry that only grows, a slice that is
	// appended to and never trimmed.
	LeakHeap LeakKind = "heap"
	// LeakGoroutine is goroutines that accumulate: blocked forever on a
	// channel nobody will use again, or looping on a ticker never stopped.
	LeakGoroutine LeakKind = "goroutine"
)

// Leak is a confirmed leak.
type Leak struct {
	Kind LeakKind `json:"kind"`
	// Since is when the current run of confirming checks began.
	Since time.Time `json:"since"`
	// Detected is the time of the sample that confirmed it.
	Detected time.Time `json:"detected"`
	Trend    Trend     `json:"trend"`
	// GrowthPerMinute is the Theil–Sen slope: bytes (heap) or goroutines
	// per minute.
	GrowthPerMinute float64 `json:"growth_per_minute"`
	// Current is the live heap in bytes, or the goroutine count.
	Current float64 `json:"current"`
	// Limit is the memory limit the heap grows towards (the lower of
	// GOMEMLIMIT and the cgroup limit), 0 when there is none.
	Limit uint64 `json:"limit_bytes,omitempty"`
	// TimeToLimit is how long until the process's footprint, its heap at
	// the floor of its sawtooth, reaches Limit at this rate; 0 when unknown.
	TimeToLimit time.Duration `json:"time_to_limit,omitempty"`
	// Sites name the allocation sites (heap) or goroutine groups that grew,
	// largest growth first, from profile diffs.
	Sites []Site `json:"sites,omitempty"`
	// Note explains missing detail, such as a profile that failed to parse.
	Note string `json:"note,omitempty"`
	// Type is the kind of mistake the largest site looks like; empty
	// until a profile names a site.
	Type LeakType `json:"type,omitempty"`
}

// Function returns the function most responsible for the leak, or "" when
// profiles did not name one.
func (l Leak) Function() string {
	if len(l.Sites) == 0 {
		return ""
	}
	return l.Sites[0].Function
}

// String describes the leak in one line for people.
func (l Leak) String() string {
	var what string
	switch l.Kind {
	case LeakHeap:
		what = fmt.Sprintf("heap leak: live heap grows %s/min (now %s, p=%.2g)",
			formatBytes(l.GrowthPerMinute), formatBytes(l.Current), l.Trend.P)
	default:
		what = fmt.Sprintf("goroutine leak: goroutines grow %.1f/min (now %.0f, p=%.2g)",
			l.GrowthPerMinute, l.Current, l.Trend.P)
	}
	if l.TimeToLimit > 0 {
		what += fmt.Sprintf(", limit %s reached in %s", formatBytes(float64(l.Limit)), l.TimeToLimit.Round(time.Second))
	}
	if f := l.Function(); f != "" {
		what += "; grows in " + f
	}
	return what
}

type point struct {
	t float64 // seconds since the detector's epoch
	v float64
}

// Detector decides from samples whether the heap or the goroutines leak. It
// keeps one heap point per GC cycle (the live heap only changes when a cycle
// ends) and one goroutine point per sample, within the window. Time comes
// from the samples, so a test can replay hours of samples in a millisecond.
// The zero value is not usable; call NewDetector. Not safe for concurrent
// use.
type Detector struct {
	o       Options
	epoch   time.Time
	heap    []point
	gor     []point
	cycle   uint64
	last    Sample
	hasLast bool
	cgroup  uint64

	sc      scratch
	ts, ys  []float64
	heapV   verdict
	gorV    verdict
	gorAt   float64 // time of the last goroutine test
	heapNew bool
	// steady counts heap points since the warm-up last dropped one; the
	// warm-up is over at MinPoints.
	steady int

	heapRun, gorRun     int
	heapSince, gorSince time.Time
	heapLeak, gorLeak   *Leak
}

// NewDetector returns a Detector with o's defaults filled in. cgroupLimit is
// the cgroup memory limit in bytes (0 when none), used for TimeToLimit.
func NewDetector(o Options, cgroupLimit uint64) (*Detector, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Detector{o: o, cgroup: cgroupLimit}, nil
}

// Add records a sample and re-evaluates both trends. Samples must come in
// time order; an older one is ignored.
func (d *Detector) Add(s Sample) {
	if d.hasLast && s.Time.Before(d.last.Time) {
		return
	}
	if !d.hasLast {
		d.epoch = s.Time
	}
	t := s.Time.Sub(d.epoch).Seconds()
	if !d.hasLast || s.GCCycles != d.cycle {
		if s.GCCycles > 0 {
			d.addHeap(point{t, float64(s.HeapLive)})
		}
		d.cycle = s.GCCycles
	}
	d.gor = append(d.gor, point{t, float64(s.Goroutines)})
	d.last, d.hasLast = s, true
	cut := t - d.o.Window.Seconds()
	if n := len(d.heap); n > 0 && d.heap[0].t < cut {
		d.heap = prune(d.heap, cut)
		d.heapNew = true
	}
	d.gor = prune(d.gor, cut)
	d.evaluate()
}

// warmUpGrowth is the growth from one GC to the next that marks the points
// before it as a process still loading.
const warmUpGrowth = 1.25

// addHeap appends a live-heap point. A process that has just started grows
// its live heap by multiples from GC to GC while it loads, and those first
// points, far below everything after, would anchor the trend test for a
// whole window. Until MinPoints points in a row have grown less than
// warmUpGrowth over the one before, such a jump drops the points before it.
// A leak does not grow its heap by a quarter between two GCs; if one did,
// the points after still show it.
func (d *Detector) addHeap(p point) {
	d.heapNew = true
	if d.steady < d.o.MinPoints {
		if n := len(d.heap); n > 0 && p.v >= warmUpGrowth*d.heap[n-1].v {
			d.heap, d.steady = d.heap[:0], 0
		} else {
			d.steady++
		}
	}
	d.heap = append(d.heap, p)
}

// prune drops points older than cut and, when the slice has grown well past
// what it holds, reallocates so the backing array does not grow forever.
func prune(ps []point, cut float64) []point {
	i := 0
	for i < len(ps) && ps[i].t < cut {
		i++
	}
	if i == 0 {
		return ps
	}
	if cap(ps) > 64 && len(ps)-i < cap(ps)/4 {
		return append(make([]point, 0, 2*(len(ps)-i)), ps[i:]...)
	}
	return ps[i:]
}

// Leaks returns the leaks currently confirmed, heap first.
func (d *Detector) Leaks() []Leak {
	var out []Leak
	if d.heapLeak != nil {
		out = append(out, *d.heapLeak)
	}
	if d.gorLeak != nil {
		out = append(out, *d.gorLeak)
	}
	return out
}

// Suspected reports whether a trend is significant but not yet confirmed,
// or confirmed: the moment to take profiles.
func (d *Detector) Suspected() (heap, goroutines bool) {
	return d.heapRun > 0, d.gorRun > 0
}

// HeapTrend and GoroutineTrend return the latest test results, for metrics.
func (d *Detector) HeapTrend() Trend { return d.heapV.tr }

// GoroutineTrend returns the latest goroutine trend.
func (d *Detector) GoroutineTrend() Trend { return d.gorV.tr }

type verdict struct {
	tr         Trend
	span       float64
	floor      float64
	n          int
	sufficient bool
	// recent is the Theil–Sen slope of the last third of a long window
	// (the whole window's slope otherwise).
	recent float64
	// spread is the interquartile range of the detrended points: how much
	// the series wanders around its trend.
	spread float64
}

// residualSpread is the interquartile range of ys after removing the trend.
func (d *Detector) residualSpread(ts, ys []float64, slope float64) float64 {
	r := grow(d.sc.detr, len(ys))
	d.sc.detr = r
	for i := range ys {
		r[i] = ys[i] - slope*(ts[i]-ts[0])
	}
	slices.Sort(r)
	q := func(f float64) float64 { return r[int(f*float64(len(r)-1)+0.5)] }
	return q(0.75) - q(0.25)
}

// test reduces ps to at most MaxPoints bucket minima and runs TrendTest.
// Minima, not means: a heap point caught during a burst of requests is high
// for reasons that pass, while the floor moves only when something is kept.
func (d *Detector) test(ps []point) verdict {
	if len(ps) < 2 {
		return verdict{tr: Trend{N: len(ps), P: 1, Correction: 1}}
	}
	span := ps[len(ps)-1].t - ps[0].t
	ts, ys := d.ts[:0], d.ys[:0]
	defer func() { d.ts, d.ys = ts, ys }()
	if len(ps) <= d.o.MaxPoints {
		for _, p := range ps {
			ts, ys = append(ts, p.t), append(ys, p.v)
		}
	} else {
		width := span / float64(d.o.MaxPoints)
		start := ps[0].t
		b := 0
		bt, bv := ps[0].t, ps[0].v
		for _, p := range ps[1:] {
			nb := min(int((p.t-start)/width), d.o.MaxPoints-1)
			if nb != b {
				ts, ys = append(ts, bt), append(ys, bv)
				b, bt, bv = nb, p.t, p.v
				continue
			}
			if p.v < bv {
				bt, bv = p.t, p.v
			}
		}
		ts, ys = append(ts, bt), append(ys, bv)
	}
	v := verdict{tr: d.sc.trendTest(ts, ys), span: span, n: len(ys)}
	v.floor = slices.Min(ys)
	v.spread = d.residualSpread(ts, ys, v.tr.Slope)
	v.recent = v.tr.Slope
	// Over a long window, growth that has stopped (a cache that filled to
	// its bound, a warm-up) still tests as a trend; a leak keeps growing.
	// The last third of a window of at least three MinSpans is long enough
	// for its own slope.
	if n := len(ys); span >= 3*d.o.MinSpan.Seconds() && n >= 3*d.o.MinPoints {
		k := n - n/3
		v.recent = d.sc.theilSen(ts[k:], ys[k:])
	}
	v.sufficient = len(ys) >= d.o.MinPoints && span >= d.o.MinSpan.Seconds()
	return v
}

func (d *Detector) evaluate() {
	now := d.last.Time
	// The heap series changes only when a GC ends; between cycles the last
	// verdict stands, which keeps the per-sample cost low.
	if d.heapNew {
		d.heapV = d.test(d.heap)
		d.heapNew = false
	}
	hv := d.heapV
	perMin := hv.tr.Slope * 60
	heapHit := hv.sufficient && hv.tr.P < d.o.Alpha && perMin >= d.o.MinHeapGrowth &&
		hv.tr.Slope*hv.span >= d.o.MinRelativeGrowth*math.Max(hv.floor, 1) &&
		hv.tr.Slope*hv.span >= d.o.MinSignalToNoise*hv.spread &&
		hv.recent >= hv.tr.Slope/4
	d.heapLeak = d.confirm(heapHit, &d.heapRun, &d.heapSince, d.heapLeak, LeakHeap, hv, now)
	if d.heapLeak != nil {
		l := d.heapLeak
		l.Current = float64(d.last.HeapLive)
		l.Limit, l.TimeToLimit = d.timeToLimit(hv.tr.Slope)
	}

	// Goroutines are tested when a bucket's worth of time has passed: with
	// a long window, a sample at a time changes nothing the test can see.
	if len(d.gor) > 1 {
		width := (d.gor[len(d.gor)-1].t - d.gor[0].t) / float64(d.o.MaxPoints)
		if d.gor[len(d.gor)-1].t-d.gorAt >= width || d.gorV.n == 0 {
			d.gorV = d.test(d.gor)
			d.gorAt = d.gor[len(d.gor)-1].t
		}
	}
	gv := d.gorV
	gPerMin := gv.tr.Slope * 60
	gorHit := gv.sufficient && gv.tr.P < d.o.Alpha && gPerMin >= d.o.MinGoroutineGrowth &&
		gv.tr.Slope*gv.span >= d.o.MinGoroutineRise &&
		gv.tr.Slope*gv.span >= d.o.MinSignalToNoise*gv.spread &&
		gv.recent >= gv.tr.Slope/4
	d.gorLeak = d.confirm(gorHit, &d.gorRun, &d.gorSince, d.gorLeak, LeakGoroutine, gv, now)
	if d.gorLeak != nil {
		d.gorLeak.Current = float64(d.last.Goroutines)
	}
}

// confirm turns a trend into a leak once Confirmations checks have hit and
// the trend has held for ConfirmFor. Time matters more than the count: a
// cache that fills for a minute before it is flushed looks like a leak for
// that minute, and only waiting past its flush tells them apart. While
// pending or reported, the trend is held if it stays significant at ten
// times Alpha, so one noisy check neither restarts the wait nor makes a
// reported leak flicker.
func (d *Detector) confirm(hit bool, run *int, since *time.Time, cur *Leak, kind LeakKind, v verdict, now time.Time) *Leak {
	hold := *run > 0 && v.sufficient && v.tr.P < 10*d.o.Alpha && v.tr.Slope > 0 && v.recent >= v.tr.Slope/4
	if !hit && !hold {
		*run = 0
		return nil
	}
	if hit {
		if *run == 0 {
			*since = now
		}
		*run++
	}
	if cur == nil && (!hit || *run < d.o.Confirmations || now.Sub(*since) < d.o.ConfirmFor) {
		return nil
	}
	l := cur
	if l == nil {
		l = &Leak{Kind: kind, Since: *since, Detected: now}
	}
	l.Trend = v.tr
	l.GrowthPerMinute = v.tr.Slope * 60
	return l
}

// timeToLimit projects when the footprint reaches the lower of GOMEMLIMIT
// and the cgroup limit. The footprint counts the heap at its floor (the live
// heap) plus everything that is not heap, since that is what the GC cannot
// give back.
func (d *Detector) timeToLimit(slope float64) (uint64, time.Duration) {
	limit := d.cgroup
	if ml := d.last.MemoryLimit; ml > 0 && ml < math.MaxInt64 && (limit == 0 || uint64(ml) < limit) {
		limit = uint64(ml)
	}
	if limit == 0 || slope <= 0 {
		return limit, 0
	}
	s := d.last
	floor := float64(s.HeapLive)
	if s.RuntimeTotal > s.HeapInUse {
		floor += float64(s.RuntimeTotal - s.HeapInUse)
	}
	left := float64(limit) - floor
	if left <= 0 {
		return limit, time.Nanosecond
	}
	secs := left / slope
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return limit, 0
	}
	return limit, time.Duration(secs * float64(time.Second))
}

func formatBytes(b float64) string {
	neg := b < 0
	if neg {
		b = -b
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f %s", b, units[i])
	if i == 0 {
		s = fmt.Sprintf("%.0f B", b)
	}
	if neg {
		s = "-" + s
	}
	return s
}
