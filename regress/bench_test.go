package regress

// Run the benchmarks with
//
//	go test ./regress -run '^$' -bench . -benchtime 3x -benchmem
//
// (the online ones want more iterations: -bench Online -benchtime 1000000x).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// stepSeries is n points of unit noise with a level change every `every`.
func stepSeries(n, every int) []float64 {
	rng := rand.New(rand.NewPCG(42, 43))
	out := make([]float64, n)
	level := 0.0
	for i := range out {
		if every > 0 && i > 0 && i%every == 0 {
			level += 2 + rng.Float64()*2
		}
		out[i] = 100 + level + rng.NormFloat64()
	}
	return out
}

func benchDetect(b *testing.B, o DetectOptions, y []float64) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Detect(y, o); err != nil {
			b.Fatal(err)
		}
	}
}

// PELT costs O(n·L) for segments of length L, so it is measured on
// segments of 200 and 2000 points; a 100k series without any change costs
// it O(n²), which is why Detect hands series longer than PELTMaxPoints to
// binary segmentation.
func BenchmarkDetect100k(b *testing.B) {
	steps200 := stepSeries(100_000, 200)
	steps2000 := stepSeries(100_000, 2000)
	flat := stepSeries(100_000, 0)
	binseg := DefaultDetectOptions()
	binseg.Method = MethodBinSeg
	b.Run("pelt/steps200", func(b *testing.B) { benchPELT(b, steps200) })
	b.Run("pelt/steps2000", func(b *testing.B) { benchPELT(b, steps2000) })
	b.Run("binseg/steps200", func(b *testing.B) { benchDetect(b, binseg, steps200) })
	b.Run("binseg/steps2000", func(b *testing.B) { benchDetect(b, binseg, steps2000) })
	b.Run("binseg/flat", func(b *testing.B) { benchDetect(b, binseg, flat) })
	b.Run("default/steps2000", func(b *testing.B) { benchDetect(b, DefaultDetectOptions(), steps2000) })
	b.Run("default/flat", func(b *testing.B) { benchDetect(b, DefaultDetectOptions(), flat) })
}

// BenchmarkDetectGrowth is issue 17's growth check of the default
// detector: 1k, 10k and 100k points, without changes (where PELT's pruning
// fails and its work grows with n²) and with a step every 500 points, on
// either side of the PELTMaxPoints hand-over to binary segmentation; ns/pt
// is the time per point, flat for a linear cost. Flat series before the
// segment bound: 10k points 3.45 s, 20k 12.5 s (quadratic); with it, and
// the switch at PELTMaxPoints, no size costs more than half a second.
//
//	go test -run '^$' -bench DetectGrowth -benchmem ./regress
func BenchmarkDetectGrowth(b *testing.B) {
	for _, n := range []int{1_000, PELTMaxPoints, PELTMaxPoints + 1, 10_000, 100_000} {
		for _, every := range []int{0, 500} {
			y := stepSeries(n, every)
			b.Run(fmt.Sprintf("n=%d/steps_every=%d", n, every), func(b *testing.B) {
				benchDetect(b, DefaultDetectOptions(), y)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pt")
			})
		}
	}
}

// benchPELT runs the exact search on the whole series, past the
// PELTMaxPoints hand-over, with the default cost and penalty.
func benchPELT(b *testing.B, y []float64) {
	o := DefaultDetectOptions()
	b.ReportAllocs()
	for b.Loop() {
		sigma, med := noiseScale(y), median(y)
		z := make([]float64, len(y))
		for i, v := range y {
			z[i] = (v - med) / sigma
		}
		c := newSegCost(despike(z, o.Despike), o.Cost, 1e-2)
		if cps := pelt(c, len(z), o.MinSegment, o.Penalty*o.Cost.params()*math.Log(float64(len(z)))); len(cps) == 0 {
			b.Fatal("no change points")
		}
	}
}

func BenchmarkEDivisive10k(b *testing.B) {
	y := stepSeries(10_000, 500)
	benchDetect(b, DetectOptions{Method: MethodEDivisive}, y)
}

func BenchmarkOnlineAdd(b *testing.B) {
	y := stepSeries(1<<16, 5000)
	d := NewOnline(OnlineOptions{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Add(y[i&(len(y)-1)])
		i++
	}
}
