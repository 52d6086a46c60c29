package loadtest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Defaults for Plan fields left zero.
const (
	DefaultConcurrency     = 10               // closed-model workers
	DefaultOpenConnections = 100              // open-model maximum in flight
	DefaultDuration        = 10 * time.Second //
	DefaultTimeout         = 10 * time.Second // per request
	DefaultLateAfter       = 10 * time.Millisecond
	DefaultProgress        = time.Second
)

// Bounds that reject absurd plans before they start.
const (
	MaxRate        = 10_000_000 // requests per second
	MaxConcurrency = 50_000
	MaxDuration    = 24 * time.Hour
)

// Protocol selects the client.
type Protocol string

// Protocols.
const (
	// Auto uses the lean HTTP/1.1 engine for http:// targets and net/http
	// (HTTP/2 when the server offers it over TLS) for https://.
	Auto Protocol = ""
	// HTTP1 forces the lean HTTP/1.1 engine; http:// targets only.
	HTTP1 Protocol = "http1"
	// NetHTTP uses Go's net/http client with HTTP/1.1 (and HTTP/2 over TLS).
	NetHTTP Protocol = "nethttp"
	// H2C is HTTP/2 over cleartext TCP, with prior knowledge.
	H2C Protocol = "h2c"
	// H2 forces HTTP/2 over TLS.
	H2 Protocol = "h2"
)

// Engine selects how the lean HTTP/1.1 client drives its connections.
type Engine string

// Engines.
const (
	// EngineAuto uses the event loop where it can (a closed-model run of
	// the lean HTTP/1.1 client, on Linux) and goroutines otherwise.
	EngineAuto Engine = ""
	// EngineEventLoop drives every connection from one goroutine per CPU
	// with epoll, as wrk does: a request costs one write and one read, and
	// one wait serves every connection that became ready. A plan it cannot
	// run (open model, TLS, another OS) is refused.
	EngineEventLoop Engine = "eventloop"
	// EngineGoroutines gives each connection a goroutine of its own over
	// Go's netpoller.
	EngineGoroutines Engine = "goroutines"
)

// Stage is one leg of a ramping open-model plan: the arrival rate moves
// linearly from the previous stage's target (or Plan.Rate for the first) to
// Target over Duration, as k6's ramping-arrival-rate does.
type Stage struct {
	Duration time.Duration `json:"duration"`
	Target   float64       `json:"target"` // requests per second at the end
}

// Plan describes a load test. With Rate or Stages set the test is an open
// model: requests start on a fixed schedule whatever the service does, and
// latency is measured from the scheduled start, so a slow service cannot
// hide its queueing (no coordinated omission). Otherwise it is a closed
// model: Concurrency workers each send the next request when the previous
// one is answered.
//
// Every run is bounded: by Duration (or the stages' sum) and, if set, by
// MaxRequests. The zero values of the other fields mean their defaults.
type Plan struct {
	Targets   []Target  `json:"targets"`
	Selection Selection `json:"selection,omitempty"`

	// Rate is the open-model arrival rate in requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Stages ramp the open-model rate; their durations replace Duration.
	Stages []Stage `json:"stages,omitempty"`
	// Concurrency is the number of workers, each with its own connection.
	// In the open model it is the most requests in flight; a start that
	// finds every worker busy waits and is counted late. Default 10 for the
	// closed model, 100 for the open model.
	Concurrency int `json:"concurrency,omitempty"`
	// Duration bounds the run. Default 10s, at most 24h.
	Duration time.Duration `json:"duration,omitempty"`
	// MaxRequests stops the run after this many requests; 0 means no limit
	// but the duration.
	MaxRequests int64 `json:"max_requests,omitempty"`
	// Timeout bounds each request, connect included. Default 10s.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Protocol selects the client; see Auto.
	Protocol Protocol `json:"protocol,omitempty"`
	// Engine selects how connections are driven; see EngineAuto.
	Engine Engine `json:"engine,omitempty"`
	// InsecureSkipVerify accepts any TLS certificate (self-signed staging).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// LateAfter is how far behind schedule a start must be to count as late.
	// Default 10ms.
	LateAfter time.Duration `json:"late_after,omitempty"`
	// MaxLag drops starts that are further behind schedule than this instead
	// of sending them late, as k6 drops iterations when no VU is free. Zero
	// never drops: every scheduled start is sent, late if need be (wrk2).
	MaxLag time.Duration `json:"max_lag,omitempty"`

	// Progress, if set, is called every ProgressInterval (default 1s) from
	// one goroutine while the test runs.
	Progress         func(Progress) `json:"-"`
	ProgressInterval time.Duration  `json:"-"`
}

// Open reports whether the plan is an open (arrival-rate) model.
func (p *Plan) Open() bool { return p.Rate > 0 || len(p.Stages) > 0 }

