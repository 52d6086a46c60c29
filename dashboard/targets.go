package dashboard

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// TargetsBody is the body of GET /api/v1/targets: the overall status is the
// worst of the targets'.
type TargetsBody struct {
	Overall perfengine.Status          `json:"overall"`
	Targets []perfengine.TargetSummary `json:"targets"`
}

func (d *Dashboard) handleTargets(w http.ResponseWriter, r *http.Request) {
	body := TargetsBody{Overall: perfengine.StatusHealthy, Targets: []perfengine.TargetSummary{}}
	if d.targets != nil {
		body.Targets = d.targets.Targets()
		body.Overall = d.targets.Overall()
	}
	writeJSON(w, http.StatusOK, body)
}

// TargetBody is the body of GET /api/v1/targets/{name}/summary.
type TargetBody struct {
	perfengine.TargetSummary
	Findings []perfengine.Finding `json:"findings"`
}

func (d *Dashboard) handleTarget(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var t perfengine.TargetSummary
	ok := false
	if d.targets != nil {
		t, ok = d.targets.Target(name)
	}
	if !ok {
		d.fail(w, r, codeNotFound, fmt.Sprintf("no target named %q", name))
		return
	}
	writeJSON(w, http.StatusOK, TargetBody{TargetSummary: t, Findings: d.targetFindings(name)})
}

// targetFindings are the findings about one target: the targets module's
// as of now (down, thresholds), then the other modules' (a regression) as
// of the last cycle.
func (d *Dashboard) targetFindings(name string) []perfengine.Finding {
	out := []perfengine.Finding{}
	for _, f := range d.targets.Findings() {
		if f.Target == name {
			out = append(out, f)
		}
	}
	for _, f := range d.eng.Summary().Findings {
		if f.Target == name && f.Module != d.targets.Name() {
			out = append(out, f)
		}
	}
	return out
}

// Bounds of GET /api/v1/series: maxPoints per series in one answer, and
// maxSamples read from the store for one query.
const (
	maxPoints  = 1000
	maxSamples = 200_000
)

// SeriesQuery is the parsed form of GET /api/v1/series's parameters.
type SeriesQuery struct {
	Name   string
	Target string // "": every target and the engine's own series
	From   time.Time
	To     time.Time
	Step   time.Duration // the width of one point; each point is the mean of its samples
}

// ParseSeriesQuery reads name (required), target, from and to (RFC 3339,
// Unix seconds, "now" or a negative offset from now such as -1h; default
// the last hour) and step (a duration; default the range over 500, and at
// most 1000 points per series).
func ParseSeriesQuery(q url.Values, now time.Time) (SeriesQuery, error) {
	sq := SeriesQuery{Name: strings.TrimSpace(q.Get("name")), Target: q.Get("target")}
	if sq.Name == "" {
		return sq, errors.New("name is required, such as name=cpu_percent")
	}
	var err error
	if sq.To, err = parseTime(q.Get("to"), now, now); err != nil {
		return sq, fmt.Errorf("to: %w", err)
	}
	if sq.From, err = parseTime(q.Get("from"), now, sq.To.Add(-time.Hour)); err != nil {
		return sq, fmt.Errorf("from: %w", err)
	}
	span := sq.To.Sub(sq.From)
	if span <= 0 {
		return sq, fmt.Errorf("from %s must be before to %s", sq.From.Format(time.RFC3339), sq.To.Format(time.RFC3339))
	}
	if s := q.Get("step"); s != "" {
		if sq.Step, err = time.ParseDuration(s); err != nil || sq.Step <= 0 {
			return sq, fmt.Errorf("step %q must be a positive duration such as 15s", s)
		}
		if n := span / sq.Step; n > maxPoints {
			return sq, fmt.Errorf("step %s gives %d points over %s; at most %d, so a step of at least %s", sq.Step, n, span, maxPoints, (span/maxPoints).Round(time.Second)+time.Second)
		}
	} else {
		sq.Step = max(span/500, time.Second)
	}
	return sq, nil
}

// parseTime reads one bound of the range.
func parseTime(s string, now, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q is not an offset such as -1h", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	// Year 1 to 9999 in Unix seconds.
	if err != nil || math.IsNaN(secs) || secs < -62135596800 || secs > 253402300799 {
		return time.Time{}, fmt.Errorf("%q is not RFC 3339, Unix seconds, now or an offset such as -1h", s)
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

// SeriesBody is the body of GET /api/v1/series: one entry per label set,
// each point [unix milliseconds, mean value over the step].
type SeriesBody struct {
	Name      string    `json:"name"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	StepMs    int64     `json:"step_ms"`
	Series    []Series  `json:"series"`
	Truncated bool      `json:"truncated"` // the store held more samples than one answer reads; the newest were kept
}

// Series is one label set's points.
type Series struct {
	Labels map[string]string `json:"labels"`
	Points [][2]float64      `json:"points"`
}

func (d *Dashboard) handleSeries(w http.ResponseWriter, r *http.Request) {
	q, err := ParseSeriesQuery(r.URL.Query(), time.Now())
	if err != nil {
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	st := d.eng.Store()
	if st == nil {
		d.fail(w, r, codeConflict, "the engine has no store yet: it opens one at Start")
		return
	}
	samples, err := st.QuerySamples(r.Context(), store.SampleQuery{Name: q.Name, From: q.From, To: q.To, Limit: maxSamples})
	if err != nil {
		d.fail(w, r, codeInternal, "query the store: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, SeriesBody{
		Name: q.Name, From: q.From, To: q.To, StepMs: q.Step.Milliseconds(),
		Series: bucket(samples, q), Truncated: len(samples) == maxSamples,
	})
}

// bucket groups samples by label set (keeping the target's only, when one
// is asked for) and averages each step.
func bucket(samples []metrics.Sample, q SeriesQuery) []Series {
	type acc struct {
		labels map[string]string
		sums   map[int64][2]float64 // step index -> sum, count
	}
	byKey := map[string]*acc{}
	for _, s := range samples {
		if q.Target != "" && s.Labels["target"] != q.Target {
			continue
		}
		k := s.Key()
		a := byKey[k]
		if a == nil {
			labels := s.Labels
			if labels == nil {
				labels = map[string]string{}
			}
			a = &acc{labels: labels, sums: map[int64][2]float64{}}
			byKey[k] = a
		}
		i := int64(s.Time.Sub(q.From) / q.Step)
		v := a.sums[i]
		a.sums[i] = [2]float64{v[0] + s.Value, v[1] + 1}
	}
	out := make([]Series, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		a := byKey[k]
		idx := slices.Sorted(maps.Keys(a.sums))
		pts := make([][2]float64, 0, len(idx))
		for _, i := range idx {
			v := a.sums[i]
			t := q.From.Add(time.Duration(i) * q.Step)
			pts = append(pts, [2]float64{float64(t.UnixMilli()), v[0] / v[1]})
		}
		out = append(out, Series{Labels: a.labels, Points: pts})
	}
	return out
}
