package querytrace

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	// Every value falls in a bucket whose range holds it, and the buckets
	// follow one another without gaps.
	prevHi := int64(0)
	for i := 1; i <= bucketOf(maxMicros); i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, prevHi+1)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucketOf(%d)=%d bucketOf(%d)=%d, want %d", lo, bucketOf(lo), hi, bucketOf(hi), i)
		}
		if lo >= 1<<subBits && float64(hi-lo+1)/float64(lo) > 1.0/(1<<subBits)+1e-9 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/%d of its value", i, lo, hi, 1<<subBits)
		}
		prevHi = hi
	}
	if prevHi < maxMicros {
		t.Fatalf("buckets end at %d, want at least %d", prevHi, int64(maxMicros))
	}
}

func TestHistogramQuantilesWithinBucketError(t *testing.T) {
	for _, tc := range []struct {
		name string
		draw func(*rand.Rand) int64
	}{
		{"lognormal around 2ms", func(r *rand.Rand) int64 { return int64(2000 * math.Exp(r.NormFloat64())) }},
		{"bimodal 100us and 50ms", func(r *rand.Rand) int64 {
			if r.Float64() < 0.9 {
				return 100 + r.Int64N(20)
			}
			return 50000 + r.Int64N(5000)
		}},
		{"uniform 1us..1s", func(r *rand.Rand) int64 { return 1 + r.Int64N(1e6) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var h histogram
			vals := make([]int64, 20000)
			for i := range vals {
				vals[i] = min(max(tc.draw(rng), 1), maxMicros)
				h.record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.95, 0.99} {
				want := vals[int(q*float64(len(vals)))-1]
				got := h.quantile(q)
				// The bucket's midpoint, and a rank off by one at most.
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.035 {
					t.Errorf("quantile(%v) = %d, want %d ±3.5%% (off %.1f%%)", q, got, want, 100*rel)
				}
			}
			if h.max != vals[len(vals)-1] || h.min != vals[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.min, h.max, vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestHistogramBytesBounded(t *testing.T) {
	var narrow histogram
	for v := int64(500); v < 20000; v += 7 { // 0.5 to 20 ms
		narrow.record(v)
	}
	if b := narrow.bytes(); b > 512 {
		t.Errorf("0.5..20 ms takes %d bytes, want at most 512", b)
	}
	var wide histogram
	wide.record(1)
	wide.record(1 << 62) // clamped to one hour
	if b := wide.bytes(); b > 2048 {
		t.Errorf("1 µs..1 h takes %d bytes, want under 2 KB", b)
	}
	if wide.max != maxMicros {
		t.Errorf("max %d, want the one-hour clamp %d", wide.max, int64(maxMicros))
	}
}

func TestHistogramCountsNeverWrap(t *testing.T) {
	var h histogram
	h.record(10)
	h.counts[0] = ^uint32(0) - 1
	h.total = uint64(h.counts[0])
	h.record(1000)
	for range 3 {
		h.record(10)
	}
	if h.counts[0] < 1<<31 || h.quantile(0.5) != 10 || h.quantile(1) != 1000 {
		t.Errorf("after overflow: count %d, p50 %d, p100 %d; want halved counts, 10 and 1000", h.counts[0], h.quantile(0.5), h.quantile(1))
	}
	var sum uint64
	for _, c := range h.counts {
		sum += uint64(c)
	}
	if sum != h.total {
		t.Errorf("total %d, counts sum to %d", h.total, sum)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Errorf("empty quantile = %d, want 0", h.quantile(0.5))
	}
}
