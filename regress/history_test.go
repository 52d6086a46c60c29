package regress

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func noisyLevel(r *rand.Rand, n int, level func(i int) float64, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = level(i) + r.NormFloat64()*sd
	}
	return out
}

func step(at int, before, after float64) func(int) float64 {
	return func(i int) float64 {
		if i < at {
			return before
		}
		return after
	}
}

func TestDetectRegressions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	history := []Series{
		{Name: "response_time_p95_ms", Values: noisyLevel(r, 200, step(120, 100, 150), 5)},
		{Name: "throughput_rps", Values: noisyLevel(r, 200, step(80, 500, 400), 10)},
		{Name: "memory_rss_bytes", Values: noisyLevel(r, 200, step(150, 8e8, 6e8), 1e7)},
		{Name: "error_rate", Values: noisyLevel(r, 200, step(0, 0.01, 0.01), 0.001)},
	}
	got, err := DetectRegressions(history, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		change Change
		class  Class
		at     int
		delta  float64
	}{
		"response_time_p95_ms": {Regression, ClassPerformance, 120, 50},
		"throughput_rps":       {Regression, ClassPerformance, 80, -20},
		"memory_rss_bytes":     {Improvement, ClassStability, 150, -25},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes %+v, want %d", len(got), got, len(want))
	}
	for _, g := range got {
		w, ok := want[g.Metric]
		if !ok {
			t.Errorf("unexpected change in %s: %+v", g.Metric, g)
			continue
		}
		if g.Change != w.change || g.Class != w.class || abs(g.ChangePoint.Index-w.at) > 3 || math.Abs(g.DeltaPct-w.delta) > 5 {
			t.Errorf("%s: %s %s at %d, %+.1f%%; want %s %s at %d, %+.0f%%", g.Metric, g.Change, g.Class, g.ChangePoint.Index, g.DeltaPct, w.change, w.class, w.at, w.delta)
		}
		if g.Confidence < 0.99 || g.Ratio.Lo > g.Ratio.Estimate || g.Ratio.Hi < g.Ratio.Estimate {
			t.Errorf("%s: confidence %.4f, ratio %+v: want a confident change with its interval", g.Metric, g.Confidence, g.Ratio)
		}
	}
}

// TestDetectRegressionsNoFalseAlarms runs histories without any change,
// seeds kept apart from the test above.
func TestDetectRegressionsNoFalseAlarms(t *testing.T) {
	alarms := 0
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(1000+seed, 7))
		var h []Series
		for m := range 10 {
			h = append(h, Series{Name: "latency_ms_" + string(rune('a'+m)), Values: noisyLevel(r, 150, step(0, 100, 100), 8)})
		}
		got, err := DetectRegressions(h, HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		alarms += len(got)
	}
	t.Logf("%d false alarms in 200 unchanged metrics", alarms)
	if alarms > 1 {
		t.Errorf("%d false alarms in 20 histories of 10 unchanged metrics, want at most 1", alarms)
	}
}

func TestReadHistory(t *testing.T) {
	tests := []struct {
		name, in string
		metrics  []string
		n        int
		wantErr  string
	}{
		{"csv with time", "time,latency_ms,error_rate\n2026-01-01T00:00:00Z,10,0.1\n2026-01-01T00:01:00Z,,0.2\n", []string{"latency_ms", "error_rate"}, 2, ""},
		{"csv without time", "\xEF\xBB\xBFa,b,c\n1,2,3\n4,5,6\n7,8,9\n", []string{"a", "b", "c"}, 3, ""},
		{"json", `{"b": [1, null, 3], "a": [4, 5, 6]}`, []string{"a", "b"}, 3, ""},
		{"no header", "1,2\n3,4\n", nil, 0, "header row"},
		{"ragged", "a,b\n1\n", nil, 0, "line 2 has 1 fields"},
		{"duplicate", "a,a\n1,2\n", nil, 0, "twice"},
		{"infinite", "a,b\n1,Inf\n", nil, 0, "infinite"},
		{"json array", `[1,2,3]`, nil, 0, "header"},
		{"empty", "  \n", nil, 0, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ReadHistory(strings.NewReader(tc.in), ReadOptions{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range h {
				names = append(names, s.Name)
				if len(s.Values) != tc.n {
					t.Errorf("%s has %d values, want %d", s.Name, len(s.Values), tc.n)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.metrics, ",") {
				t.Errorf("metrics %v, want %v", names, tc.metrics)
			}
		})
	}
	if _, err := ReadHistory(strings.NewReader("a,b\n1,2\n3,4\n"), ReadOptions{MaxPoints: 3}); err == nil {
		t.Error("4 values read under a bound of 3")
	}
	if !IsHistory([]byte("time,a,b\n1,2,3")) || IsHistory([]byte("time,value\n1,2")) || IsHistory([]byte("1\n2\n")) || !IsHistory([]byte(`{"a":[1]}`)) {
		t.Error("IsHistory tells files apart wrongly")
	}
}

func FuzzReadHistory(f *testing.F) {
	for _, s := range []string{"time,a,b\n1,2,3\n", `{"a":[1,null]}`, "a\n1\n", "\xEF\xBB\xBF{", "a,b\n\"1,2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHistory(strings.NewReader(string(data)), ReadOptions{MaxPoints: 10_000})
		if err != nil {
			return
		}
		for _, s := range h {
			if s.Name == "" {
				t.Fatal("a series without a name")
			}
		}
		_, _ = DetectRegressions(h, HistoryOptions{})
		_ = IsHistory(data)
	})
}
