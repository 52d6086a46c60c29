package perfengine

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// rule ties a threshold to the sample it judges.
type rule struct {
	metric      string
	lowerWorse  bool // throughput: falling is the problem
	threshold   func(Thresholds) Threshold
	unit        string
	recommended func(level Status, v float64) string
}

var rules = []rule{
	{metrics.CPUPercent, false, func(t Thresholds) Threshold { return t.CPU }, "%",
		func(Status, float64) string {
			return "CPU is high: capture a CPU profile (/debug/pprof/profile) to find hot paths, cache expensive responses, or scale out"
		}},
	{metrics.MemoryUsageRatio, false, func(t Thresholds) Threshold { return t.Memory }, "of the limit",
		func(Status, float64) string {
			return "memory is close to its limit: check the memory module's leak findings, bound in-process caches, or raise the limit"
		}},
	{metrics.ResponseTimeMs, false, func(t Thresholds) Threshold { return t.ResponseTime }, "ms",
		func(Status, float64) string {
			return "responses are slow: look at the slowest routes and slow queries, cache what is identical across callers, add the suggested indexes"
		}},
	{metrics.ThroughputRPS, true, func(t Thresholds) Threshold { return t.Throughput }, "req/s",
		func(Status, float64) string {
			return "throughput fell: check for saturation (CPU, pool waits, rate limiting) and upstream failures"
		}},
	{metrics.ErrorRate, false, func(t Thresholds) Threshold { return t.ErrorRate }, "of requests",
		func(Status, float64) string {
			return "errors are up: look at the failing routes and recent releases; the regression detector compares with the baseline"
		}},
}

// String renders a violation for people, e.g. "cpu_percent 93 >= critical 90".
func (v Violation) String() string {
	op := ">="
	if v.Metric == metrics.ThroughputRPS {
		op = "<="
	}
	return fmt.Sprintf("%s %.4g %s %s %.4g", v.Metric, v.Value, op, v.Level, v.Threshold)
}

// evaluator turns the latest values into a status. Each metric keeps its
// level, and a level is left only once the value has crossed back past the
// threshold by the hysteresis margin, so a value hovering at a threshold
// does not flap.
type evaluator struct {
	mu          sync.Mutex
	t           Thresholds
	level       map[string]Status
	seenTraffic bool // throughput has been above its warning level
	current     Status
	violations  []Violation
	since       time.Time

	// The level the findings hold the status at, and the findings that
	// set it. It rises at once and falls only after findingCalmCycles
	// cycles below it, the findings' own hysteresis: a finding that
	// blinks out for a cycle does not flap the status.
	findingLevel  Status
	findingCauses []Cause
	findingCalm   int
}

// findingCalmCycles is how many cycles in a row the findings must stay
// below the level they set before the status falls with them.
const findingCalmCycles = 2

// Cause is one thing that holds the status where it is: a threshold
// crossed, a finding about the service, or a module that keeps failing.
type Cause struct {
	Level Status `json:"level"`
	// Kind is "threshold", "finding" or "module".
	Kind string `json:"kind"`
	// Source is "engine" for a threshold, else the module.
	Source string `json:"source"`
	// Subject is the metric, the finding's subject, or the module.
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// Cause kinds.
const (
	CauseThreshold = "threshold"
	CauseFinding   = "finding"
	CauseModule    = "module"
)

func (c Cause) String() string {
	if c.Kind == CauseThreshold {
		return c.Detail
	}
	return c.Source + ": " + c.Detail
}

func violationCauses(vs []Violation) []Cause {
	out := make([]Cause, 0, len(vs))
	for _, v := range vs {
		out = append(out, Cause{Level: v.Level, Kind: CauseThreshold, Source: "engine", Subject: v.Metric, Detail: v.String()})
	}
	return out
}

func newEvaluator(t Thresholds) *evaluator {
	return &evaluator{t: t, level: map[string]Status{}, current: StatusHealthy}
}

func (ev *evaluator) setThresholds(t Thresholds) {
	ev.mu.Lock()
	ev.t = t
	ev.mu.Unlock()
}

func (ev *evaluator) status() Status {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.current
}

func (ev *evaluator) evaluate(now time.Time, latest map[string]float64) (Status, []Violation) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	overall := StatusHealthy
	var vs []Violation
	for _, r := range rules {
		v, ok := latest[r.metric]
		if !ok {
			delete(ev.level, r.metric)
			continue
		}
		th := r.threshold(ev.t)
		var lvl Status
		if r.lowerWorse {
			if v >= th.Warning {
				ev.seenTraffic = true
			}
			if !ev.seenTraffic {
				continue
			}
			lvl = levelLower(v, th, ev.level[r.metric], ev.t.Hysteresis)
		} else {
			lvl = levelHigher(v, th, ev.level[r.metric], ev.t.Hysteresis)
		}
		ev.level[r.metric] = lvl
		if lvl != StatusHealthy {
			limit := th.Warning
			if lvl == StatusCritical {
				limit = th.Critical
			}
			vs = append(vs, Violation{Metric: r.metric, Value: v, Level: lvl, Threshold: limit})
		}
		overall = worse(overall, lvl)
	}
	ev.violations = vs
	return ev.settle(now, worse(overall, ev.findingLevel)), vs
}

