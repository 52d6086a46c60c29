package loadtest

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/regress"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// The fixtures are results of real runs against a local test server, with
// the start time fixed so the output is stable.
func loadResult(t *testing.T) *Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "result_open.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func loadStress(t *testing.T) *StressResult {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stress.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Stress StressResult `json:"stress"`
		Steps  []struct {
			Result *Result `json:"result"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for i := range f.Stress.Steps {
		f.Stress.Steps[i].Result = f.Steps[i].Result
	}
	return &f.Stress
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file; got:\n%s", name, got)
	}
}

func TestGoldenOutputs(t *testing.T) {
	open := loadResult(t)
	closed := *open
	closed.Model, closed.RateTarget, closed.RateAchieved, closed.Late, closed.Dropped = "closed", 0, 0, 0, 0
	closed.LatencyUncorrected, closed.DistributionUncorrected = closed.Latency, closed.Distribution
	closed.Errors = map[string]int64{"timeout": 3, "connection_reset": 1}
	closed.Aborted = true

	sr := loadStress(t)
	// Synthetic verdicts on the real steps, to exercise the knee and
	// breaking-point rendering.
	sr.Knee, sr.BreakingPoint = 2, 3
	sr.Steps[3].Broken, sr.Steps[3].MeetsSLO = true, false

	gen := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		render func(io.Writer) error
	}{
		{"open.txt", open.WriteText},
		{"closed.txt", closed.WriteText},
		{"open.json", open.WriteJSON},
		{"stress.txt", sr.WriteText},
		{"open.html", func(b io.Writer) error { return Report{Generated: gen, Load: open}.WriteHTML(b) }},
		{"stress.html", func(b io.Writer) error {
			return Report{Title: "checkout stress", Generated: gen, Stress: sr}.WriteHTML(b)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestSummaryShape pins the keys of `load --json`, which other tools read.
func TestSummaryShape(t *testing.T) {
	for _, model := range []string{"open", "closed"} {
		r := loadResult(t)
		r.Model = model
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"requests", "duration_s", "throughput_rps", "rate_target_rps", "success_ratio", "latency_ms", "latency_uncorrected_ms", "status_codes", "errors"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: key %q missing", model, k)
			}
		}
		lat := m["latency_ms"].(map[string]any)
		keys := make([]string, 0, len(lat))
		for k := range lat {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if strings.Join(keys, ",") != "max,p50,p90,p99" {
			t.Errorf("latency_ms keys = %v, want max,p50,p90,p99", keys)
		}
		if (m["rate_target_rps"] == nil) != (model == "closed") {
			t.Errorf("%s: rate_target_rps = %v, want null only for closed", model, m["rate_target_rps"])
		}
		if m["status_codes"].(map[string]any)["200"] == nil {
			t.Errorf("status_codes = %v, want string keys", m["status_codes"])
		}
	}
}

// TestBaselineReadableByRegress checks the baseline file against the reader
// of `regress compare`.
func TestBaselineReadableByRegress(t *testing.T) {
	r := loadResult(t)
	var b bytes.Buffer
	if err := r.WriteBaseline(&b); err != nil {
		t.Fatal(err)
	}
	s, err := regress.ReadSeries(&b, regress.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 5 || s.Values[0] != r.Series[0].P99 {
		t.Errorf("baseline = %v, want the 5 full seconds' p99 starting %v", s.Values, r.Series[0].P99)
	}
	if err := (&Result{Duration: 0.5}).WriteBaseline(&b); err == nil {
		t.Error("WriteBaseline() of a half-second run = nil error, want one")
	}
}

func TestSamples(t *testing.T) {
	r := loadResult(t)
	at := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	got := map[string]float64{}
	for _, s := range r.Samples(at) {
		if s.Labels["source"] != "loadtest" || !s.Time.Equal(at) {
			t.Errorf("sample %+v: want source=loadtest at %v", s, at)
		}
		got[s.Name] = s.Value
	}
	want := map[string]float64{"response_time_ms": r.Latency.P95, "throughput_rps": r.Throughput(), "error_rate": r.ErrorRatio(), "loadtest_dropped": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Samples()[%s] = %v, want %v", k, got[k], v)
		}
	}
}
