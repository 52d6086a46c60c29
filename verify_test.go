package perfengine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"modernc.org/sqlite"

	"github.com/perfengine/perfengine/dbopt"
	"github.com/perfengine/perfengine/dbopt/querytrace"
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

// TestAppliedFixClearsItsFinding: an ANALYZE the engine runs by itself is
// verified by the database module's statistics finding no longer naming
// the table, within clearCycles cycles.
func TestAppliedFixClearsItsFinding(t *testing.T) {
	rec := querytrace.NewRecorder(0)
	db := querytrace.Open(&sqlite.Driver{}, filepath.Join(t.TempDir(), "shop.db"), rec)
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE INDEX products_name ON products (name)`,
		`INSERT INTO products (name) VALUES ('a'), ('b'), ('c')`,
	} {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewDatabaseModule(dbopt.NewSQLite(db, dbopt.WithRecorder(rec)), DatabaseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	named := func() bool {
		for _, f := range e.Summary().Findings {
			if f.Kind == "analyze" && slices.Contains(f.Objects, "products") {
				return true
			}
		}
		return false
	}
	e.step(clk)
	if !named() {
		t.Fatalf("findings %+v, want the analyze check naming products", e.Summary().Findings)
	}
	for range clearCycles + 1 {
		e.step(clk)
	}
	var got *Verification
	for _, a := range e.Actions(ActionApplied) {
		if a.Kind == ActionAnalyze && a.Target == "products" {
			got = a.Verification
		}
	}
	if got == nil || got.State != Verified || !strings.Contains(got.Note, "analyze on products no longer reported") {
		t.Fatalf("analyze verification %+v, want verified by its finding clearing", got)
	}
	if named() {
		t.Errorf("the analyze finding still names products after ANALYZE: %+v", e.Summary().Findings)
	}
}

// stubbornModule reports a finding its one safe fix does not clear.
type stubbornModule struct{ applied bool }

func (m *stubbornModule) Name() string                                      { return "stubborn" }
func (m *stubbornModule) Collect(context.Context) ([]metrics.Sample, error) { return nil, nil }
func (m *stubbornModule) Recommend(context.Context, Snapshot) ([]Action, error) {
	if m.applied {
		return nil, nil
	}
	return []Action{{Kind: "sweep", Target: "attic", Risk: RiskSafe, Description: "sweep the attic",
		Expect: &Expectation{Clears: &FindingRef{Module: "stubborn", Kind: "dust", Object: "attic"}}}}, nil
}
func (m *stubbornModule) Apply(context.Context, Action) (Result, error) {
	m.applied = true
	return Result{Message: "swept"}, nil
}
func (m *stubbornModule) Undo(context.Context, Action) error { return ErrNotUndoable }
func (m *stubbornModule) Findings() []Finding {
	return []Finding{{Module: "stubborn", Kind: "dust", Severity: SeverityWarning, Title: "dust in the attic", Objects: []string{"attic"}, Advice: true}}
}

// TestFixThatDoesNotClearSaysSo: a fix whose finding stays is of no effect,
// and the finding says which action was applied and what it did.
func TestFixThatDoesNotClearSaysSo(t *testing.T) {
	e, clk := newTestEngine(t, DefaultConfig(), &stubbornModule{})
	for range persistCycles + 2 {
		e.step(clk)
	}
	as := e.Actions(ActionApplied)
	if len(as) != 1 || as[0].Verification == nil || as[0].Verification.State != VerifyNoEffect {
		t.Fatalf("applied %+v, want the sweep of no effect", as)
	}
	if !strings.Contains(as[0].Verification.Note, "still reported") {
		t.Errorf("note %q", as[0].Verification.Note)
	}
	fs := e.Summary().Findings
	if len(fs) != 1 || !strings.Contains(fs[0].Detail, "persists after sweep attic was applied") || !strings.Contains(fs[0].Detail, "(swept)") {
		t.Errorf("findings %+v, want the dust to say the sweep did not clear it", fs)
	}
}

// sparseRouteModule is a route asked once every three intervals: its p95
// is 0 in the intervals without a request. Its action (a cache) takes the
// route from about 100 ms to about 1 ms.
type sparseRouteModule struct {
	tunableModule
}

func (m *sparseRouteModule) Collect(context.Context) ([]metrics.Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick++
	v := 0.0
	if m.tick%3 == 0 {
		v = m.latency + float64(m.tick%4)
	}
	return []metrics.Sample{{Name: APIRouteP95Ms, Labels: map[string]string{"route": "GET /x"}, Value: v}}, nil
}

func (m *sparseRouteModule) Recommend(context.Context, Snapshot) ([]Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tick < m.from || m.applied {
		return nil, nil
	}
	return []Action{{Kind: "cache", Target: "GET /x", Risk: RiskSafe, Description: "cache the route",
		Expect: &Expectation{Series: metrics.SeriesKey(APIRouteP95Ms, map[string]string{"route": "GET /x"}), LowerIsBetter: true}}}, nil
}

// TestVerificationSkipsIntervalsWithoutRequests: the intervals in which a
// route had no request are not fast ones; a cache that takes a rarely
// asked route from 100 ms to 1 ms is verified from the intervals that
// measured it.
func TestVerificationSkipsIntervalsWithoutRequests(t *testing.T) {
	m := &sparseRouteModule{tunableModule{from: 3 * verifyIntervals, latency: 100, after: 1}}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	for range 7 * verifyIntervals {
		e.step(clk)
	}
	var got Action
	for _, a := range e.Actions() {
		if a.Kind == "cache" {
			got = a
		}
	}
	v := got.Verification
	if v == nil || v.State != Verified || v.Before < 100 || v.After > 5 || v.Samples[0] < verifyIntervals-1 {
		t.Fatalf("action %+v, verification %+v; want verified, about 101 → 2 ms over the measured intervals", got, v)
	}
}
