package metrics

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func exporterSamples() []Sample {
	now := time.Unix(1700000000, 0)
	return []Sample{
		{Name: CPUPercent, Value: 12.5, Unit: UnitPercent, Time: now},
		{Name: GCPauseP99Ms, Value: 1.5, Unit: UnitMilliseconds, Time: now},
		{Name: ResponseTimeMs, Value: 250, Unit: UnitMilliseconds, Time: now,
			Labels: map[string]string{"route": "GET /api/products/{id}"}},
		{Name: ResponseTimeMs, Value: 20, Unit: UnitMilliseconds, Time: now,
			Labels: map[string]string{"route": "GET /api/me"}},
		{Name: MemoryUsageRatio, Value: 0.25, Unit: UnitRatio, Time: now},
		{Name: GCCPUFraction, Value: 0.01, Unit: UnitRatio, Time: now},
		{Name: RSSBytes, Value: 1 << 20, Unit: UnitBytes, Time: now},
		{Name: "cache_hits", Value: 42, Unit: UnitTotal, Time: now},
		{Name: "query_time", Value: 0.5, Unit: UnitSeconds, Time: now},
		{Name: Goroutines, Value: 9, Unit: UnitCount, Time: now},
		{Name: ThroughputRPS, Value: 120, Unit: UnitPerSecond, Time: now},
		{Name: "db.pool-size", Value: 10, Time: now, Labels: map[string]string{"db.name": "main", "__x": "y"}},
		{Name: "bad_utf8", Value: 1, Time: now, Labels: map[string]string{"k": "a\xffb"}},
	}
}

func TestExporterGolden(t *testing.T) {
	e := NewExporter("perfengine", exporterSamples)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	got, err := exposition(reg)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "exporter.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("exposition differs from %s (run with -update to accept):\n%s", golden, got)
	}
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(want)); err != nil {
		t.Errorf("GatherAndCompare: %v", err)
	}
	if e.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0", e.Dropped())
	}
}

// exposition renders everything reg gathers in the text format.
// testutil.GatherAndFormat cannot: given no metric names it filters every
// family out.
func exposition(reg prometheus.Gatherer) ([]byte, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func TestExporterLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewExporter("perfengine", exporterSamples))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestExporterRuntime(t *testing.T) {
	rc := NewRuntimeCollector()
	e := NewExporter("perfengine", func() []Sample { return rc.Collect(time.Now()) })
	problems, err := testutil.CollectAndLint(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(e, "perfengine_goroutines"); n != 1 {
		t.Errorf("perfengine_goroutines series = %d, want 1", n)
	}
}

func TestExporterToFloat64(t *testing.T) {
	tests := []struct {
		name string
		s    Sample
		want float64
	}{
		{"milliseconds become seconds", Sample{Name: ResponseTimeMs, Value: 250, Unit: UnitMilliseconds}, 0.25},
		{"percent stays", Sample{Name: CPUPercent, Value: 12.5, Unit: UnitPercent}, 12.5},
		{"counter", Sample{Name: "requests", Value: 7, Unit: UnitTotal}, 7},
		{"seconds stay", Sample{Name: "x", Value: 3, Unit: UnitSeconds}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewExporter("perfengine", func() []Sample { return []Sample{tc.s} })
			if got := testutil.ToFloat64(e); got != tc.want {
				t.Errorf("ToFloat64() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExporterDrops(t *testing.T) {
	samples := []Sample{
		{Name: "x", Value: 1},
		{Name: "x", Value: 2},                  // same series twice
		{Name: "x", Value: 3, Unit: UnitTotal}, // x_total: fine
		{Name: "y_total", Value: 1},            // gauge named like a counter...
		{Name: "y", Value: 1, Unit: UnitTotal}, // ...then a counter of the same name
		{Name: "", Value: 1},                   // no name
		{Name: "...", Value: 1},                // nothing usable
		{Name: "z", Value: 1, Labels: map[string]string{"a-b": "1", "a_b": "2"}}, // labels collide
	}
	e := NewExporter("", func() []Sample { return samples })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if want := []string{"x", "x_total", "y_total"}; !equalStrings(names, want) {
		t.Errorf("exported %q, want %q", names, want)
	}
	if e.Dropped() != 5 {
		t.Errorf("Dropped() = %d, want 5", e.Dropped())
	}
	if testutil.CollectAndCount(NewExporter("p", nil)) != 0 {
		t.Error("a nil source exported something")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPrometheusName(t *testing.T) {
	tests := []struct {
		name string
		unit Unit
		want string
	}{
		{"gc_pause_p99_ms", UnitMilliseconds, "perfengine_gc_pause_p99_seconds"},
		{"latency_milliseconds", UnitMilliseconds, "perfengine_latency_seconds"},
		{"ms", UnitMilliseconds, "perfengine_ms_seconds"},
		{"wait_s", UnitSeconds, "perfengine_wait_seconds"},
		{"wait_seconds", UnitSeconds, "perfengine_wait_seconds"},
		{"cpu_percent", UnitPercent, "perfengine_cpu_percent"},
		{"cpu", UnitPercent, "perfengine_cpu_percent"},
		{"heap", UnitBytes, "perfengine_heap_bytes"},
		{"hits", UnitTotal, "perfengine_hits_total"},
		{"9lives", UnitCount, "perfengine__9lives"},
		{"a.b-c d", "", "perfengine_a_b_c_d"},
		{"é", "", ""},
		{"", UnitBytes, ""},
	}
	for _, tc := range tests {
		got, _, _ := PrometheusName("perfengine", tc.name, tc.unit, 1)
		if got != tc.want {
			t.Errorf("PrometheusName(%q, %q) = %q, want %q", tc.name, tc.unit, got, tc.want)
		}
	}
}

func FuzzPrometheusName(f *testing.F) {
	for _, s := range exporterSamples() {
		f.Add(s.Name, string(s.Unit), "route", "GET /x")
	}
	f.Add("9\x00é", "ms", "__name__", "\xff")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, name, unit, label, value string) {
		got, v, _ := PrometheusName("perfengine", name, Unit(unit), 1000)
		if got != "" && !model.LegacyValidation.IsValidMetricName(got) {
			t.Errorf("PrometheusName(%q) = %q, not a valid metric name", name, got)
		}
		if math.IsNaN(v) {
			t.Errorf("PrometheusName(%q) value NaN", name)
		}
		e := NewExporter("perfengine", func() []Sample {
			return []Sample{{Name: name, Unit: Unit(unit), Value: 1, Labels: map[string]string{label: value}}}
		})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(e)
		if _, err := reg.Gather(); err != nil {
			t.Errorf("Gather with name %q label %q=%q: %v", name, label, value, err)
		}
	})
}

type prometheusMetric = prometheus.Metric

func collectInto(e *Exporter, ch chan prometheus.Metric) {
	e.Collect(ch)
	for len(ch) > 0 {
		<-ch
	}
}
