package metrics

import (
	"errors"
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// DefaultNativeSchema is the resolution of the native histograms Histogram
// exports: schema 3 has buckets growing by 2^(1/8), about 9 % apart, which
// is what client_golang gives for a bucket factor of 1.1.
const DefaultNativeSchema = 3

// PrometheusHistogram returns the histogram as a Prometheus histogram metric
// in seconds, carrying both classic buckets (at bounds, cumulative, in
// seconds; prometheus.DefBuckets when nil) and native buckets of the given
// schema, so a scraper that asks for either finds it and series from many
// instances add up, which summaries of quantiles cannot. Counts are the
// histogram's own; a bucket edge is placed to the histogram's precision
// (about 1 % with two digits). Safe to call while nobody records into h.
func (h *Histogram) PrometheusHistogram(desc *prometheus.Desc, bounds []float64, schema int32, labelValues ...string) (prometheus.Metric, error) {
	if schema < -4 || schema > 8 {
		return nil, errors.New("metrics: native histogram schema must be in -4..8")
	}
	if bounds == nil {
		bounds = prometheus.DefBuckets
	}
	// Validate the labels through a throw-away const metric: the same
	// checks client_golang makes.
	base, err := prometheus.NewConstHistogram(desc, 0, 0, nil, labelValues...)
	if err != nil {
		return nil, err
	}
	var m dto.Metric
	if err := base.Write(&m); err != nil {
		return nil, err
	}
	hist := &dto.Histogram{}
	counts := make([]uint64, len(bounds))
	native := map[int]int64{}
	var total uint64
	var sum float64
	if h.h != nil && h.h.TotalCount() > 0 {
		for _, bar := range h.h.Distribution() {
			if bar.Count == 0 {
				continue
			}
			// A bucket's values are within its precision of its middle.
			v := (float64(bar.From) + float64(bar.To)) / 2 / 1e9
			total += uint64(bar.Count)
			sum += v * float64(bar.Count)
			for i, b := range bounds {
				if v <= b {
					counts[i] += uint64(bar.Count)
				}
			}
			native[nativeIndex(v, schema)] += bar.Count
		}
	}
	for i, b := range bounds {
		hist.Bucket = append(hist.Bucket, &dto.Bucket{UpperBound: proto.Float64(b), CumulativeCount: proto.Uint64(counts[i])})
	}
	hist.SampleCount, hist.SampleSum = proto.Uint64(total), proto.Float64(sum)
	hist.Schema, hist.ZeroThreshold, hist.ZeroCount = proto.Int32(schema), proto.Float64(0), proto.Uint64(0)
	hist.PositiveSpan, hist.PositiveDelta = nativeSpans(native)
	if len(native) == 0 {
		// An empty native histogram still says it is one, as client_golang
		// does with a no-op span.
		hist.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
	}
	m.Histogram = hist
	return &writtenMetric{desc: desc, m: &m}, nil
}

// nativeIndex is the bucket of v in a native histogram of the schema:
// bucket i holds (base^(i-1), base^i] with base = 2^(2^-schema).
func nativeIndex(v float64, schema int32) int {
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	if schema > 0 {
		// Same as ceil(log2(v) × 2^schema), computed the way client_golang
		// does, so an exact power of two lands in the bucket it bounds.
		n := float64(int(1) << schema)
		return int(math.Ceil(math.Log2(frac)*n)) + (exp-1)*int(n) + int(n)
	}
	idx := exp
	if frac == 0.5 {
		idx--
	}
	offset := (1 << -schema) - 1
	return (idx + offset) >> -schema
}

// nativeSpans encodes bucket counts as Prometheus's spans and deltas.
func nativeSpans(buckets map[int]int64) ([]*dto.BucketSpan, []int64) {
	idx := make([]int, 0, len(buckets))
	for i := range buckets {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var spans []*dto.BucketSpan
	var deltas []int64
	var prevCount int64
	for n, i := range idx {
		switch {
		case n == 0:
			spans = append(spans, &dto.BucketSpan{Offset: proto.Int32(int32(i)), Length: proto.Uint32(0)})
		case i-idx[n-1] > 1:
			spans = append(spans, &dto.BucketSpan{Offset: proto.Int32(int32(i - idx[n-1] - 1)), Length: proto.Uint32(0)})
		}
		s := spans[len(spans)-1]
		*s.Length++
		deltas = append(deltas, buckets[i]-prevCount)
		prevCount = buckets[i]
	}
	return spans, deltas
}

// writtenMetric is a prometheus.Metric already in its wire form.
type writtenMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (w *writtenMetric) Desc() *prometheus.Desc { return w.desc }

func (w *writtenMetric) Write(out *dto.Metric) error {
	proto.Reset(out)
	proto.Merge(out, w.m)
	return nil
}
