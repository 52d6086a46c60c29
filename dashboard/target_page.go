package dashboard

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/target"
)

// targetRanges are the spans a target page offers.
var targetRanges = []string{"15m", "1h", "24h", "7d"}

var rangeSpans = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

type targetPageData struct {
	T        perfengine.TargetSummary
	Range    string
	Ranges   []string
	Charts   []chart
	Findings []perfengine.Finding
	// Release is the target's running release as the regression module
	// judges it; nil when the target reports no version.
	Release *perfengine.ReleaseStatus
}

// handleTargetPage serves /targets/{name}: the target's charts over the
// chosen range from the store, with its thresholds as lines and its alerts
// and the engine's actions marked on the time axis.
func (d *Dashboard) handleTargetPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var t perfengine.TargetSummary
	ok := false
	if d.targets != nil {
		t, ok = d.targets.Target(name)
	}
	if !ok {
		http.Error(w, fmt.Sprintf("no target named %q", name), http.StatusNotFound)
		return
	}
	rng := r.URL.Query().Get("range")
	if _, ok := rangeSpans[rng]; !ok {
		rng = "1h"
	}
	now := time.Now()
	from := now.Add(-rangeSpans[rng])
	th, _ := d.targets.Thresholds(name)
	marks := d.marks(r, name, from, now)
	line := func(label, series string) chartLine {
		return chartLine{Label: label, Points: d.history(r.Context(), series, name, from, now)}
	}
	rules := func(th perfengine.Threshold) []chartRule {
		if th.Warning == 0 && th.Critical == 0 {
			return nil
		}
		return []chartRule{{"warning", th.Warning, "warning"}, {"critical", th.Critical, "critical"}}
	}
	charts := []chart{
		{Title: "latency p50, p95, p99", Format: "ms", Lines: []chartLine{line("p50", target.LatencyP50Ms), line("p95", metrics.ResponseTimeMs), line("p99", target.LatencyP99Ms)}, Rules: rules(th.ResponseTime)},
		{Title: "throughput", Format: "rps", Lines: []chartLine{line("requests/s", metrics.ThroughputRPS)}, Rules: rules(th.Throughput)},
		{Title: "error rate", Format: "ratio", Lines: []chartLine{line("errors", metrics.ErrorRate)}, Rules: rules(th.ErrorRate)},
		{Title: "CPU", Format: "percent", Lines: []chartLine{line("cpu", metrics.CPUPercent)}, Rules: rules(th.CPU)},
		{Title: "memory of limit", Format: "ratio", Lines: []chartLine{line("memory", metrics.MemoryUsageRatio)}, Rules: rules(th.Memory)},
	}
	if t.Kind == target.HTTP {
		charts = []chart{
			{Title: "probe time to first byte", Format: "ms", Lines: []chartLine{line("ttfb", target.ProbeTTFBMs), line("total", target.ProbeDurationMs)}, Rules: rules(th.ResponseTime)},
			{Title: "up", Format: "number", Lines: []chartLine{line("up", target.Up)}},
		}
	}
	for i := range charts {
		charts[i].From, charts[i].To, charts[i].Marks = from, now, marks
	}
	data := targetPageData{T: t, Range: rng, Ranges: targetRanges, Charts: charts}
	data.Findings = d.targetFindings(name)
	for _, rel := range d.eng.Summary().TargetReleases {
		if rel.Target == name {
			data.Release = &rel
		}
	}
	var b bytes.Buffer
	if err := targetTemplate.Execute(&b, data); err != nil {
		d.fail(w, r, codeInternal, "render target page: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// marks are the events of the range: the target's alerts (a status change,
// a regression), where its regressions began, and the actions applied or
// undone.
func (d *Dashboard) marks(r *http.Request, name string, from, to time.Time) []chartMark {
	var out []chartMark
	if st := d.eng.Store(); st != nil {
		alerts, err := st.ListAlerts(r.Context(), 500)
		if err == nil {
			for _, a := range alerts {
				if a.Labels["target"] == name && !a.Time.Before(from) && a.Time.Before(to) {
					state := a.Severity
					if a.Resolved {
						state = "resolved"
					}
					out = append(out, chartMark{At: a.Time, Label: state + ": " + a.Title})
				}
			}
		}
	}
	for _, f := range d.targetFindings(name) {
		if !f.Since.IsZero() && !f.Since.Before(from) && f.Since.Before(to) {
			out = append(out, chartMark{At: f.Since, Label: "change point: " + f.Title})
		}
	}
	for _, a := range d.eng.Actions(perfengine.ActionApplied, perfengine.ActionUndone) {
		if !a.UpdatedAt.Before(from) && a.UpdatedAt.Before(to) {
			out = append(out, chartMark{At: a.UpdatedAt, Label: string(a.State) + " " + a.Kind + " " + a.Target})
		}
	}
	slices.SortFunc(out, func(a, b chartMark) int { return b.At.Compare(a.At) })
	return out
}
