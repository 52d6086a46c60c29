package loadtest

import (
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		expr    string
		want    Threshold
		wantErr string
	}{
		{expr: "p99<200ms", want: Threshold{Metric: "p99", Op: "<", Value: 200}},
		{expr: " P95 <= 1.5s ", want: Threshold{Metric: "p95", Op: "<=", Value: 1500}},
		{expr: "mean<12", want: Threshold{Metric: "mean", Op: "<", Value: 12}},
		{expr: "errors<1%", want: Threshold{Metric: "errors", Op: "<", Value: 0.01}},
		{expr: "errors<=0.05", want: Threshold{Metric: "errors", Op: "<=", Value: 0.05}},
		{expr: "rps>=1000", want: Threshold{Metric: "rps", Op: ">=", Value: 1000}},
		{expr: "dropped<1", want: Threshold{Metric: "dropped", Op: "<", Value: 1}},
		{expr: "p99", wantErr: "want METRIC<VALUE"},
		{expr: "<5", wantErr: "want METRIC<VALUE"},
		{expr: "p42<5ms", wantErr: "unknown metric \"p42\""},
		{expr: "p99<", wantErr: "missing value"},
		{expr: "p99<fast", wantErr: "not a duration"},
		{expr: "errors<150%", wantErr: "between 0% and 100%"},
		{expr: "rps>NaN", wantErr: "non-negative finite"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := ParseThreshold(tc.expr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseThreshold(%q) error = %v, want %q", tc.expr, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Expr = ""
			if got != tc.want {
				t.Errorf("ParseThreshold(%q) = %+v, want %+v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestCheckAll(t *testing.T) {
	r := &Result{Requests: 1000, OK: 985, Duration: 10, Dropped: 2, Latency: Latency{P50: 5, P99: 180, Max: 400}}
	tests := []struct {
		expr   string
		pass   bool
		actual float64
	}{
		{"p99<200ms", true, 180},
		{"p99<150", false, 180},
		{"max<=400ms", true, 400},
		{"errors<1%", false, 0.015},
		{"errors<2%", true, 0.015},
		{"rps>=100", true, 100},
		{"rps>100", false, 100},
		{"dropped<1", false, 2},
	}
	var ts []Threshold
	for _, tc := range tests {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	results, ok := CheckAll(r, ts)
	if ok {
		t.Error("CheckAll() ok = true, want false")
	}
	for i, tc := range tests {
		if results[i].Pass != tc.pass || abs(results[i].Actual-tc.actual) > 1e-9 {
			t.Errorf("%s: pass %v actual %v, want %v %v", tc.expr, results[i].Pass, results[i].Actual, tc.pass, tc.actual)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p99<200ms", "errors<1%", "rps>=1000", "p999<=1.5s", "dropped<1", "x>", "<<", "errors<1e309%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			return
		}
		if th.Value < 0 || th.Value != th.Value {
			t.Fatalf("ParseThreshold(%q) = %+v: invalid value accepted", s, th)
		}
		_ = th.Check(&Result{})
	})
}
