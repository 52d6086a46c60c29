package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestPrometheusHistogramMatchesClientGolang(t *testing.T) {
	// The same values through client_golang's own histogram (classic and
	// native, factor 1.1 = schema 3) and through ours must give the same
	// buckets, to the HDR histogram's precision.
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ref_seconds", Help: "reference", Buckets: prometheus.DefBuckets,
		NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: 0,
	})
	h := NewHistogramDigits(3)
	for i := 1; i <= 5000; i++ {
		// Log-spread latencies from ~1.3 ms to ~5 s, away from bucket edges.
		d := time.Duration(float64(time.Millisecond) * math.Pow(1.00166, float64(i)) * 1.2345)
		h.Record(d)
		ref.Observe(d.Seconds())
	}
	desc := prometheus.NewDesc("x_seconds", "test", []string{"route"}, nil)
	m, err := h.PrometheusHistogram(desc, nil, DefaultNativeSchema, "GET /a")
	if err != nil {
		t.Fatal(err)
	}
	var got, want dto.Metric
	if err := m.Write(&got); err != nil {
		t.Fatal(err)
	}
	if err := ref.Write(&want); err != nil {
		t.Fatal(err)
	}
	g, w := got.GetHistogram(), want.GetHistogram()
	if g.GetSampleCount() != w.GetSampleCount() {
		t.Fatalf("count = %d, want %d", g.GetSampleCount(), w.GetSampleCount())
	}
	if math.Abs(g.GetSampleSum()-w.GetSampleSum()) > 0.001*w.GetSampleSum() {
		t.Errorf("sum = %g, want %g within 0.1 %%", g.GetSampleSum(), w.GetSampleSum())
	}
	for i, b := range w.GetBucket() {
		gc, wc := float64(g.GetBucket()[i].GetCumulativeCount()), float64(b.GetCumulativeCount())
		if math.Abs(gc-wc) > 0.01*float64(w.GetSampleCount()) {
			t.Errorf("classic bucket le=%g: %g, want %g", b.GetUpperBound(), gc, wc)
		}
	}
	if g.GetSchema() != w.GetSchema() {
		t.Fatalf("schema = %d, want %d", g.GetSchema(), w.GetSchema())
	}
	gb, wb := expand(g), expand(w)
	var diff int64
	for i, c := range wb {
		diff += abs(gb[i] - c)
	}
	for i, c := range gb {
		if _, ok := wb[i]; !ok {
			diff += abs(c)
		}
	}
	// Observations within the HDR precision of a native bucket edge may
	// land on its other side; that is all that may differ.
	if float64(diff) > 0.02*float64(w.GetSampleCount()) {
		t.Errorf("native buckets differ by %d observations of %d:\n got %v\nwant %v", diff, w.GetSampleCount(), gb, wb)
	}
	if len(labels(&got)) != 1 || labels(&got)["route"] != "GET /a" {
		t.Errorf("labels = %v", labels(&got))
	}
}

func TestPrometheusHistogramEmptyAndErrors(t *testing.T) {
	desc := prometheus.NewDesc("x_seconds", "test", nil, nil)
	var h Histogram
	m, err := h.PrometheusHistogram(desc, []float64{0.1, 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out dto.Metric
	m.Write(&out)
	if out.GetHistogram().GetSampleCount() != 0 || len(out.GetHistogram().GetBucket()) != 2 {
		t.Errorf("empty histogram = %v", out.GetHistogram())
	}
	if _, err := h.PrometheusHistogram(desc, nil, 9); err == nil {
		t.Error("schema 9 accepted")
	}
	if _, err := h.PrometheusHistogram(desc, nil, 3, "extra"); err == nil {
		t.Error("a label value the desc does not have was accepted")
	}
}

func TestNativeIndex(t *testing.T) {
	tests := []struct {
		v      float64
		schema int32
		want   int
	}{
		{1, 0, 0}, {2, 0, 1}, {1.5, 0, 1}, {0.5, 0, -1}, {4, -1, 1}, {3, -1, 1}, {1, 3, 0}, {2, 3, 8}, {1.05, 3, 1},
	}
	for _, tc := range tests {
		if got := nativeIndex(tc.v, tc.schema); got != tc.want {
			t.Errorf("nativeIndex(%g, %d) = %d, want %d", tc.v, tc.schema, got, tc.want)
		}
	}
}

func expand(h *dto.Histogram) map[int]int64 {
	out := map[int]int64{}
	idx, n, count := 0, 0, int64(0)
	for si, s := range h.GetPositiveSpan() {
		if si == 0 {
			idx = int(s.GetOffset())
		} else {
			idx += int(s.GetOffset())
		}
		for j := uint32(0); j < s.GetLength(); j++ {
			count += h.GetPositiveDelta()[n]
			n++
			out[idx] = count
			idx++
		}
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
