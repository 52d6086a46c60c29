package perfengine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
)

// Expectation is the effect an action promises, which the engine measures
// once it is applied: the series it should move, and which way is better.
type Expectation struct {
	// Series is the key of the series, as in Summary.Metrics:
	// `api_route_p95_ms{route="GET /api/products"}`.
	Series string `json:"series,omitempty"`
	// LowerIsBetter is true for a latency, a wait or a GC cost, false for
	// a hit ratio or a throughput.
	LowerIsBetter bool `json:"lower_is_better,omitempty"`
	// Clears is the finding the action fixes, for an action whose effect
	// is a finding gone rather than a series moved (statistics gathered,
	// space reclaimed): it is verified when the finding no longer names
	// its object, and of no effect, with the finding saying so, when it
	// still does.
	Clears *FindingRef `json:"clears,omitempty"`
}

// FindingRef names a finding by its module and kind and, when Object is
// set, the object among its Objects.
type FindingRef struct {
	Module string `json:"module"`
	Kind   string `json:"kind"`
	Object string `json:"object,omitempty"`
}

func (r FindingRef) String() string {
	s := r.Module + " finding " + r.Kind
	if r.Object != "" {
		s += " on " + r.Object
	}
	return s
}

// names reports whether f is the finding r refers to, still naming its
// object.
func (r FindingRef) names(f Finding) bool {
	return f.Module == r.Module && f.Kind == r.Kind && (r.Object == "" || slices.Contains(f.Objects, r.Object))
}

// A cleared finding is judged from the second cycle after the action: the
// first refreshes the module's findings (a module's Apply asks for that),
// the second reads them. One still there after persistCycles stays.
const (
	clearCycles   = 2
	persistCycles = 4
)

// Verification states.
const (
	// VerifyMeasuring: applied, the window after it is still filling.
	VerifyMeasuring = "measuring"
	// Verified: the series moved the promised way, significantly.
	Verified = "verified"
	// VerifyNoEffect: no significant change either way.
	VerifyNoEffect = "no_effect"
	// VerifyHarmful: the series moved the wrong way, significantly; the
	// engine undoes the action when its module can.
	VerifyHarmful = "harmful"
	// VerifyNoData: the series had too few values before or after.
	VerifyNoData = "no_data"
)

// Verification is what the engine measured of an applied action: the
// series' median over verifyIntervals intervals before and after it, and
// the Mann–Whitney test between them.
type Verification struct {
	State  string `json:"state"`
	Series string `json:"series,omitempty"`
	// Finding is the finding the action was to clear, when its effect is
	// that rather than a series (Expectation.Clears).
	Finding  string    `json:"finding,omitempty"`
	Before   float64   `json:"before,omitzero"` // median, omitted when 0 (as for a finding)
	After    float64   `json:"after,omitempty"`
	DeltaPct float64   `json:"delta_pct,omitempty"`
	P        float64   `json:"p,omitempty"`
	Samples  [2]int    `json:"samples,omitzero"` // before, after
	Time     time.Time `json:"time"`             // when the state was last set
	Note     string    `json:"note,omitempty"`
}

func (v Verification) String() string {
	if v.Series == "" && v.Note != "" {
		return v.State + ": " + v.Note
	}
	if v.Series == "" {
		return v.State
	}
	switch v.State {
	case VerifyMeasuring:
		return fmt.Sprintf("measuring %s (before: %.4g)", v.Series, v.Before)
	case VerifyNoData:
		return fmt.Sprintf("%s: %s", v.State, v.Note)
	}
	return fmt.Sprintf("%s: %s %.4g → %.4g (%+.1f%%, p %.2g)", v.State, v.Series, v.Before, v.After, v.DeltaPct, v.P)
}

// verifyIntervals is how many monitoring intervals before an action and
// after it are compared: five minutes at the default 30 s.
const verifyIntervals = 10

// paramVerification is the Params key that carries a Verification through
// the store, which holds actions' parameters but not this field.
const paramVerification = "verification"

// pendingCheck is an applied action whose effect is being measured.
type pendingCheck struct {
	id      string
	expect  Expectation
	before  []float64
	applied time.Time
	cycles  int // verify passes since the action was applied
}

