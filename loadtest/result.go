package loadtest

import (
	"time"
)

// Result is what a load test measured. It is plain data: it can be encoded,
// stored and rendered again (Text, JSON, WriteHTML) without the run.
// Latencies are in milliseconds.
type Result struct {
	Model string `json:"model"` // "open" or "closed"
	// Engine is how the connections were driven: "eventloop" or
	// "goroutines" (see Plan.Engine).
	Engine      string    `json:"engine,omitempty"`
	Started     time.Time `json:"started"`
	Duration    float64   `json:"duration_s"` // from the first start to the last answer
	Concurrency int       `json:"concurrency"`
	// RateTarget is the open model's mean target rate; 0 for closed.
	RateTarget float64 `json:"rate_target_rps"`
	// RateAchieved is requests started per second of the schedule (open).
	RateAchieved float64 `json:"rate_achieved_rps"`

	Requests int64 `json:"requests"` // answered or failed
	OK       int64 `json:"ok"`       // answered with a status below 400
	// Late counts starts more than Plan.LateAfter behind schedule; Dropped
	// counts starts that were due but never sent (behind by more than
	// Plan.MaxLag, or still queued when the test ended).
	Late    int64 `json:"late"`
	Dropped int64 `json:"dropped"`

	// Latency is measured from the intended start (open model), so it
	// includes time spent waiting for a free connection; it equals
	// LatencyUncorrected in the closed model.
	Latency            Latency `json:"latency_ms"`
	LatencyUncorrected Latency `json:"latency_uncorrected_ms"`
	// Distribution is the corrected latency at the quantiles in
	// DistributionQuantiles.
	Distribution            []Quantile `json:"distribution"`
	DistributionUncorrected []Quantile `json:"distribution_uncorrected"`

	StatusCodes map[int]int64    `json:"status_codes"`
	Errors      map[string]int64 `json:"errors"`
	BytesIn     int64            `json:"bytes_in"`
	BytesOut    int64            `json:"bytes_out"`
	// Connections counts connections opened; Reused counts requests sent on
	// a connection that had already carried one.
	Connections int64 `json:"connections"`
	Reused      int64 `json:"reused"`

	Series []Second `json:"series"`
	// Aborted is set when the context was cancelled: the result is partial.
	Aborted bool `json:"aborted,omitempty"`
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Quantile is one point of a latency distribution.
type Quantile struct {
	Q  float64 `json:"q"` // 0..1
	Ms float64 `json:"ms"`
}

// DistributionQuantiles are the points of Result.Distribution, denser
// towards the tail where latency problems live.
var DistributionQuantiles = []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1}

// Second is one second of the run, by the time requests completed.
type Second struct {
	T        int     `json:"t"` // seconds since the start
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"` // failed or status >= 400
	Bytes    int64   `json:"bytes"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

// Throughput is requests per second over the whole run.
func (r *Result) Throughput() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration
}

// SuccessRatio is the fraction of requests answered below status 400.
func (r *Result) SuccessRatio() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.OK) / float64(r.Requests)
}

// ErrorRatio is 1 - SuccessRatio, or 0 when nothing was sent.
func (r *Result) ErrorRatio() float64 {
	if r.Requests == 0 {
		return 0
	}
	return 1 - r.SuccessRatio()
}

// Progress is a live view of a running test.
type Progress struct {
	Elapsed  time.Duration
	Total    time.Duration // planned duration
	Requests int64
	Errors   int64
	// Rate is completions per second over the last full second; P99 is that
	// second's p99 latency in milliseconds.
	Rate float64
	P99  float64
	// Step and Steps number the stress step, 1-based; 0 outside stress tests.
	Step, Steps int
}
