package metrics

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range and precision. Values are kept in nanoseconds; everything
// below a microsecond falls in the lowest bucket and everything above an hour
// is recorded as an hour, so no latency is ever dropped.
const (
	HistogramMin        = time.Microsecond
	HistogramMax        = time.Hour
	HistogramSigFigures = 3
)

func newHDR(digits int) *hdr.Histogram {
	if digits == 0 {
		digits = HistogramSigFigures
	}
	return hdr.New(int64(HistogramMin), int64(HistogramMax), digits)
}

func clampDuration(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	if d > HistogramMax {
		return int64(HistogramMax)
	}
	return int64(d)
}

// Histogram is an HDR latency histogram from a microsecond to an hour with
// three significant digits: any quantile is within 0.1 % of the true value.
// It takes about 190 KB; NewHistogramDigits(2) gives 1 % in about 27 KB. It
// is not safe for concurrent use: keep one per worker and Merge them, or use
// a LatencyRecorder. The zero value is an empty three-digit histogram ready
// to use.
type Histogram struct {
	h      *hdr.Histogram
	digits int // significant digits; 0 means HistogramSigFigures
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{h: newHDR(0)} }

// NewHistogramDigits returns an empty histogram that keeps digits
// significant digits, clamped to 1..5. Fewer digits cost far less memory,
// which matters where a service keeps one histogram per route or per
// statement: 2 digits (any quantile within 1 %) take about 27 KB against
// 190 KB for 3.
func NewHistogramDigits(digits int) *Histogram {
	d := clampDigits(digits)
	return &Histogram{h: newHDR(d), digits: d}
}

// clampDigits keeps a precision within what an HDR histogram supports.
func clampDigits(digits int) int { return min(max(digits, 1), 5) }

func (h *Histogram) init() {
	if h.h == nil {
		h.h = newHDR(h.digits)
	}
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.init()
	// The value is clamped into range, so RecordValue cannot fail.
	_ = h.h.RecordValue(clampDuration(d))
}

// RecordCorrected adds one duration measured by a loop that meant to send a
// request every expectedInterval, and back-fills the requests a stall kept
// from being sent (coordinated omission). A non-positive interval records d
// alone.
func (h *Histogram) RecordCorrected(d, expectedInterval time.Duration) {
	h.init()
	if expectedInterval <= 0 {
		_ = h.h.RecordValue(clampDuration(d))
		return
	}
	_ = h.h.RecordCorrectedValue(clampDuration(d), int64(expectedInterval))
}

// Merge adds every value of o into h. o is not changed.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.h == nil {
		return
	}
	h.init()
	h.h.Merge(o.h)
}

// Quantile returns the value below which a fraction q (0..1) of the recorded
// durations fall, for example Quantile(0.99) for the p99; q is clamped into
// [0, 1]. It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.h == nil {
		return 0
	}
	switch {
	case q < 0 || q != q:
		q = 0
	case q > 1:
		q = 1
	}
	return time.Duration(h.h.ValueAtQuantile(q * 100))
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() int64 {
	if h.h == nil {
		return 0
	}
	return h.h.TotalCount()
}

// Max returns the largest recorded duration (to the histogram's precision).
func (h *Histogram) Max() time.Duration {
	if h.h == nil || h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.Max())
}

// Min returns the smallest recorded duration (to the histogram's precision).
func (h *Histogram) Min() time.Duration {
	if h.h == nil || h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.Min())
}

// Mean returns the mean recorded duration.
func (h *Histogram) Mean() time.Duration {
	if h.h == nil || h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.Mean())
}

// Reset empties the histogram, keeping its memory.
func (h *Histogram) Reset() {
	if h.h != nil {
		h.h.Reset()
	}
}

// LatencyRecorder records durations from many goroutines at once, for
// middleware hot paths. It spreads Record calls over striped histograms,
// each behind its own mutex, and adds a stripe when a Record finds every
// stripe busy, so a single-threaded caller pays for one histogram while a
// busy server grows to as many stripes as it has goroutines recording at
// the same instant, at most GOMAXPROCS (capped at 16), each about 190 KB.
// Record does not allocate once a stripe exists. It is safe for concurrent use. Create it with NewLatencyRecorder.
type LatencyRecorder struct {
	stripes []stripe
	active  atomic.Int32 // stripes in use; grows on contention
	digits  int
}

type stripe struct {
	mu sync.Mutex
	h  Histogram
	// Padding keeps neighbouring mutexes off one cache line, so stripes do
	// not contend through false sharing.
	_ [48]byte
}

