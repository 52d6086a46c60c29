package querytrace

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Growth of the Recorder with the number of distinct statements (issue 17):
// the heap each statement holds (its histogram, key and map slot, after
// 200 executions spread over 0.2..20 ms) and the time of one Record, at
// 100, 1000 and 10k statements. The hdr sub-benchmark keeps the HDR
// histogram (1 µs..1 h, 2 digits) the Recorder used before, side by side.
//
//	go test -run '^$' -bench Growth -benchmem ./dbopt/querytrace
func BenchmarkRecorderGrowth(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		queries := make([]string, n)
		for i := range queries {
			queries[i] = fmt.Sprintf("SELECT id, name FROM items_%d WHERE owner = $1", i)
		}
		lat := make([]time.Duration, 4096)
		rng := rand.New(rand.NewPCG(1, 1))
		for i := range lat {
			lat[i] = 200*time.Microsecond + time.Duration(rng.Int64N(int64(20*time.Millisecond)))
		}
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			var r *Recorder
			perStatement := heapGrowth(func() {
				r = NewRecorder(n)
				for i, q := range queries {
					for j := range 200 {
						r.Record(q, lat[(i*200+j)%len(lat)], nil, nil)
					}
				}
			}) / float64(n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Record(queries[i%n], lat[i%len(lat)], nil, nil)
				i++
			}
			b.ReportMetric(perStatement, "B/statement")
			runtime.KeepAlive(r)
		})
		b.Run(fmt.Sprintf("statements=%d/hdr", n), func(b *testing.B) {
			var m map[string]*hdrhistogram.Histogram
			perStatement := heapGrowth(func() {
				m = make(map[string]*hdrhistogram.Histogram)
				for i, q := range queries {
					h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)
					for j := range 200 {
						_ = h.RecordValue(lat[(i*200+j)%len(lat)].Microseconds())
					}
					m[q] = h
				}
			}) / float64(n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = m[queries[i%n]].RecordValue(lat[i%len(lat)].Microseconds())
				i++
			}
			b.ReportMetric(perStatement, "B/statement")
			runtime.KeepAlive(m)
		})
	}
}

// heapGrowth is the live heap fill leaves behind, in bytes.
func heapGrowth(fill func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

// TestRecorderMemoryBounded proves the bound the growth benchmark shows:
// DefaultMaxStatements statements, each with executions from 1 µs to 10 s,
// plus as many statements again past the limit, keep under 2 KB a
// statement, keys included.
func TestRecorderMemoryBounded(t *testing.T) {
	var r *Recorder
	perStatement := heapGrowth(func() {
		r = NewRecorder(0)
		for i := range 2 * DefaultMaxStatements {
			q := fmt.Sprintf("SELECT * FROM t WHERE id = %d", i) // inlined literals
			for _, d := range []time.Duration{time.Microsecond, time.Millisecond, time.Second, 10 * time.Second} {
				r.Record(q, d, nil, nil)
			}
		}
	}) / DefaultMaxStatements
	if got := len(r.Snapshot()); got != DefaultMaxStatements+1 {
		t.Errorf("%d statements kept, want %d and the overflow entry", got, DefaultMaxStatements+1)
	}
	if perStatement > 2048 {
		t.Errorf("%.0f bytes a statement, want under 2048", perStatement)
	}
	t.Logf("%.0f bytes a statement", perStatement)
}
