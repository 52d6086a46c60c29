package querytrace

import "math/bits"

// subBits is log2 of the buckets per octave: 16 buckets between each power
// of two, so a bucket is at most 1/16 of its value wide and its midpoint
// within ±3.2 % of any value in it, close enough for a statement's p50 and
// p95.
const subBits = 4

// maxMicros is the largest value kept, one hour in microseconds; longer
// executions count as one hour.
const maxMicros = 3_600_000_000

// lastBucket is maxMicros's bucket.
var lastBucket = bucketOf(maxMicros)

// histogram is a log-bucketed latency histogram in microseconds. It keeps
// counts only for the span of buckets between the fastest and the slowest
// execution seen, so a statement whose latencies stay within a few octaves
// (most do) costs a few hundred bytes, and one that spans the whole range
// from 1 µs to 1 h at most 4 bytes × 464 buckets; the HDR histogram it
// replaces took ~33 KB a statement whatever it held. The zero value is
// empty and ready. Not safe for concurrent use: the Recorder's lock guards
// it.
type histogram struct {
	lo       int      // bucket of counts[0]
	counts   []uint32 // buckets lo .. lo+len-1
	total    uint64
	min, max int64
}

// bucketOf is v's bucket: exact below 2^subBits, then 2^subBits buckets per
// power of two.
func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 1
	return (e-subBits+1)<<subBits + int(uint64(v)>>(e-subBits))&(1<<subBits-1)
}

// bucketRange is the first and last value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 1<<subBits {
		return int64(i), int64(i)
	}
	shift := i>>subBits - 1
	lo = int64(1<<subBits+i&(1<<subBits-1)) << shift
	return lo, lo + 1<<shift - 1
}

func (h *histogram) record(us int64) {
	us = min(max(us, 1), maxMicros)
	i := bucketOf(us)
	switch {
	case len(h.counts) == 0:
		h.lo, h.counts = i, make([]uint32, 1, min(4, lastBucket-i+1))
		h.min, h.max = us, us
	case i < h.lo:
		grown := make([]uint32, h.lo-i+len(h.counts))
		copy(grown[h.lo-i:], h.counts)
		h.lo, h.counts = i, grown
	case i >= h.lo+len(h.counts):
		// Grown to fit, a few buckets ahead, never past the last one:
		// append's doubling would waste up to half.
		n := min(max(i-h.lo+1, len(h.counts)+4), lastBucket-h.lo+1)
		if n > cap(h.counts) {
			grown := make([]uint32, n)
			copy(grown, h.counts)
			h.counts = grown
		}
		h.counts = h.counts[:n]
	}
	c := &h.counts[i-h.lo]
	if *c == ^uint32(0) {
		h.halve()
	}
	*c++
	h.total++
	h.min, h.max = min(h.min, us), max(h.max, us)
}

// halve divides every count by two, rounding up so that no execution seen
// vanishes: quantiles keep their place, and a busy statement's counts never
// wrap.
func (h *histogram) halve() {
	h.total = 0
	for i, c := range h.counts {
		h.counts[i] = c - c/2
		h.total += uint64(h.counts[i])
	}
}

// quantile is the value at q (0..1) in microseconds: the midpoint of the
// bucket holding that rank, within the extremes seen; 0 when empty.
func (h *histogram) quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for j, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			lo, hi := bucketRange(h.lo + j)
			return min(max((lo+hi)/2, h.min), h.max)
		}
	}
	return h.max
}

// bytes is the memory the histogram holds, its header included.
func (h *histogram) bytes() int { return 56 + 4*cap(h.counts) }