// startVerification notes the series' values before an action took effect.
// It runs right after the action is applied, and returns it with its
// verification begun.
func (e *Engine) startVerification(a Action) Action {
	if a.Expect == nil || a.State != ActionApplied {
		return a
	}
	if a.Expect.Series == "" {
		if a.Expect.Clears == nil {
			return a
		}
		v := Verification{State: VerifyMeasuring, Finding: a.Expect.Clears.String(), Time: a.UpdatedAt,
			Note: "waiting for " + a.Expect.Clears.String() + " to clear"}
		a = e.book.setVerification(a.ID, v)
		e.mu.Lock()
		e.checks = append(e.checks, pendingCheck{id: a.ID, expect: *a.Expect, applied: a.UpdatedAt})
		e.mu.Unlock()
		return a
	}
	before := e.measuredSince(a.Expect.Series, time.Time{})
	before = before[max(0, len(before)-verifyIntervals):]
	v := Verification{State: VerifyMeasuring, Series: a.Expect.Series, Samples: [2]int{len(before), 0}, Time: a.UpdatedAt}
	if len(before) > 0 {
		v.Before = median(before)
	}
	a = e.book.setVerification(a.ID, v)
	e.mu.Lock()
	e.checks = append(e.checks, pendingCheck{id: a.ID, expect: *a.Expect, before: before, applied: a.UpdatedAt})
	e.mu.Unlock()
	return a
}

// measuring reports whether the series an action promises to move has
// fewer than verifyIntervals values yet, and how many: the policy applies
// it only once there is a window before it to measure its effect against.
// A series that has not appeared (a module may start reporting it with
// the proposal) is waited for too, up to twice the window after the
// proposal; then the action applies unmeasured rather than never.
func (e *Engine) measuring(a Action, now time.Time, interval time.Duration) (int, bool) {
	if a.Expect == nil || a.Expect.Series == "" {
		return 0, false
	}
	n := len(e.measuredSince(a.Expect.Series, time.Time{}))
	if n >= verifyIntervals || now.Sub(a.CreatedAt) >= 2*verifyIntervals*interval {
		return n, false
	}
	return n, true
}

// verify judges each applied action whose window after it has filled, and
// undoes the ones that did harm. It runs once a cycle, after collection.
func (e *Engine) verify(ctx context.Context, now time.Time, cfg Config, mods []*moduleState) {
	e.mu.Lock()
	checks := e.checks
	e.mu.Unlock()
	var keep []pendingCheck
	var findings []Finding
	for _, c := range checks {
		a, ok := e.book.get(c.id)
		if !ok || a.State != ActionApplied {
			continue // undone or gone meanwhile
		}
		if c.expect.Series == "" {
			c.cycles++
			if findings == nil {
				findings = reportedFindings(cfg, mods)
			}
			v, done := judgeCleared(c, findings, now)
			if !done {
				keep = append(keep, c)
				continue
			}
			a = e.book.setVerification(c.id, v)
			e.record(ctx, a)
			e.log.Info("action verified", "id", a.ID, "kind", a.Kind, "target", a.Target, "verification", v.String())
			continue
		}
		after := e.measuredSince(c.expect.Series, c.applied)
		waited := now.Sub(c.applied) >= 3*verifyIntervals*cfg.MonitoringInterval.D()
		if len(after) < verifyIntervals && !waited {
			keep = append(keep, c)
			continue
		}
		v := judgeEffect(c, after, cfg.Regression.Sensitivity, now)
		a = e.book.setVerification(c.id, v)
		e.record(ctx, a)
		e.log.Info("action verified", "id", a.ID, "kind", a.Kind, "target", a.Target, "verification", v.String())
		if v.State == VerifyHarmful {
			if _, err := e.Undo(ctx, a.ID); err != nil {
				e.log.Warn("undo harmful action", "id", a.ID, "kind", a.Kind, "err", err)
			} else {
				e.log.Warn("harmful action undone", "id", a.ID, "kind", a.Kind, "target", a.Target)
			}
		}
	}
	e.mu.Lock()
	// Checks added while this ran (an Approve) stay.
	e.checks = append(keep, e.checks[len(checks):]...)
	e.mu.Unlock()
}

