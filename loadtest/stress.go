package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Defaults for StressPlan.
const (
	DefaultSLOP99     = 200 * time.Millisecond
	DefaultMaxErrors  = 0.01
	DefaultKeepUpFrac = 0.95
	MaxSteps          = 1000
)

// StressPlan steps the load from Start to Max by Step, holding each step
// for StepDuration. By default the load is an arrival rate (open model), so
// the steps measure queueing honestly; with Closed it is a concurrency.
// Base supplies targets, timeouts and protocol; its Rate, Stages, Duration
// and MaxRequests are replaced per step (its Concurrency is the open model's
// connection count).
type StressPlan struct {
	Base         Plan          `json:"base"`
	Start        float64       `json:"start"`
	Max          float64       `json:"max"`
	Step         float64       `json:"step"`
	StepDuration time.Duration `json:"step_duration"`
	Closed       bool          `json:"closed,omitempty"`
	// SLOP99 and MaxErrors define a step that "meets the SLO": corrected p99
	// latency at most SLOP99 (default 200ms) and error ratio at most
	// MaxErrors (default 1 %).
	SLOP99    time.Duration `json:"slo_p99"`
	MaxErrors float64       `json:"max_errors"`
	// ContinueAfterBreak keeps stepping after the breaking point; by default
	// the test stops there, to spare the service.
	ContinueAfterBreak bool `json:"continue_after_break,omitempty"`
}

