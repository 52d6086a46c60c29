package loadtest

// Run with: go test -run '^$' -bench . -benchtime 1s ./loadtest/

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func BenchmarkShardRecord(b *testing.B) {
	s := newShard(int64((2*time.Minute)/time.Microsecond), true)
	o := outcome{corrected: 1500 * time.Microsecond, actual: 900 * time.Microsecond, status: 200, in: 300, out: 80}
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		o.done = time.Duration(i) * 10 * time.Microsecond
		s.record(o)
	}
}

func BenchmarkScheduleAt(b *testing.B) {
	s := newSchedule(Plan{Stages: []Stage{{Duration: time.Minute, Target: 50000}, {Duration: time.Minute, Target: 50000}}})
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i = (i + 7919) % 4_000_000
		if _, ok := s.at(i); !ok {
			b.Fatal("schedule ended early")
		}
	}
}

// BenchmarkRunClosed is the whole client path against a loopback server in
// the same process; the server's own cost dominates, so compare runs of
// this benchmark with each other, not with wrk (see bench/load for that).
func BenchmarkRunClosed(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	for _, engine := range closedEngines() {
		b.Run(string(engine), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Plan{Targets: []Target{{URL: srv.URL}}, Concurrency: 8, MaxRequests: int64(b.N), Duration: time.Hour, Engine: engine})
			if err != nil {
				b.Fatal(err)
			}
			if res.Requests != int64(b.N) {
				b.Fatalf("requests = %d, want %d", res.Requests, b.N)
			}
			b.ReportMetric(res.Throughput(), "req/s")
		})
	}
}
