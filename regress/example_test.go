package regress_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/perfengine/perfengine/regress"
)

func latencies(seed uint64, n int, ms float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([]float64, n)
	for i := range out {
		out[i] = ms * (1 + 0.05*rng.NormFloat64())
	}
	return out
}

func ExampleCompare() {
	base := latencies(1, 30, 100)
	cand := latencies(2, 30, 125)
	c, err := regress.Compare("response_time_ms", base, cand, regress.CompareOptions{Sensitivity: regress.Moderate})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %+.0f%%, significant %v\n", c.Change, c.DeltaPct, c.Significant)
	// Output: regression: +24%, significant true
}

func ExampleWriteReport() {
	base := map[string][]float64{"response_time_ms": latencies(1, 20, 100), "throughput_rps": latencies(2, 20, 500)}
	cand := map[string][]float64{"response_time_ms": latencies(3, 20, 100), "throughput_rps": latencies(4, 20, 400)}
	cs, _ := regress.CompareMetrics(base, cand, regress.CompareOptions{})
	regress.WriteReport(os.Stdout, cs) //nolint:errcheck
	// Output:
	// metric            baseline    candidate   vs base
	// response_time_ms  99.29 ± 3%  99.54 ± 3%  ~ (p=0.883 n=20+20)
	// throughput_rps    501 ± 4%    406.1 ± 5%  -18.94% (p=0.000 n=20+20) regression
}

func ExampleJudge() {
	base := map[string][]float64{"response_time_ms": latencies(1, 30, 100), "error_rate": latencies(2, 30, 0.01)}
	cand := map[string][]float64{"response_time_ms": latencies(3, 30, 150), "error_rate": latencies(4, 30, 0.01)}
	j, _ := regress.Judge(base, cand, regress.JudgeOptions{
		Policies: map[string]regress.MetricPolicy{"response_time_ms": {Critical: true}},
	})
	fmt.Println(j.Verdict, j.Score)
	// Output: fail 0
}

func ExampleDetect() {
	y := append(latencies(1, 100, 100), latencies(2, 100, 140)...)
	cps, err := regress.Detect(y, regress.DefaultDetectOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, cp := range cps {
		fmt.Printf("index %d: %.0f → %.0f ms (%+.0f%%)\n", cp.Index, cp.MeanBefore, cp.MeanAfter, cp.ChangePct)
	}
	// Output: index 100: 100 → 140 ms (+40%)
}

func ExampleReadSeries() {
	s, err := regress.ReadSeries(strings.NewReader("time,value\n10:00,12.5\n10:01,\n10:02,13\n"), regress.ReadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Times, s.Values)
	// Output: [10:00 10:01 10:02] [12.5 NaN 13]
}

func ExampleOnline() {
	d := regress.NewOnline(regress.OnlineOptions{})
	for i, v := range append(latencies(1, 50, 100), latencies(2, 50, 200)...) {
		if a, ok := d.Add(v); ok {
			fmt.Printf("change confirmed at %d, started at %d: %.0f → %.0f\n", i, a.Start, a.MeanBefore, a.MeanAfter)
		}
	}
	// Output: change confirmed at 52, started at 50: 98 → 200
}

func ExampleRollbacker_TriggerManualRollback() {
	// Without an actuator every rollback is a dry run, recorded but not done.
	r := regress.NewRollbacker(regress.RollbackOptions{})
	rec, err := r.TriggerManualRollback(context.Background(), "p95 latency +40%", "v1.3.0", "v1.2.9")
	fmt.Println(rec.Outcome, rec.From, "→", rec.To, err)
	// Output: dry_run v1.3.0 → v1.2.9 <nil>
}

func ExampleNewDetector() {
	d, err := regress.NewDetector(regress.Options{Judge: regress.JudgeOptions{CompareOptions: regress.CompareOptions{Sensitivity: regress.Conservative}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var alarms int
	for _, v := range append(latencies(1, 40, 100), latencies(2, 40, 180)...) {
		if _, ok := d.Observe("response_time_ms", v); ok {
			alarms++
		}
	}
	fmt.Println("alarms:", alarms)
	// Output: alarms: 1
}

// A history of two metrics: latency steps up by half at point 60, the
// error rate does not move.
func ExampleDetectRegressions() {
	latency, errs := make([]float64, 120), make([]float64, 120)
	for i := range latency {
		wiggle := float64(i%5) - 2
		latency[i] = 100 + wiggle
		if i >= 60 {
			latency[i] = 150 + wiggle
		}
		errs[i] = 0.01 + wiggle/1000
	}
	changes, err := regress.DetectRegressions([]regress.Series{
		{Name: "latency_ms", Values: latency},
		{Name: "error_rate", Values: errs},
	}, regress.HistoryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range changes {
		fmt.Printf("%s: %s (%s) at %d, %+.0f%%\n", c.Metric, c.Change, c.Class, c.ChangePoint.Index, c.DeltaPct)
	}
	// Output: latency_ms: regression (performance) at 60, +50%
}
