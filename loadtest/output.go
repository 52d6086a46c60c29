package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Summary is the stable machine-readable shape of a result, what
// `perfengine load --json` prints. RateTarget is null for the closed model.
type Summary struct {
	Requests           int64            `json:"requests"`
	Duration           float64          `json:"duration_s"`
	Throughput         float64          `json:"throughput_rps"`
	RateTarget         *float64         `json:"rate_target_rps"`
	RateAchieved       *float64         `json:"rate_achieved_rps"`
	SuccessRatio       float64          `json:"success_ratio"`
	Latency            SummaryLatency   `json:"latency_ms"`
	LatencyUncorrected SummaryLatency   `json:"latency_uncorrected_ms"`
	StatusCodes        map[string]int64 `json:"status_codes"`
	Errors             map[string]int64 `json:"errors"`
	Late               int64            `json:"late"`
	Dropped            int64            `json:"dropped"`
	BytesIn            int64            `json:"bytes_in"`
	BytesOut           int64            `json:"bytes_out"`
	Connections        int64            `json:"connections"`
	Aborted            bool             `json:"aborted"`
}

// SummaryLatency is the latency block of Summary, in milliseconds.
type SummaryLatency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Summary condenses the result to the shape of Summary.
func (r *Result) Summary() Summary {
	s := Summary{
		Requests:           r.Requests,
		Duration:           round(r.Duration, 3),
		Throughput:         round(r.Throughput(), 1),
		SuccessRatio:       round(r.SuccessRatio(), 6),
		Latency:            sumLat(r.Latency),
		LatencyUncorrected: sumLat(r.LatencyUncorrected),
		StatusCodes:        map[string]int64{},
		Errors:             map[string]int64{},
		Late:               r.Late,
		Dropped:            r.Dropped,
		BytesIn:            r.BytesIn,
		BytesOut:           r.BytesOut,
		Connections:        r.Connections,
		Aborted:            r.Aborted,
	}
	if r.Model == "open" {
		t, a := round(r.RateTarget, 3), round(r.RateAchieved, 3)
		s.RateTarget, s.RateAchieved = &t, &a
	}
	for c, n := range r.StatusCodes {
		s.StatusCodes[strconv.Itoa(c)] = n
	}
	for k, n := range r.Errors {
		s.Errors[k] = n
	}
	return s
}

func sumLat(l Latency) SummaryLatency {
	return SummaryLatency{P50: l.P50, P90: l.P90, P99: l.P99, Max: l.Max}
}

func round(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

// WriteJSON writes the Summary as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.Summary())
}

// WriteText writes a human-readable report.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	title := "closed model"
	if r.Model == "open" {
		title = "open model"
	}
	if r.Aborted {
		title += " (interrupted: partial result)"
	}
	workers := "workers"
	if r.Engine == string(EngineEventLoop) {
		workers = "connections on the event loop"
	}
	fmt.Fprintf(&b, "%s, %d %s, %.2fs\n", title, r.Concurrency, workers, r.Duration)
	fmt.Fprintf(tw, "requests\t%d\t(%.1f/s, %.2f%% ok)\n", r.Requests, r.Throughput(), 100*r.SuccessRatio())
	if r.Model == "open" {
		fmt.Fprintf(tw, "rate\ttarget %.1f/s\tachieved %.1f/s, late %d, dropped %d\n", r.RateTarget, r.RateAchieved, r.Late, r.Dropped)
	}
	fmt.Fprintf(tw, "transfer\tin %s\tout %s, %d connections, %d reused\n", bytesStr(r.BytesIn), bytesStr(r.BytesOut), r.Connections, r.Reused)
	tw.Flush()
	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency ms\tmin\tmean\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	row := func(name string, l Latency) {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", name, l.Min, l.Mean, l.P50, l.P90, l.P95, l.P99, l.P999, l.Max)
	}
	if r.Model == "open" {
		row("corrected", r.Latency)
		row("uncorrected", r.LatencyUncorrected)
	} else {
		row("", r.Latency)
	}
	tw.Flush()
	fmt.Fprintln(&b)
	codes := make([]int, 0, len(r.StatusCodes))
	for c := range r.StatusCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("status")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d: %d", c, r.StatusCodes[c])
	}
	if len(codes) == 0 {
		b.WriteString("  none")
	}
	b.WriteString("\n")
	if len(r.Errors) > 0 {
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		b.WriteString("errors")
		for _, k := range kinds {
			fmt.Fprintf(&b, "  %s: %d", k, r.Errors[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// WriteBaseline writes the per-second p99 latencies (ms) of the result's
// full seconds as a JSON array of numbers, the sample format `perfengine
// regress compare --baseline A --candidate B` reads. Seconds without a
// request carry no latency and are left out.
func (r *Result) WriteBaseline(w io.Writer) error {
	vals := make([]float64, 0, len(r.Series))
	for _, s := range r.Series {
		if s.Requests > 0 && float64(s.T+1) <= r.Duration {
			vals = append(vals, s.P99)
		}
	}
	if len(vals) == 0 {
		return fmt.Errorf("baseline: no full second with requests in a %.2fs run", r.Duration)
	}
	return json.NewEncoder(w).Encode(vals)
}

// trimLines drops the padding tabwriter leaves at line ends.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
