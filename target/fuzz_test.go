package target

import (
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// FuzzExposition feeds arbitrary bytes to the parser and the derivation in
// both formats: a target's answer must never panic the daemon.
func FuzzExposition(f *testing.F) {
	f.Add([]byte("# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 5\nhttp_requests_total{code=\"500\"} 1\n"), false)
	f.Add([]byte("# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{le=\"0.1\"} 3\nhttp_request_duration_seconds_bucket{le=\"+Inf\"} 4\nhttp_request_duration_seconds_sum 1\nhttp_request_duration_seconds_count 4\n"), false)
	f.Add([]byte("shop_build_info{version=\"v1\"} 1\nprocess_cpu_seconds_total 3.5\n"), false)
	f.Add([]byte("\x05\n\x01a\x18\x00"), true)
	f.Fuzz(func(t *testing.T, b []byte, proto bool) {
		format := expfmt.FmtText
		if proto {
			format = expfmt.FmtProtoDelim
		}
		fams, err := decodeExposition(b, format)
		if err != nil {
			return
		}
		d := newDeriver(Series{})
		t0 := time.Unix(1_800_000_000, 0)
		d.derive(t0, fams)
		d.derive(t0.Add(time.Second), fams)
	})
}
