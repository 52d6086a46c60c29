package dashboard

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFormatGolden pins how the page renders figures; static/app.js follows
// the same rules, so a change here needs one there.
func TestFormatGolden(t *testing.T) {
	cases := []struct {
		key string
		v   float64
	}{
		{"cpu_percent", 12.345},
		{"memory_usage_ratio", 0.0123},
		{"memory_heap_inuse_bytes", 5 << 20},
		{"memory_rss_bytes", 1023},
		{`http_latency_p95_ms{route="GET /api/products"}`, 41.06},
		{"response_time_ms", 250},
		{"throughput_rps", 7.25},
		{"error_rate", 0.05},
		{"gc_cpu_fraction", 0.001},
		{"goroutines", 17},
		{"open_fds", 123456789},
	}
	var b strings.Builder
	for _, c := range cases {
		f := metricFormat(c.key)
		fmt.Fprintf(&b, "%s %g -> %s: %s\n", c.key, c.v, f, formatMetric(f, c.v))
	}
	golden := filepath.Join("testdata", "format.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("formats changed:\n%s\nwant:\n%s", b.String(), want)
	}
}
