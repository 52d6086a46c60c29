package loadtest

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestScheduleConstant(t *testing.T) {
	s := newSchedule(Plan{Rate: 1000, Duration: 2 * time.Second})
	if s.total != 2000 {
		t.Fatalf("total = %v, want 2000", s.total)
	}
	tests := []struct {
		i    int64
		want time.Duration
		ok   bool
	}{
		{0, 0, true}, {1, time.Millisecond, true}, {1500, 1500 * time.Millisecond, true}, {1999, 1999 * time.Millisecond, true}, {2000, 0, false},
	}
	for _, tc := range tests {
		got, ok := s.at(tc.i)
		if ok != tc.ok || (ok && absDur(got-tc.want) > time.Microsecond) {
			t.Errorf("at(%d) = %v, %v, want %v, %v", tc.i, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		el   time.Duration
		want int64
	}{{-1, 0}, {0, 1}, {999 * time.Microsecond, 1}, {time.Millisecond, 2}, {time.Second, 1001}, {5 * time.Second, 2000}} {
		if got := s.due(tc.el); got != tc.want {
			t.Errorf("due(%v) = %d, want %d", tc.el, got, tc.want)
		}
	}
}

func TestScheduleRamp(t *testing.T) {
	// 0 -> 100/s over 10 s (500 starts), then 100/s for 5 s (500 starts).
	s := newSchedule(Plan{Stages: []Stage{{Duration: 10 * time.Second, Target: 100}, {Duration: 5 * time.Second, Target: 100}}})
	if s.total != 1000 {
		t.Fatalf("total = %v, want 1000", s.total)
	}
	if got := s.meanRate(); math.Abs(got-1000.0/15) > 1e-9 {
		t.Errorf("meanRate() = %v, want %v", got, 1000.0/15)
	}
	// N(t) = 5 t² on the ramp: start 125 is due at t = 5 s.
	for _, tc := range []struct {
		i    int64
		want time.Duration
	}{{0, 0}, {125, 5 * time.Second}, {500, 10 * time.Second}, {750, 12500 * time.Millisecond}} {
		got, ok := s.at(tc.i)
		if !ok || absDur(got-tc.want) > time.Microsecond {
			t.Errorf("at(%d) = %v, %v, want %v", tc.i, got, ok, tc.want)
		}
	}
	// Times increase with i and due() inverts at().
	prev := time.Duration(-1)
	for i := range int64(1000) {
		at, ok := s.at(i)
		if !ok || at < prev {
			t.Fatalf("at(%d) = %v, %v after %v", i, at, ok, prev)
		}
		prev = at
		if d := s.due(at + time.Microsecond); d < i+1 {
			t.Fatalf("due(at(%d)) = %d, want >= %d", i, d, i+1)
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestPlanValidate(t *testing.T) {
	ok := []Target{{URL: "http://127.0.0.1:1/"}}
	tests := []struct {
		name string
		plan Plan
		want []string
	}{
		{name: "valid", plan: Plan{Targets: ok, Rate: 10}},
		{name: "no targets", plan: Plan{}, want: []string{"targets: at least one"}},
		{name: "absurd rate", plan: Plan{Targets: ok, Rate: 1e12}, want: []string{"rate 1e+12: must be 0..10000000"}},
		{name: "nan rate", plan: Plan{Targets: ok, Rate: math.NaN()}, want: []string{"rate NaN"}},
		{name: "everything wrong", plan: Plan{Targets: []Target{{URL: "gopher://x"}}, Concurrency: -1, Duration: 48 * time.Hour, Protocol: "spdy", Selection: "random"},
			want: []string{"targets[0]: url", "concurrency -1", "duration 48h0m0s", "protocol \"spdy\"", "selection \"random\""}},
		{name: "h1 needs http", plan: Plan{Targets: []Target{{URL: "https://h/"}}, Protocol: HTTP1}, want: []string{"needs an http:// url"}},
		{name: "event loop, closed model", plan: Plan{Targets: ok, Engine: EngineEventLoop}},
		{name: "event loop misused", plan: Plan{Targets: []Target{{URL: "https://h/"}}, Rate: 5, Protocol: NetHTTP, Engine: EngineEventLoop},
			want: []string{"closed model only", "lean HTTP/1.1 client only", "targets[0]: engine eventloop needs an http:// url"}},
		{name: "unknown engine", plan: Plan{Targets: ok, Engine: "io_uring"}, want: []string{`engine "io_uring": must be eventloop or goroutines`}},
		{name: "bad stage", plan: Plan{Targets: ok, Stages: []Stage{{Duration: 0, Target: -1}}}, want: []string{"stages[0].duration", "stages[0].target"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.plan.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