// NewLatencyRecorder returns an empty recorder.
func NewLatencyRecorder() *LatencyRecorder { return NewLatencyRecorderDigits(HistogramSigFigures) }

// NewLatencyRecorderDigits returns an empty recorder whose stripes keep
// digits significant digits (see NewHistogramDigits): 2 digits are the
// better choice for a recorder per route.
func NewLatencyRecorderDigits(digits int) *LatencyRecorder {
	// More stripes than Ps cannot all be busy at once; each costs ~190 KB
	// at 3 digits, and a service may keep one recorder per route.
	n := min(runtime.GOMAXPROCS(0), 16)
	r := &LatencyRecorder{stripes: make([]stripe, n), digits: clampDigits(digits)}
	for i := range r.stripes {
		r.stripes[i].h.digits = r.digits
	}
	r.active.Store(1)
	return r
}

// Record adds one duration. Negative durations count as zero.
func (r *LatencyRecorder) Record(d time.Duration) {
	n := uint32(r.active.Load())
	i := uint32(0)
	if n > 1 {
		// Lemire's multiply-shift maps the hint onto [0, n) without the
		// division a modulo costs.
		i = uint32(uint64(stripeHint()) * uint64(n) >> 32)
	}
	// Start at the goroutine's preferred stripe and take the first free one:
	// a goroutine blocks only when every stripe in use is busy.
	for k := uint32(0); k < n; k++ {
		j := i + k
		if j >= n {
			j -= n
		}
		s := &r.stripes[j]
		if s.mu.TryLock() {
			s.h.Record(d)
			s.mu.Unlock()
			return
		}
	}
	// Every stripe was busy: there are more goroutines recording than
	// stripes. Take a new stripe if one is left, else wait on the first.
	s := &r.stripes[i]
	if int(n) < len(r.stripes) && r.active.CompareAndSwap(int32(n), int32(n+1)) {
		s = &r.stripes[n]
	}
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
}

// stripeHint picks a stripe for the calling goroutine from the address of
// its stack: different goroutines get different stripes, and one goroutine
// keeps returning to the same stripe, whose histogram then stays in that
// core's cache. It costs a multiply, where a random number costs a few
// nanoseconds and moves between stripes on every call.
func stripeHint() uint32 {
	var x byte
	// Stacks are at least 2 KB apart; Fibonacci hashing spreads the high
	// bits over the result.
	h := uint64(uintptr(unsafe.Pointer(&x))>>11) * 0x9E3779B97F4A7C15
	return uint32(h >> 32)
}

// Snapshot returns a histogram of everything recorded so far.
func (r *LatencyRecorder) Snapshot() *Histogram {
	out := NewHistogramDigits(r.digits)
	r.collect(out, false)
	return out
}

// SnapshotAndReset returns a histogram of everything recorded since the last
// SnapshotAndReset or MoveTo (or since creation) and empties the recorder,
// so a caller that calls it every interval gets that interval's percentiles.
// No value is lost or counted twice between two calls.
func (r *LatencyRecorder) SnapshotAndReset() *Histogram {
	// The first stripe's histogram is handed out whole and replaced by an
	// empty one allocated outside the lock: with one stripe in use, the
	// common case, this costs one allocation and no merge.
	fresh := newHDR(r.digits)
	var out *Histogram
	n := int(r.active.Load())
	for i := 0; i < n; i++ {
		s := &r.stripes[i]
		s.mu.Lock()
		if out == nil {
			out = &Histogram{h: s.h.h, digits: r.digits}
			s.h.h = fresh
		} else {
			out.Merge(&s.h)
			s.h.Reset()
		}
		s.mu.Unlock()
	}
	if out == nil || out.h == nil {
		out = &Histogram{h: newHDR(r.digits), digits: r.digits}
	}
	return out
}

// AddTo merges everything recorded so far into dst. Unlike Snapshot it
// allocates nothing: a histogram takes about 190 KB, worth reusing when
// there is one recorder per route.
func (r *LatencyRecorder) AddTo(dst *Histogram) { r.collect(dst, false) }

// MoveTo is SnapshotAndReset into a histogram the caller owns (and may
// Reset and reuse): it merges the interval's values into dst and empties
// the recorder.
func (r *LatencyRecorder) MoveTo(dst *Histogram) { r.collect(dst, true) }

func (r *LatencyRecorder) collect(dst *Histogram, reset bool) {
	n := int(r.active.Load())
	for i := 0; i < n; i++ {
		s := &r.stripes[i]
		s.mu.Lock()
		dst.Merge(&s.h)
		if reset {
			s.h.Reset()
		}
		s.mu.Unlock()
	}
}
