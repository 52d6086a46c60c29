package perfengine

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/perfengine/perfengine/metrics"
)

// tunableModule reports a latency that its one safe action changes to
// after, as a real tuning would, and proposes that action until applied.
type tunableModule struct {
	mu       sync.Mutex
	from     int // the first collection after which it proposes
	latency  float64
	after    float64
	tick     int
	applied  bool
	proposed int
	undone   bool
}

func (m *tunableModule) Name() string { return "tunable" }
func (m *tunableModule) Collect(context.Context) ([]metrics.Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick++
	return []metrics.Sample{{Name: "tunable_latency_ms", Value: m.latency + float64(m.tick%4)}}, nil
}
func (m *tunableModule) Recommend(context.Context, Snapshot) ([]Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tick < m.from {
		return nil, nil
	}
	m.proposed++
	return []Action{{Kind: "tune", Target: "knob", Risk: RiskModerate, Description: "tune the knob",
		Expect: &Expectation{Series: "tunable_latency_ms", LowerIsBetter: true}}}, nil
}
func (m *tunableModule) Apply(context.Context, Action) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applied, m.latency = true, m.after
	return Result{Message: "tuned"}, nil
}
func (m *tunableModule) Undo(context.Context, Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.undone, m.latency = true, 100
	return nil
}

// TestAppliedActionsAreVerified: the engine measures the series an applied
// action promised to move over verifyIntervals intervals before and after
// it, records the before/after on the action, and undoes one that did harm,
// which is then not proposed again.
func TestAppliedActionsAreVerified(t *testing.T) {
	for _, tc := range []struct {
		after float64
		want  string
	}{
		{50, Verified},
		{100, VerifyNoEffect},
		{300, VerifyHarmful},
	} {
		t.Run(tc.want, func(t *testing.T) {
			m := &tunableModule{from: 12, latency: 100, after: tc.after}
			cfg := DefaultConfig()
			cfg.AggressiveMode = true // moderate actions apply by themselves
			e, clk := newTestEngine(t, cfg, m)
			for range 12 + verifyIntervals + 2 {
				e.step(clk)
			}
			var got Action
			for _, a := range e.Actions() {
				if a.Kind == "tune" {
					got = a
				}
			}
			v := got.Verification
			if v == nil || v.State != tc.want || v.Samples[0] < verifyIntervals-1 || v.Samples[1] < verifyIntervals {
				t.Fatalf("action %+v, verification %+v; want %s over %d intervals each side", got, v, tc.want, verifyIntervals)
			}
			if tc.want != VerifyNoEffect && (v.Before < 100 || v.Before > 104 || v.After < tc.after || v.After > tc.after+4) {
				t.Errorf("before/after %v → %v, want about 101 → %v", v.Before, v.After, tc.after+1)
			}
			m.mu.Lock()
			undone, proposed := m.undone, m.proposed
			m.mu.Unlock()
			if harmful := tc.want == VerifyHarmful; undone != harmful || harmful && got.State != ActionUndone {
				t.Errorf("undone %v, state %s; want undone only when harmful", undone, got.State)
			}
			// The measure is in the summary and survives the store.
			if s := e.Summary(); !strings.Contains(fmtActions(s.Optimizations), tc.want) {
				t.Errorf("summary optimizations %s, want the verification", fmtActions(s.Optimizations))
			}
			rec, err := e.Store().GetAction(t.Context(), got.ID)
			if err != nil || verificationOf(rec.Params) == nil || verificationOf(rec.Params).State != tc.want {
				t.Errorf("stored action %+v (%v), want its verification kept", rec, err)
			}
			e.step(clk)
			m.mu.Lock()
			if m.proposed > proposed && tc.want == VerifyHarmful && len(e.Actions(ActionPending)) > 0 {
				t.Errorf("a harmful action undone was proposed again: %+v", e.Actions(ActionPending))
			}
			m.mu.Unlock()
		})
	}
}

func fmtActions(as []Action) string {
	var b strings.Builder
	for _, a := range as {
		if a.Verification != nil {
			b.WriteString(a.Kind + ":" + a.Verification.String() + "; ")
		}
	}
	return b.String()
}

// TestPolicyWaitsForAWindowBefore: an action proposed before its series has
// verifyIntervals values waits, so that its effect can be measured.
func TestPolicyWaitsForAWindowBefore(t *testing.T) {
	m := &tunableModule{from: 1, latency: 100, after: 50}
	cfg := DefaultConfig()
	cfg.AggressiveMode = true
	e, clk := newTestEngine(t, cfg, m)
	for i := 1; i <= verifyIntervals+1; i++ {
		e.step(clk)
		m.mu.Lock()
		applied := m.applied
		m.mu.Unlock()
		if applied != (i >= verifyIntervals) {
			t.Fatalf("cycle %d: applied %v, want it applied from cycle %d on, once %d values were seen", i, applied, verifyIntervals, verifyIntervals)
		}
	}
}

// TestMeasuringDoesNotSurviveARestart: an action whose effect was still
// being measured when the engine stopped is restored as no_data, saying
// why, not left measuring for ever.
func TestMeasuringDoesNotSurviveARestart(t *testing.T) {
	b := newActionBook()
	v := Verification{State: VerifyMeasuring, Series: "x", Before: 3}
	js, _ := json.Marshal(v)
	b.restore(fromRecord(toRecord(Action{ID: "a1", Module: "m", Kind: "k", State: ActionApplied, Params: map[string]string{paramVerification: string(js)}})))
	a, _ := b.get("a1")
	if a.Verification == nil || a.Verification.State != VerifyNoData || !strings.Contains(a.Verification.Note, "restarted") || a.Verification.Before != 3 {
		t.Errorf("restored verification %+v, want no_data because of the restart, the figure before kept", a.Verification)
	}
}