// StepResult is one step of a stress test.
type StepResult struct {
	Load       float64 `json:"load"` // rate (open) or concurrency (closed)
	Throughput float64 `json:"throughput_rps"`
	ErrorRatio float64 `json:"error_ratio"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Dropped    int64   `json:"dropped"`
	MeetsSLO   bool    `json:"meets_slo"`
	Broken     bool    `json:"broken"`
	Result     *Result `json:"-"`
}

// StressResult is a whole stress test. Knee and BreakingPoint index Steps,
// or are -1 when no step qualifies.
type StressResult struct {
	Model string       `json:"model"`
	Steps []StepResult `json:"steps"`
	// Knee is the last step, before the first that misses it, to meet the SLO.
	Knee int `json:"knee"`
	// BreakingPoint is the first step where the service could not keep up:
	// errors above MaxErrors, or (open model) less than 95 % of the offered
	// rate started (the rest dropped for want of a free connection), or (closed model) throughput falling below the previous
	// step's.
	BreakingPoint int     `json:"breaking_point"`
	SLOP99        float64 `json:"slo_p99_ms"`
	MaxErrors     float64 `json:"max_errors"`
	Aborted       bool    `json:"aborted,omitempty"`
}

// WriteText writes the steps as a table with the knee and breaking point.
func (r *StressResult) WriteText(w io.Writer) error {
	var b strings.Builder
	unit := "rate/s"
	if r.Model == "closed" {
		unit = "workers"
	}
	fmt.Fprintf(&b, "stress test, %s model, SLO p99 <= %gms and errors <= %g%%\n", r.Model, r.SLOP99, 100*r.MaxErrors)
	if r.Aborted {
		b.WriteString("interrupted: partial result\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\t%s\tthroughput/s\terrors\tp50 ms\tp99 ms\tdropped\t\t\n", unit)
	for i, s := range r.Steps {
		mark := ""
		switch {
		case i == r.Knee:
			mark = "knee"
		case i == r.BreakingPoint:
			mark = "breaking point"
		case !s.MeetsSLO:
			mark = "misses SLO"
		}
		fmt.Fprintf(tw, "%d\t%g\t%.1f\t%.2f%%\t%.3f\t%.3f\t%d\t%s\t\n", i+1, s.Load, s.Throughput, 100*s.ErrorRatio, s.P50, s.P99, s.Dropped, mark)
	}
	tw.Flush()
	if r.Knee >= 0 {
		fmt.Fprintf(&b, "knee: %g (%.1f requests/s within the SLO)\n", r.Steps[r.Knee].Load, r.Steps[r.Knee].Throughput)
	} else {
		b.WriteString("knee: none, no step met the SLO\n")
	}
	if r.BreakingPoint >= 0 {
		fmt.Fprintf(&b, "breaking point: %g\n", r.Steps[r.BreakingPoint].Load)
	} else {
		b.WriteString("breaking point: not reached\n")
	}
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// Validate reports every problem with the plan.
func (s *StressPlan) Validate() error {
	var errs []error
	limit := float64(MaxRate)
	if s.Closed {
		limit = MaxConcurrency
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"start", s.Start}, {"max", s.Max}, {"step", s.Step}} {
		if !(v.v > 0 && v.v <= limit) {
			errs = append(errs, fmt.Errorf("%s %v: must be in (0, %v]", v.name, v.v, limit))
		}
	}
	if s.Max < s.Start {
		errs = append(errs, fmt.Errorf("max %v: must be >= start %v", s.Max, s.Start))
	}
	if s.Step > 0 && (s.Max-s.Start)/s.Step+1 > MaxSteps {
		errs = append(errs, fmt.Errorf("steps: (max-start)/step+1 is more than %d", MaxSteps))
	}
	if s.StepDuration <= 0 || s.StepDuration > MaxDuration {
		errs = append(errs, fmt.Errorf("step duration %v: must be in (0, %v]", s.StepDuration, MaxDuration))
	} else if s.Step > 0 && s.Max >= s.Start {
		if n := math.Floor((s.Max-s.Start)/s.Step) + 1; n <= MaxSteps && time.Duration(n)*s.StepDuration > MaxDuration {
			errs = append(errs, fmt.Errorf("steps: %v steps of %v exceed %v", n, s.StepDuration, MaxDuration))
		}
	}
	if s.SLOP99 < 0 {
		errs = append(errs, fmt.Errorf("slo p99 %v: must be >= 0", s.SLOP99))
	}
	if s.MaxErrors < 0 || s.MaxErrors > 1 {
		errs = append(errs, fmt.Errorf("max errors %v: must be 0..1", s.MaxErrors))
	}
	base := s.stepPlan(s.Start)
	if err := base.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *StressPlan) stepPlan(load float64) Plan {
	p := s.Base
	p.Stages, p.MaxRequests, p.Duration = nil, 0, s.StepDuration
	if s.Closed {
		p.Rate = 0
		p.Concurrency = int(math.Round(load))
	} else {
		p.Rate = load
	}
	return p
}

// Stress runs the steps in order. Progress on Base is called with Step and
// Steps set. A cancelled ctx ends the test with the steps so far.
func Stress(ctx context.Context, s StressPlan) (*StressResult, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.SLOP99 == 0 {
		s.SLOP99 = DefaultSLOP99
	}
	if s.MaxErrors == 0 {
		s.MaxErrors = DefaultMaxErrors
	}
	out := &StressResult{Model: "open", Knee: -1, BreakingPoint: -1,
		SLOP99: float64(s.SLOP99) / float64(time.Millisecond), MaxErrors: s.MaxErrors}
	if s.Closed {
		out.Model = "closed"
	}
	var loads []float64
	for l := s.Start; l <= s.Max+1e-9; l += s.Step {
		loads = append(loads, l)
	}
	for i, load := range loads {
		if ctx.Err() != nil {
			out.Aborted = true
			break
		}
		p := s.stepPlan(load)
		if prog := s.Base.Progress; prog != nil {
			step, steps := i+1, len(loads)
			p.Progress = func(pr Progress) {
				pr.Step, pr.Steps = step, steps
				prog(pr)
			}
		}
		res, err := Run(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("step %d (load %v): %w", i+1, load, err)
		}
		st := StepResult{Load: load, Throughput: res.Throughput(), ErrorRatio: res.ErrorRatio(),
			P50: res.Latency.P50, P99: res.Latency.P99, Dropped: res.Dropped, Result: res}
		var prev *StepResult
		if i > 0 {
			prev = &out.Steps[i-1]
		}
		st.MeetsSLO, st.Broken = judgeStep(res, st, prev, s.Closed, out.SLOP99, s.MaxErrors)
		if res.Aborted {
			out.Aborted = true
			out.Steps = append(out.Steps, st)
			break
		}
		out.Steps = append(out.Steps, st)
		if st.MeetsSLO && (out.Knee == i-1) {
			out.Knee = i
		}
		if st.Broken && out.BreakingPoint < 0 {
			out.BreakingPoint = i
			if !s.ContinueAfterBreak {
				break
			}
		}
	}
	return out, nil
}

// judgeStep decides whether a step met the SLO and whether the service broke.
func judgeStep(res *Result, st StepResult, prev *StepResult, closed bool, sloP99, maxErrors float64) (meets, broken bool) {
	meets = res.Requests > 0 && st.P99 <= sloP99 && st.ErrorRatio <= maxErrors
	switch {
	case res.Requests == 0, st.ErrorRatio > maxErrors:
		broken = true
	case !closed && res.RateAchieved < DefaultKeepUpFrac*st.Load:
		broken = true
	case closed && prev != nil && st.Throughput < prev.Throughput:
		broken = true
	}
	return meets, broken
}