// Validate reports every problem with the plan at once.
func (p *Plan) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(p.Targets) == 0 {
		add("targets: at least one is required")
	}
	for i, t := range p.Targets {
		if err := t.validate(); err != nil {
			add("targets[%d]: %w", i, err)
		}
	}
	switch p.Selection {
	case "", RoundRobin, Weighted:
	default:
		add("selection %q: must be %q or %q", p.Selection, RoundRobin, Weighted)
	}
	if p.Rate < 0 || p.Rate > MaxRate || math.IsNaN(p.Rate) {
		add("rate %v: must be 0..%d requests/s", p.Rate, MaxRate)
	}
	var total time.Duration
	for i, s := range p.Stages {
		if s.Duration <= 0 {
			add("stages[%d].duration %v: must be > 0", i, s.Duration)
		}
		if s.Target < 0 || s.Target > MaxRate || math.IsNaN(s.Target) {
			add("stages[%d].target %v: must be 0..%d requests/s", i, s.Target, MaxRate)
		}
		total += s.Duration
	}
	if total > MaxDuration {
		add("stages: total duration %v exceeds %v", total, MaxDuration)
	}
	if p.Concurrency < 0 || p.Concurrency > MaxConcurrency {
		add("concurrency %d: must be 1..%d", p.Concurrency, MaxConcurrency)
	}
	if p.Duration < 0 || p.Duration > MaxDuration {
		add("duration %v: must be 0..%v", p.Duration, MaxDuration)
	}
	if p.MaxRequests < 0 {
		add("max requests %d: must be >= 0", p.MaxRequests)
	}
	if p.Timeout < 0 {
		add("timeout %v: must be >= 0", p.Timeout)
	}
	if p.LateAfter < 0 || p.MaxLag < 0 {
		add("late after and max lag: must be >= 0")
	}
	switch p.Protocol {
	case Auto, HTTP1, NetHTTP, H2C, H2:
	default:
		add("protocol %q: must be one of http1, nethttp, h2c, h2", p.Protocol)
	}
	switch p.Engine {
	case EngineAuto, EngineGoroutines:
	case EngineEventLoop:
		if !eventLoopAvailable {
			add("engine %s: needs Linux", p.Engine)
		}
		if p.Open() {
			add("engine %s: runs the closed model only (no rate or stages)", p.Engine)
		}
		if p.Protocol != Auto && p.Protocol != HTTP1 {
			add("engine %s: drives the lean HTTP/1.1 client only (protocol http1)", p.Engine)
		}
		for i, t := range p.Targets {
			if !strings.HasPrefix(t.URL, "http://") {
				add("targets[%d]: engine %s needs an http:// url", i, p.Engine)
			}
		}
	default:
		add("engine %q: must be %s or %s", p.Engine, EngineEventLoop, EngineGoroutines)
	}
	if p.Protocol == HTTP1 || p.Protocol == H2C {
		for i, t := range p.Targets {
			if len(t.URL) >= 8 && t.URL[:8] == "https://" {
				add("targets[%d]: protocol %s needs an http:// url", i, p.Protocol)
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with zero fields filled in.
func (p Plan) withDefaults() Plan {
	if p.Selection == "" {
		p.Selection = RoundRobin
	}
	if p.Concurrency == 0 {
		p.Concurrency = DefaultConcurrency
		if p.Open() {
			p.Concurrency = DefaultOpenConnections
		}
	}
	if p.Duration == 0 {
		p.Duration = DefaultDuration
	}
	if len(p.Stages) > 0 {
		p.Duration = 0
		for _, s := range p.Stages {
			p.Duration += s.Duration
		}
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.LateAfter == 0 {
		p.LateAfter = DefaultLateAfter
	}
	if p.ProgressInterval <= 0 {
		p.ProgressInterval = DefaultProgress
	}
	return p
}

// schedule maps the i-th start of an open-model plan to its intended time
// since the start of the test. Rates are piecewise linear, so the count of
// starts by time t is piecewise quadratic and inverts in closed form: every
// worker can compute any start's time from a shared counter, without a
// central ticker goroutine.
type schedule struct {
	segs  []segment
	total float64 // starts in the whole plan
}

type segment struct {
	start    float64 // seconds since the test's start
	dur      float64 // seconds
	r0, r1   float64 // rates at the ends
	before   float64 // starts before this segment
	startsIn float64
}

func newSchedule(p Plan) schedule {
	var s schedule
	stages := p.Stages
	if len(stages) == 0 {
		stages = []Stage{{Duration: p.Duration, Target: p.Rate}}
	}
	prev, at := p.Rate, 0.0
	for _, st := range stages {
		d := st.Duration.Seconds()
		n := (prev + st.Target) / 2 * d
		s.segs = append(s.segs, segment{start: at, dur: d, r0: prev, r1: st.Target, before: s.total, startsIn: n})
		s.total += n
		at += d
		prev = st.Target
	}
	return s
}

// at returns when start i (from 0) is due, and false past the plan's end.
func (s *schedule) at(i int64) (time.Duration, bool) {
	k := float64(i)
	for _, g := range s.segs {
		if k >= g.before+g.startsIn {
			continue
		}
		k -= g.before
		var t float64
		if a := (g.r1 - g.r0) / (2 * g.dur); math.Abs(a) < 1e-12 {
			t = k / g.r0
		} else {
			// r0*t + a*t² = k
			t = (-g.r0 + math.Sqrt(g.r0*g.r0+4*a*k)) / (2 * a)
		}
		return time.Duration((g.start + t) * float64(time.Second)), true
	}
	return 0, false
}

// due returns how many starts were due by elapsed: start i is due once
// at(i) <= elapsed.
func (s *schedule) due(elapsed time.Duration) int64 {
	if elapsed < 0 {
		return 0
	}
	e := elapsed.Seconds()
	n := 0.0
	for _, g := range s.segs {
		if e >= g.start+g.dur {
			n = g.before + g.startsIn
			continue
		}
		if e > g.start {
			t := e - g.start
			n = g.before + g.r0*t + (g.r1-g.r0)*t*t/(2*g.dur)
		}
		break
	}
	return min(int64(math.Floor(n+1e-9))+1, int64(math.Ceil(s.total-1e-9)))
}

// meanRate is the plan's average target rate.
func (s *schedule) meanRate() float64 {
	var d float64
	for _, g := range s.segs {
		d += g.dur
	}
	if d == 0 {
		return 0
	}
	return s.total / d
}
