package webopt

import "math"

// histogram counts values in logarithmic buckets 5 % wide, so a quantile
// read from it is within 2.5 % of the exact one, in a fixed 1 KB whatever
// the traffic. Bucket 0 holds values below 1 unit (1 ms, or 0.001 CLS).
type histogram struct {
	n        uint32
	min, max float64
	counts   [histBuckets]uint32
}

const (
	histGrowth  = 1.05
	histBuckets = 242 // 1.05^240 > 120,000: the largest value accepted
)

var histLogGrowth = math.Log(histGrowth)

func histBucket(v float64) int {
	if v < 1 {
		return 0
	}
	b := 1 + int(math.Log(v)/histLogGrowth)
	return min(b, histBuckets-1)
}

func (h *histogram) add(v float64) {
	h.counts[histBucket(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.n++
	h.max = max(h.max, v)
}

// quantile of the union of hs: the geometric middle of the bucket that holds
// the q-th value, kept within the smallest and largest values seen (so one
// repeated value comes back exact). 0 without values.
func quantile(q float64, hs ...*histogram) float64 {
	var n, mx float64
	mn := math.Inf(1)
	for _, h := range hs {
		if h.n > 0 {
			mn = min(mn, h.min)
		}
		n += float64(h.n)
		mx = max(mx, h.max)
	}
	if n == 0 {
		return 0
	}
	rank := math.Ceil(q * n)
	var seen float64
	for b := range histBuckets {
		for _, h := range hs {
			seen += float64(h.counts[b])
		}
		if seen >= rank {
			var v float64
			switch b {
			case 0:
				v = 0.5
			case histBuckets - 1:
				v = mx // the last bucket is open-ended
			default:
				v = math.Pow(histGrowth, float64(b)-0.5)
			}
			return min(max(v, mn), mx)
		}
	}
	return mx
}
