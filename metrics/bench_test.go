package metrics

// Run with:
//
//	go test -run '^$' -bench . -benchtime 2000x ./metrics
//
// BenchmarkLatencyRecorder/mutex is the peer: one histogram behind one mutex,
// the obvious way to share a histogram between goroutines.
//
// cpu-ns/op is the process CPU time (getrusage) per operation. On a shared
// machine it is steadier than ns/op, which also counts the time other
// processes held the cores.

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// cpuPerOp reports cpu-ns/op when the returned function runs after the
// benchmark loop.
func cpuPerOp(b *testing.B) func() {
	start, ok := processCPUTime()
	return func() {
		end, ok2 := processCPUTime()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkSeriesAdd(b *testing.B) {
	b.ReportAllocs()
	defer cpuPerOp(b)()
	s := NewSeries("x", 1024)
	now := t0
	for i := 0; b.Loop(); i++ {
		s.Add(now.Add(time.Duration(i)*time.Second), float64(i))
	}
}

func BenchmarkSeriesStats(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	s := NewSeries("x", 1024)
	for i := range 1000 {
		s.Add(at(float64(i)), r.Float64()*100)
	}
	now := at(999)
	for _, w := range []struct {
		name   string
		window time.Duration
	}{{"all_1k", 0}, {"last_5m", 5 * time.Minute}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				s.Stats(now, w.window)
			}
		})
	}
	// The peer: percentiles by sorting a copy of the points, buffers reused
	// (and without the mean, min, max and slope Stats also computes).
	b.Run("sort_1k_peer", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		vals := make([]float64, 0, 1024)
		pts := make([]Point, 0, 1024)
		for b.Loop() {
			pts = s.Points(pts)
			vals = vals[:0]
			for _, p := range pts {
				vals = append(vals, p.Value)
			}
			slices.Sort(vals)
			_ = vals[len(vals)/2]
		}
	})
}

func BenchmarkSetStats(b *testing.B) {
	b.ReportAllocs()
	defer cpuPerOp(b)()
	set := NewSet(1024)
	rc := NewRuntimeCollector()
	for i := range 600 {
		set.Observe(rc.Collect(at(float64(i)))...)
	}
	now := at(599)
	for b.Loop() {
		set.Stats(now, time.Minute)
	}
}

func BenchmarkLatencyRecorder(b *testing.B) {
	b.Run("striped", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		r := NewLatencyRecorder()
		b.RunParallel(func(pb *testing.PB) {
			d := time.Duration(rand.IntN(1e6)) * time.Microsecond / 1000
			for pb.Next() {
				r.Record(d)
				d += 997
			}
		})
	})
	b.Run("mutex", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		var mu sync.Mutex
		h := NewHistogram()
		b.RunParallel(func(pb *testing.PB) {
			d := time.Duration(rand.IntN(1e6)) * time.Microsecond / 1000
			for pb.Next() {
				mu.Lock()
				h.Record(d)
				mu.Unlock()
				d += 997
			}
		})
	})
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	defer cpuPerOp(b)()
	h := NewHistogram()
	d := time.Millisecond
	for b.Loop() {
		h.Record(d)
		d += 997
	}
}

func BenchmarkLatencyRecorderSnapshotAndReset(b *testing.B) {
	b.ReportAllocs()
	defer cpuPerOp(b)()
	r := NewLatencyRecorder()
	for i := range 10000 {
		r.Record(time.Duration(i) * time.Microsecond)
	}
	for b.Loop() {
		r.SnapshotAndReset()
		r.Record(time.Millisecond)
	}
}

func BenchmarkRuntimeCollectorCollect(b *testing.B) {
	rc := NewRuntimeCollector()
	b.Run("Collect", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for i := 0; b.Loop(); i++ {
			rc.Collect(t0.Add(time.Duration(i) * time.Second))
		}
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		var buf []Sample
		for i := 0; b.Loop(); i++ {
			buf = rc.Append(buf[:0], t0.Add(time.Duration(i)*time.Second))
		}
	})
}

func BenchmarkExporterCollect(b *testing.B) {
	b.ReportAllocs()
	defer cpuPerOp(b)()
	samples := exporterSamples()
	e := NewExporter("perfengine", func() []Sample { return samples })
	ch := make(chan prometheusMetric, len(samples))
	for b.Loop() {
		collectInto(e, ch)
	}
}

func BenchmarkSetObserve(b *testing.B) {
	rc := NewRuntimeCollector()
	samples := rc.Collect(t0)
	samples = append(samples, Sample{Name: ResponseTimeMs, Value: 12, Unit: UnitMilliseconds,
		Labels: map[string]string{"route": "GET /api/products"}, Time: t0})
	set := NewSet(1024)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for i := 0; b.Loop(); i++ {
		for j := range samples {
			samples[j].Time = t0.Add(time.Duration(i) * time.Second)
		}
		set.Observe(samples...)
	}
	b.ReportMetric(float64(len(samples)), "samples/op")
}

func BenchmarkLatencyRecorderMoveTo(b *testing.B) {
	r := NewLatencyRecorder()
	for i := range 10000 {
		r.Record(time.Duration(i) * time.Microsecond)
	}
	dst := NewHistogram()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		dst.Reset()
		r.MoveTo(dst)
		r.Record(time.Millisecond)
	}
}