// measuredSince returns the series' values after t, without the intervals
// that measured nothing: a route's latency of 0 is an interval in which it
// had no request, and counted as fast it would show a cached route, asked
// once a minute, as unchanged or slower.
func (e *Engine) measuredSince(key string, t time.Time) []float64 {
	s, ok := e.series.Get(key)
	if !ok {
		return nil
	}
	name, _, _ := strings.Cut(key, "{")
	var out []float64
	for _, p := range s.Points(nil) {
		if p.Time.After(t) && !math.IsNaN(measured(name, p.Value)) {
			out = append(out, p.Value)
		}
	}
	return out
}

// judgeCleared looks for the finding an action was to clear among the
// modules' current findings; done is false while it is too early to say.
func judgeCleared(c pendingCheck, findings []Finding, now time.Time) (v Verification, done bool) {
	ref := *c.expect.Clears
	var still *Finding
	for i := range findings {
		if ref.names(findings[i]) {
			still = &findings[i]
			break
		}
	}
	v = Verification{Finding: ref.String(), Time: now}
	switch {
	case still == nil && c.cycles >= clearCycles:
		v.State, v.Note = Verified, ref.String()+" no longer reported"
	case still != nil && c.cycles >= persistCycles:
		v.State, v.Note = VerifyNoEffect, fmt.Sprintf("%s still reported %d cycles after: %s", ref, c.cycles, still.Title)
	default:
		return v, false
	}
	return v, true
}

// persisting notes, on each finding an applied action was to clear but did
// not, which action that was and what it did: the finding says why it is
// still there rather than looking unattended.
func persisting(findings []Finding, applied []Action) {
	for _, a := range applied {
		if a.Expect == nil || a.Expect.Clears == nil || a.Verification == nil || a.Verification.State != VerifyNoEffect {
			continue
		}
		for i := range findings {
			if a.Expect.Clears.names(findings[i]) {
				findings[i].Detail = strings.TrimPrefix(findings[i].Detail+"\n", "\n") + fmt.Sprintf(
					"persists after %s %s was applied at %s (%s); the module still finds it, so the cause is not what that action fixes",
					a.Kind, a.Target, a.UpdatedAt.UTC().Format(time.RFC3339), cmp.Or(a.Result, "no result"))
			}
		}
	}
}

// judgeEffect compares the series before and after an action.
func judgeEffect(c pendingCheck, after []float64, sensitivity string, now time.Time) Verification {
	dir := regress.HigherIsBetter
	if c.expect.LowerIsBetter {
		dir = regress.LowerIsBetter
	}
	v := Verification{Series: c.expect.Series, Samples: [2]int{len(c.before), len(after)}, Time: now}
	cmp, err := regress.Compare(c.expect.Series, c.before, after, regress.CompareOptions{
		Sensitivity: regress.Sensitivity(sensitivity), Directions: map[string]regress.Direction{c.expect.Series: dir},
	})
	if err != nil || cmp.Change == regress.NoData {
		v.State, v.Note = VerifyNoData, fmt.Sprintf("%d values before and %d after", len(c.before), len(after))
		if err != nil {
			v.Note = err.Error()
		}
		return v
	}
	v.Before, v.After, v.DeltaPct, v.P = cmp.Baseline.Median, cmp.Candidate.Median, cmp.DeltaPct, cmp.P
	switch {
	case cmp.Significant && cmp.Change == regress.Improvement:
		v.State = Verified
	case cmp.Significant && cmp.Change == regress.Regression:
		v.State = VerifyHarmful
	default:
		v.State = VerifyNoEffect
	}
	return v
}

// setVerification records v on the action, in its Params too so that the
// store keeps it.
func (b *actionBook) setVerification(id string, v Verification) Action {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.byID[id]
	a.Verification = &v
	if a.Params == nil {
		a.Params = map[string]string{}
	}
	if js, err := json.Marshal(v); err == nil {
		a.Params[paramVerification] = string(js)
	}
	return clone(*a)
}

// verificationOf reads back the Verification a stored action carries.
func verificationOf(params map[string]string) *Verification {
	js, ok := params[paramVerification]
	if !ok {
		return nil
	}
	var v Verification
	if json.Unmarshal([]byte(js), &v) != nil {
		return nil
	}
	return &v
}

func median(xs []float64) float64 {
	return metrics.Select(slices.Clone(xs), len(xs)/2)
}