func (ev *evaluator) settle(now time.Time, s Status) Status {
	if s != ev.current {
		ev.since = now
	}
	ev.current = s
	return s
}

// raise lifts the status to the worst of the causes that findings and
// failing modules give, with their hysteresis, and returns the status.
func (ev *evaluator) raise(now time.Time, causes []Cause) Status {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	level := StatusHealthy
	for _, c := range causes {
		level = worse(level, c.Level)
	}
	switch {
	case level.rank() >= ev.findingLevel.rank():
		ev.findingLevel, ev.findingCauses, ev.findingCalm = level, causes, 0
	case ev.findingCalm+1 >= findingCalmCycles:
		ev.findingLevel, ev.findingCauses, ev.findingCalm = level, causes, 0
	default:
		ev.findingCalm++
	}
	threshold := StatusHealthy
	for _, v := range ev.violations {
		threshold = worse(threshold, v.Level)
	}
	return ev.settle(now, worse(threshold, ev.findingLevel))
}

// causes lists what holds the status at its level, worst first: the
// thresholds crossed and the findings that raised it.
func (ev *evaluator) causes() []Cause {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	out := append(violationCauses(ev.violations), ev.findingCauses...)
	out = slices.DeleteFunc(out, func(c Cause) bool { return c.Level == StatusHealthy })
	slices.SortStableFunc(out, func(a, b Cause) int { return b.Level.rank() - a.Level.rank() })
	return out
}

// levelHigher grades a value where higher is worse, entering a level at its
// threshold and leaving it only below threshold*(1-h).
func levelHigher(v float64, th Threshold, prev Status, h float64) Status {
	switch {
	case v >= th.Critical:
		return StatusCritical
	case prev == StatusCritical && v >= th.Critical*(1-h):
		return StatusCritical
	case v >= th.Warning:
		return StatusWarning
	case prev != StatusHealthy && v >= th.Warning*(1-h):
		return StatusWarning
	}
	return StatusHealthy
}

// levelLower grades a value where lower is worse, mirroring levelHigher.
func levelLower(v float64, th Threshold, prev Status, h float64) Status {
	switch {
	case v <= th.Critical:
		return StatusCritical
	case prev == StatusCritical && v <= th.Critical*(1+h):
		return StatusCritical
	case v <= th.Warning:
		return StatusWarning
	case prev != StatusHealthy && v <= th.Warning*(1+h):
		return StatusWarning
	}
	return StatusHealthy
}

// advice returns the threshold recommendations for the current violations.
func (ev *evaluator) advice() []Recommendation {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []Recommendation
	for _, v := range ev.violations {
		for _, r := range rules {
			if r.metric != v.Metric {
				continue
			}
			sev := SeverityWarning
			if v.Level == StatusCritical {
				sev = SeverityCritical
			}
			out = append(out, Recommendation{
				Module:   "engine",
				Severity: sev,
				Message:  fmt.Sprintf("%s (%s %.4g %s)", r.recommended(v.Level, v.Value), r.metric, v.Value, r.unit),
			})
		}
	}
	return out
}

func (ev *evaluator) currentViolations() []Violation {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]Violation(nil), ev.violations...)
}
