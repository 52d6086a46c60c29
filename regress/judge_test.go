package regress

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func normals(seed uint64, n int, mu, sd float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]float64, n)
	for i := range out {
		out[i] = mu + sd*rng.NormFloat64()
	}
	return out
}

func TestCompareVerdicts(t *testing.T) {
	base := normals(1, 30, 100, 5)
	tests := []struct {
		name   string
		metric string
		cand   []float64
		sens   Sensitivity
		want   Change
	}{
		{"latency up 20%", "response_time_ms", normals(2, 30, 120, 5), Moderate, Regression},
		{"latency down 20%", "response_time_ms", normals(3, 30, 80, 5), Moderate, Improvement},
		{"same", "response_time_ms", normals(4, 30, 100, 5), Moderate, Unchanged},
		// +3%: significant with 200 values, but below moderate's 5% minimum
		// effect; aggressive's 2% counts it.
		{"small moderate", "response_time_ms", normals(5, 200, 103, 2), Moderate, Unchanged},
		{"small aggressive", "response_time_ms", normals(5, 200, 103, 2), Aggressive, Regression},
		{"throughput down", "throughput_rps", normals(6, 30, 80, 5), Moderate, Regression},
		{"too few", "response_time_ms", []float64{1, 2}, Moderate, NoData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			if tc.name == "small moderate" || tc.name == "small aggressive" {
				b = normals(7, 200, 100, 2)
			}
			c, err := Compare(tc.metric, b, tc.cand, CompareOptions{Sensitivity: tc.sens})
			if err != nil {
				t.Fatal(err)
			}
			if c.Change != tc.want {
				t.Errorf("Compare(%s) = %s (Δ%.1f%% p=%.3g), want %s", tc.name, c.Change, c.DeltaPct, c.P, tc.want)
			}
		})
	}
	if _, err := Compare("x", base, base, CompareOptions{Sensitivity: "wild"}); err == nil {
		t.Error("Compare(sensitivity wild) succeeded")
	}
}

func TestJudge(t *testing.T) {
	base := map[string][]float64{
		"response_time_ms": normals(1, 30, 100, 5),
		"throughput_rps":   normals(2, 30, 500, 10),
		"error_rate":       normals(3, 30, 0.01, 0.001),
		"lcp_ms":           normals(4, 30, 1200, 50),
		"uptime_ratio":     normals(5, 30, 0.999, 0.0005),
	}
	same := map[string][]float64{}
	for k, v := range base {
		same[k] = normals(uint64(len(k)), len(v), median(v), 0.01*median(v))
	}
	slower := map[string][]float64{}
	for k, v := range same {
		slower[k] = v
	}
	slower["response_time_ms"] = normals(9, 30, 150, 5)
	tests := []struct {
		name    string
		cand    map[string][]float64
		pol     map[string]MetricPolicy
		verdict Verdict
	}{
		{"all fine", same, nil, Pass},
		// performance holds latency and throughput: one of two fails, its
		// class scores 50, the release 100 − 40·0.5 = 80.
		{"latency regressed", slower, nil, Pass},
		{"latency critical", slower, map[string]MetricPolicy{"response_time_ms": {Critical: true}}, Fail},
		{"latency heavy", slower, map[string]MetricPolicy{"response_time_ms": {Weight: 9}}, Marginal},
		{"no data", map[string][]float64{}, nil, NoDataVerdict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Judge(base, tc.cand, JudgeOptions{Policies: tc.pol})
			if err != nil {
				t.Fatal(err)
			}
			if j.Verdict != tc.verdict {
				t.Errorf("Judge(%s) = %s score %.1f %v, want %s", tc.name, j.Verdict, j.Score, j.Reasons, tc.verdict)
			}
		})
	}
	classes := map[string]Class{
		"response_time_ms": ClassPerformance, "throughput_rps": ClassPerformance,
		"error_rate": ClassStability, "memory_heap_live_bytes": ClassStability,
		"lcp_ms": ClassQuality, `web_vitals_cls{page="/"}`: ClassQuality,
		"uptime_ratio": ClassAvailability, "health_check_ok": ClassAvailability,
	}
	for m, want := range classes {
		if got := Classify(m); got != want {
			t.Errorf("Classify(%q) = %s, want %s", m, got, want)
		}
	}
}

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/report.golden")

func TestWriteReportGolden(t *testing.T) {
	base := map[string][]float64{
		"response_time_ms": normals(1, 20, 100, 5),
		"throughput_rps":   normals(2, 20, 500, 10),
		"error_rate":       {0.01, 0.02},
	}
	cand := map[string][]float64{
		"response_time_ms": normals(3, 20, 130, 5),
		"throughput_rps":   normals(4, 20, 500, 10),
		"error_rate":       {0.01, 0.02},
	}
	cs, err := CompareMetrics(base, cand, CompareOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, cs); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteReport =\n%s\nwant\n%s", buf.Bytes(), want)
	}
}
