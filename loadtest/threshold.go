package loadtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Threshold is a pass/fail criterion on a result, in k6's spirit:
// "p99<200ms", "errors<1%", "rps>=1000". Metrics:
//
//	p50 p90 p95 p99 p999 max mean   latency (corrected); a duration such
//	                                as 200ms or 1.5s, or a bare number of ms
//	errors                          error ratio; 1% or 0.01
//	rps                             throughput, requests per second
//	dropped                         dropped starts, a count
//
// Operators: < <= > >=.
type Threshold struct {
	Expr   string
	Metric string
	Op     string
	Value  float64 // ms for latencies, a ratio for errors
}

// ThresholdResult is a threshold evaluated against a result.
type ThresholdResult struct {
	Threshold
	Actual float64
	Pass   bool
}

var thresholdMetrics = map[string]string{
	"p50": "latency", "p90": "latency", "p95": "latency", "p99": "latency", "p999": "latency",
	"p99.9": "latency", "max": "latency", "mean": "latency", "avg": "latency",
	"errors": "ratio", "error_rate": "ratio", "rps": "number", "throughput": "number", "dropped": "number",
}

// ParseThreshold parses one threshold expression.
func ParseThreshold(expr string) (Threshold, error) {
	s := strings.TrimSpace(expr)
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("threshold %q: want METRIC<VALUE, e.g. p99<200ms or errors<1%%", expr)
	}
	t := Threshold{Expr: s, Metric: strings.ToLower(strings.TrimSpace(s[:i])), Op: s[i : i+1]}
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	rest = strings.TrimSpace(rest)
	kind, ok := thresholdMetrics[t.Metric]
	if !ok {
		return Threshold{}, fmt.Errorf("threshold %q: unknown metric %q (want p50, p90, p95, p99, p999, max, mean, errors, rps or dropped)", expr, t.Metric)
	}
	if rest == "" {
		return Threshold{}, fmt.Errorf("threshold %q: missing value", expr)
	}
	var err error
	switch kind {
	case "latency":
		t.Value, err = parseMs(rest)
	case "ratio":
		if p, found := strings.CutSuffix(rest, "%"); found {
			t.Value, err = strconv.ParseFloat(strings.TrimSpace(p), 64)
			t.Value /= 100
		} else {
			t.Value, err = strconv.ParseFloat(rest, 64)
		}
		if err == nil && (t.Value < 0 || t.Value > 1) {
			err = errors.New("must be between 0% and 100%")
		}
	default:
		t.Value, err = strconv.ParseFloat(rest, 64)
	}
	if err == nil && (t.Value != t.Value || t.Value < 0 || t.Value > 1e15) {
		err = errors.New("must be a non-negative finite number")
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: value %q: %w", expr, rest, unwrapNum(err))
	}
	return t, nil
}

func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

func parseMs(s string) (float64, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration (200ms, 1.5s) or a number of milliseconds")
	}
	return float64(d) / float64(time.Millisecond), nil
}

// Check evaluates the threshold.
func (t Threshold) Check(r *Result) ThresholdResult {
	var v float64
	switch t.Metric {
	case "p50":
		v = r.Latency.P50
	case "p90":
		v = r.Latency.P90
	case "p95":
		v = r.Latency.P95
	case "p99":
		v = r.Latency.P99
	case "p999", "p99.9":
		v = r.Latency.P999
	case "max":
		v = r.Latency.Max
	case "mean", "avg":
		v = r.Latency.Mean
	case "errors", "error_rate":
		v = r.ErrorRatio()
	case "rps", "throughput":
		v = r.Throughput()
	case "dropped":
		v = float64(r.Dropped)
	}
	var pass bool
	switch t.Op {
	case "<":
		pass = v < t.Value
	case "<=":
		pass = v <= t.Value
	case ">":
		pass = v > t.Value
	case ">=":
		pass = v >= t.Value
	}
	return ThresholdResult{Threshold: t, Actual: v, Pass: pass}
}

// CheckAll evaluates every threshold; ok is false if any failed.
func CheckAll(r *Result, ts []Threshold) (results []ThresholdResult, ok bool) {
	ok = true
	for _, t := range ts {
		res := t.Check(r)
		ok = ok && res.Pass
		results = append(results, res)
	}
	return results, ok
}
