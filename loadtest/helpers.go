package loadtest

import (
	"context"
	"time"
)

// LoadTestOptions is the seed API's load test: Concurrent workers sending
// to URL for Duration (a closed model).
type LoadTestOptions struct {
	URL        string
	Concurrent int
	Duration   time.Duration
}

// RunLoadTest runs a closed-model test with the seed API's options.
func RunLoadTest(ctx context.Context, o LoadTestOptions) (*Result, error) {
	return Run(ctx, Plan{Targets: []Target{{URL: o.URL}}, Concurrency: o.Concurrent, Duration: o.Duration})
}

// StressTestOptions is the seed API's stress test: the arrival rate steps
// from StartLoad to MaxLoad by StepSize, StepDuration each.
type StressTestOptions struct {
	URL          string
	StartLoad    float64
	MaxLoad      float64
	StepSize     float64
	StepDuration time.Duration
}

// RunStressTest runs an open-model stress test with the default SLO.
func RunStressTest(ctx context.Context, o StressTestOptions) (*StressResult, error) {
	return Stress(ctx, StressPlan{
		Base:  Plan{Targets: []Target{{URL: o.URL}}},
		Start: o.StartLoad, Max: o.MaxLoad, Step: o.StepSize, StepDuration: o.StepDuration,
	})
}
