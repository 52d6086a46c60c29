package metrics

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"
)

// DefaultSeriesCapacity is the number of points a Series keeps when it is
// created with a capacity of zero or less: a little over 17 minutes at one
// point per second.
const DefaultSeriesCapacity = 1024

// Point is one value of a series at one instant.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Series is a fixed-capacity ring buffer of points: once full, each Add
// overwrites the oldest point, so memory stays bounded however long the
// engine runs. It is safe for concurrent use. Create it with NewSeries; the
// zero value is not usable.
type Series struct {
	name string

	mu   sync.RWMutex
	buf  []point
	next int // index the next Add writes to
	n    int // points held, <= len(buf)
}

// point is how a Series stores a Point: Unix nanoseconds instead of a
// time.Time keep the buffer free of pointers, so the garbage collector never
// scans it, and halve its size; comparing int64s also makes Stats cheaper.
type point struct {
	ns int64
	v  float64
}

func (p point) public() Point { return Point{Time: time.Unix(0, p.ns), Value: p.v} }

// NewSeries returns an empty series holding at most capacity points
// (DefaultSeriesCapacity when capacity <= 0).
func NewSeries(name string, capacity int) *Series {
	if capacity <= 0 {
		capacity = DefaultSeriesCapacity
	}
	return &Series{name: name, buf: make([]point, capacity)}
}

// Name returns the name the series was created with.
func (s *Series) Name() string { return s.name }

// Cap returns the most points the series holds.
func (s *Series) Cap() int { return len(s.buf) }

// Add appends a point, dropping the oldest when the series is full. NaN and
// infinite values are ignored: one of them would poison every mean, slope and
// percentile computed over the window.
func (s *Series) Add(t time.Time, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s.mu.Lock()
	s.buf[s.next] = point{ns: t.UnixNano(), v: v}
	s.next++
	if s.next == len(s.buf) {
		s.next = 0
	}
	if s.n < len(s.buf) {
		s.n++
	}
	s.mu.Unlock()
}

// Last returns the most recently added point, and false when there is none.
func (s *Series) Last() (Point, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.n == 0 {
		return Point{}, false
	}
	return s.buf[s.lastIndex()].public(), true
}

func (s *Series) lastIndex() int {
	if s.next == 0 {
		return len(s.buf) - 1
	}
	return s.next - 1
}

// Len returns the number of points held.
func (s *Series) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Points appends the held points to dst[:0], oldest first, and returns it.
// Pass the previous result back in to avoid allocating. Times come back in
// the local time zone and without a monotonic clock reading.
func (s *Series) Points(dst []Point) []Point {
	s.mu.RLock()
	defer s.mu.RUnlock()
	dst = dst[:0]
	start := s.next - s.n
	if start < 0 {
		start += len(s.buf)
	}
	for i := 0; i < s.n; i++ {
		dst = append(dst, s.buf[(start+i)%len(s.buf)].public())
	}
	return dst
}

// scratchPool holds value buffers for Stats, so computing percentiles does
// not allocate per call and idle series do not each carry a second buffer.
var scratchPool = sync.Pool{New: func() any { return new([]float64) }}

// Stats summarises the points newer than now-window (every point when window
// is zero or less). Percentiles are exact over those points, interpolated
// linearly between the two nearest ranks (the "R-7" definition numpy and
// spreadsheets use). Slope is the least-squares fit of value against time in
// units per second; it is zero with fewer than two distinct instants.
func (s *Series) Stats(now time.Time, window time.Duration) Stats {
	st := Stats{Name: s.name, Window: window}
	scratch := scratchPool.Get().(*[]float64)
	vals := (*scratch)[:0]

	s.mu.RLock()
	cutoff := int64(math.MinInt64)
	if window > 0 {
		cutoff = now.Add(-window).UnixNano()
	}
	// The ring is walked oldest to newest so Last is the newest point inside
	// the window; the fit is computed around the first point's time to keep
	// the sums small enough for float64 to stay exact.
	var (
		t0                       int64
		sumX, sumY, sumXX, sumXY float64
	)
	start := s.next - s.n
	if start < 0 {
		start += len(s.buf)
	}
	for i := 0; i < s.n; i++ {
		j := start + i
		if j >= len(s.buf) {
			j -= len(s.buf)
		}
		p := s.buf[j]
		if p.ns <= cutoff {
			continue
		}
		if len(vals) == 0 {
			t0 = p.ns
			st.Min, st.Max = p.v, p.v
		}
		x := float64(p.ns-t0) * 1e-9
		vals = append(vals, p.v)
		st.Last = p.v
		if p.v < st.Min {
			st.Min = p.v
		}
		if p.v > st.Max {
			st.Max = p.v
		}
		sumX += x
		sumY += p.v
		sumXX += x * x
		sumXY += x * p.v
	}
	s.mu.RUnlock()

	st.Count = len(vals)
	if st.Count > 0 {
		n := float64(st.Count)
		st.Mean = sumY / n
		// Points all at one instant give x == 0 throughout, so den is
		// exactly zero: no trend to fit.
		if den := n*sumXX - sumX*sumX; den != 0 {
			st.Slope = (n*sumXY - sumX*sumY) / den
		}
		st.P50, st.P95, st.P99 = percentiles(vals)
	}
	*scratch = vals
	scratchPool.Put(scratch)
	return st
}

