package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestJudgeStep(t *testing.T) {
	tests := []struct {
		name         string
		res          Result
		st           StepResult
		prev         *StepResult
		closed       bool
		meets, broke bool
	}{
		{name: "healthy open", res: Result{Requests: 1000, Duration: 10, RateAchieved: 100}, st: StepResult{Load: 100, P99: 50}, meets: true},
		{name: "slow but keeping up", res: Result{Requests: 1000, Duration: 10, RateAchieved: 99}, st: StepResult{Load: 100, P99: 500}},
		{name: "errors break", res: Result{Requests: 1000, Duration: 10, RateAchieved: 100}, st: StepResult{Load: 100, P99: 50, ErrorRatio: 0.2}, broke: true},
		{name: "falls behind the rate", res: Result{Requests: 900, Duration: 10, RateAchieved: 90}, st: StepResult{Load: 100, P99: 50}, broke: true, meets: true},
		{name: "nothing answered", res: Result{Duration: 10}, st: StepResult{Load: 100}, broke: true},
		{name: "closed throughput drops", closed: true, res: Result{Requests: 500, Duration: 10}, st: StepResult{Load: 8, Throughput: 50, P99: 10},
			prev: &StepResult{Throughput: 60}, broke: true, meets: true},
		{name: "closed throughput grows", closed: true, res: Result{Requests: 700, Duration: 10}, st: StepResult{Load: 8, Throughput: 70, P99: 10},
			prev: &StepResult{Throughput: 60}, meets: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meets, broke := judgeStep(&tc.res, tc.st, tc.prev, tc.closed, 200, 0.01)
			if meets != tc.meets || broke != tc.broke {
				t.Errorf("judgeStep() = %v, %v, want %v, %v", meets, broke, tc.meets, tc.broke)
			}
		})
	}
}

func TestStressSteps(t *testing.T) {
	srv := okServer(t)
	var steps []int
	sr, err := Stress(context.Background(), StressPlan{
		Base:  Plan{Targets: []Target{{URL: srv.URL}}, LateAfter: time.Minute, Progress: func(p Progress) { steps = append(steps, p.Step) }, ProgressInterval: 100 * time.Millisecond},
		Start: 50, Max: 150, Step: 50, StepDuration: 600 * time.Millisecond,
		SLOP99: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Steps) != 3 || sr.Knee != 2 || sr.BreakingPoint != -1 {
		t.Fatalf("steps %d knee %d breaking %d, want 3, 2, -1", len(sr.Steps), sr.Knee, sr.BreakingPoint)
	}
	if sr.Steps[0].Result.Requests != 30 || sr.Steps[2].Result.Requests != 90 {
		t.Errorf("step requests %d and %d, want 30 and 90", sr.Steps[0].Result.Requests, sr.Steps[2].Result.Requests)
	}
	if len(steps) == 0 || steps[len(steps)-1] != 3 {
		t.Errorf("progress steps %v, want to end at step 3", steps)
	}
	var b strings.Builder
	if err := sr.WriteText(&b); err != nil || !strings.Contains(b.String(), "knee: 150") {
		t.Errorf("WriteText() = %q, %v, want the knee at 150", b.String(), err)
	}
}

func TestStressBreaksOnErrors(t *testing.T) {
	srv := okServer(t)
	sr, err := Stress(context.Background(), StressPlan{
		Base:  Plan{Targets: []Target{{URL: srv.URL + "/fail"}}},
		Start: 1, Max: 4, Step: 1, StepDuration: 100 * time.Millisecond, Closed: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Steps) != 1 || sr.Knee != -1 || sr.BreakingPoint != 0 {
		t.Errorf("steps %d knee %d breaking %d, want to stop at a broken first step", len(sr.Steps), sr.Knee, sr.BreakingPoint)
	}
}

func TestStressValidate(t *testing.T) {
	ok := Plan{Targets: []Target{{URL: "http://h/"}}}
	tests := []struct {
		name string
		plan StressPlan
		want string
	}{
		{"max below start", StressPlan{Base: ok, Start: 10, Max: 5, Step: 1, StepDuration: time.Second}, "max 5: must be >= start 10"},
		{"zero step", StressPlan{Base: ok, Start: 1, Max: 5, StepDuration: time.Second}, "step 0"},
		{"too many steps", StressPlan{Base: ok, Start: 1, Max: 1e6, Step: 1, StepDuration: time.Second}, "more than 1000"},
		{"no duration", StressPlan{Base: ok, Start: 1, Max: 5, Step: 1}, "step duration"},
		{"too long in all", StressPlan{Base: ok, Start: 1, Max: 100, Step: 1, StepDuration: time.Hour}, "100 steps of 1h0m0s exceed 24h0m0s"},
		{"bad base", StressPlan{Start: 1, Max: 5, Step: 1, StepDuration: time.Second}, "targets: at least one"},
		{"closed concurrency bound", StressPlan{Base: ok, Start: 1, Max: 1e6, Step: 1e5, StepDuration: time.Second, Closed: true}, "max 1e+06"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.plan.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