// percentiles returns the 50th, 95th and 99th percentiles of vals, which it
// reorders. Selection is linear on average, cheaper than sorting: each later
// percentile searches only above the rank of the one before.
func percentiles(vals []float64) (p50, p95, p99 float64) {
	lo := 0
	get := func(q float64) float64 {
		h := q * float64(len(vals)-1)
		k := int(h)
		v := selectKth(vals, lo, len(vals)-1, k)
		lo = k
		frac := h - float64(k)
		if frac == 0 || k+1 >= len(vals) {
			return v
		}
		// After selecting k, the next rank is the smallest value above it.
		next := vals[k+1]
		for _, x := range vals[k+2:] {
			if x < next {
				next = x
			}
		}
		return v + frac*(next-v)
	}
	p50 = get(0.50)
	p95 = get(0.95)
	p99 = get(0.99)
	return p50, p95, p99
}

// Select reorders xs so that xs[k] holds the value of rank k (0-based),
// everything before it no larger and everything after no smaller, and
// returns it: expected linear time, n log n at worst. k must be in range.
func Select(xs []float64, k int) float64 { return selectKth(xs, 0, len(xs)-1, k) }

// selectKth partially orders a[lo..hi] so a[k] holds the value of rank k,
// everything before it is no larger and everything after no smaller.
func selectKth(a []float64, lo, hi, k int) float64 {
	// Bad pivots can make quickselect quadratic; after more rounds than a
	// fair run needs, sorting what is left bounds the cost at n log n.
	budget := 2 * bits.Len(uint(hi-lo+1))
	for hi > lo {
		if budget--; budget < 0 {
			slices.Sort(a[lo : hi+1])
			return a[k]
		}
		if hi-lo < 16 {
			insertionSort(a[lo : hi+1])
			return a[k]
		}
		// Median of three guards against sorted input, which is common:
		// many series only ever grow.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

func insertionSort(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// Set is a collection of series keyed by Sample.Key, created on first
// observation. It is safe for concurrent use. Create it with NewSet.
type Set struct {
	capacity int

	mu     sync.RWMutex
	series map[string]*Series
}

// NewSet returns an empty set whose series each hold capacity points
// (DefaultSeriesCapacity when capacity <= 0).
func NewSet(capacity int) *Set {
	if capacity <= 0 {
		capacity = DefaultSeriesCapacity
	}
	return &Set{capacity: capacity, series: make(map[string]*Series)}
}

// Observe adds each sample to the series of its key. Samples with a zero
// Time are ignored, as are NaN and infinite values (see Series.Add).
func (s *Set) Observe(samples ...Sample) {
	for i := range samples {
		sm := &samples[i]
		if sm.Time.IsZero() {
			continue
		}
		key := sm.Key()
		s.mu.RLock()
		ser, ok := s.series[key]
		s.mu.RUnlock()
		if !ok {
			s.mu.Lock()
			if ser, ok = s.series[key]; !ok {
				ser = NewSeries(key, s.capacity)
				s.series[key] = ser
			}
			s.mu.Unlock()
		}
		ser.Add(sm.Time, sm.Value)
	}
}

// Latest maps each series key to its newest value.
func (s *Set) Latest() map[string]float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]float64, len(s.series))
	for k, ser := range s.series {
		if p, ok := ser.Last(); ok {
			out[k] = p.Value
		}
	}
	return out
}

// Get returns the series of a key.
func (s *Set) Get(key string) (*Series, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ser, ok := s.series[key]
	return ser, ok
}

// Keys returns every series key, sorted.
func (s *Set) Keys() []string {
	s.mu.RLock()
	keys := make([]string, 0, len(s.series))
	for k := range s.series {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	sort.Strings(keys)
	return keys
}

// Len returns the number of series.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.series)
}

// Stats returns the statistics of every series over the window, sorted by
// name (the series key).
func (s *Set) Stats(now time.Time, window time.Duration) []Stats {
	s.mu.RLock()
	all := make([]*Series, 0, len(s.series))
	for _, ser := range s.series {
		all = append(all, ser)
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	out := make([]Stats, len(all))
	for i, ser := range all {
		out[i] = ser.Stats(now, window)
	}
	return out
}

// Prune removes the series whose newest point is not after before, and
// returns how many it removed. Labels come from bounded sets, but a route
// or host that disappears should not hold its buffer forever.
func (s *Set) Prune(before time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := 0
	for k, ser := range s.series {
		if p, ok := ser.Last(); !ok || !p.Time.After(before) {
			delete(s.series, k)
			removed++
		}
	}
	return removed
}
