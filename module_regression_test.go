package perfengine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
	"github.com/perfengine/perfengine/store"
)

// TestRegressionModuleInEngine steps an engine through a latency step: the
// live detector flags it within a few intervals, a finding appears, and a
// rollback action is proposed; with autoRollbackEnabled it is applied after
// three failing intervals, as a dry run since no actuator is configured.
func TestRegressionModuleInEngine(t *testing.T) {
	tests := []struct {
		name      string
		auto      bool
		wantState ActionState
	}{
		{"approval needed", false, ActionPending},
		{"auto rollback", true, ActionApplied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Version = "v2"
			cfg.Regression.RollbackTo = "v1"
			cfg.Regression.AutoRollbackEnabled = tc.auto
			reg, err := NewRegressionModule(cfg.Regression)
			if err != nil {
				t.Fatal(err)
			}
			load := &testModule{name: "load"}
			e, clk := newTestEngine(t, cfg, load, reg)
			for i := range 25 { // past the 20-interval warm-up
				load.set(metrics.ResponseTimeMs, 100+float64(i%3))
				e.step(clk)
			}
			if n := len(e.Actions()); n != 0 {
				t.Fatalf("%d actions before the step: %+v", n, e.Actions())
			}
			flaggedAt := -1
			var stepAt time.Time
			for i := range 8 {
				load.set(metrics.ResponseTimeMs, 400+float64(i%3))
				e.step(clk)
				if i == 0 {
					stepAt = clk.now()
				}
				if flaggedAt < 0 && len(reg.Findings()) > 0 {
					flaggedAt = i
				}
			}
			if flaggedAt < 0 || flaggedAt > 3 {
				t.Fatalf("regression flagged after %d intervals, want within 3", flaggedAt)
			}
			f := reg.Findings()[0]
			if f.Kind != FindingRegression || !strings.Contains(f.Title, "response_time_ms") {
				t.Errorf("finding %+v", f)
			}
			// Since is the change point: the first slow interval, not when
			// the detector was sure.
			if d := f.Since.Sub(stepAt); d < -time.Second || d > time.Second {
				t.Errorf("finding since %s, the step came at %s", f.Since, stepAt)
			}
			var rb []Action
			for _, a := range e.Actions() {
				if a.Kind == ActionRollback {
					rb = append(rb, a)
				}
			}
			if len(rb) != 1 {
				t.Fatalf("rollback actions %+v, want one", rb)
			}
			a := rb[0]
			if a.State != tc.wantState || a.Risk != RiskRisky || a.Params["from"] != "v2" || a.Params["to"] != "v1" || a.Params["dry_run"] != "true" {
				t.Errorf("rollback action %+v, want %s, risky, v2 → v1, dry run", a, tc.wantState)
			}
			if tc.auto && !strings.HasPrefix(a.Result, "dry run: would roll back v2 to v1") {
				t.Errorf("result %q, want a dry run", a.Result)
			}
			if tc.auto {
				if recs := reg.Rollbacker().Records(); len(recs) != 1 || !recs[0].DryRun || !recs[0].Automatic {
					t.Errorf("rollback records %+v, want one automatic dry run", recs)
				}
			}
			// Steady values saved as the baseline of v1; values after the
			// step, judged against it, fail.
			if tc.auto {
				cfgV1 := cfg
				cfgV1.Version = "v1"
				base, _ := NewRegressionModule(cfg.Regression)
				for i := range 30 {
					base.Recommend(context.Background(), Snapshot{Latest: map[string]float64{metrics.ResponseTimeMs: 100 + float64(i%3)}, Config: cfgV1}) //nolint:errcheck
				}
				if v, err := base.SaveBaseline(context.Background(), e.Store()); err != nil || v != "v1" {
					t.Fatalf("SaveBaseline = %q, %v", v, err)
				}
				cand, _ := NewRegressionModule(cfg.Regression)
				for i := range 30 {
					cand.Recommend(context.Background(), Snapshot{Latest: map[string]float64{metrics.ResponseTimeMs: 400 + float64(i%3)}, Config: cfg}) //nolint:errcheck
				}
				j, err := cand.JudgeAgainst(context.Background(), e.Store(), "v1")
				if err != nil || j.Verdict != regress.Fail {
					t.Errorf("JudgeAgainst(v1) = %s %.0f %v, %v; want fail", j.Verdict, j.Score, j.Reasons, err)
				}
			}
			stored, err := e.Store().ListActions(context.Background(), store.ActionFilter{Module: "regression"})
			if err != nil || len(stored) == 0 {
				t.Errorf("stored rollback actions %v, %v; want it recorded", stored, err)
			}
		})
	}
}

func TestRegressionModuleDirections(t *testing.T) {
	m, err := NewRegressionModule(defaultRegressionConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	feed := func(key string, v float64) []Action {
		acts, err := m.Recommend(context.Background(), Snapshot{Latest: map[string]float64{key: v}, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
	// Throughput rising is good news: no finding, no action.
	for i := range 50 {
		v := 500.0
		if i >= 25 {
			v = 900
		}
		if acts := feed(metrics.ThroughputRPS, v+float64(i%2)); len(acts) != 0 {
			t.Fatalf("interval %d: actions %+v for rising throughput", i, acts)
		}
	}
	if len(m.Findings()) != 0 {
		t.Errorf("findings %+v for an improvement", m.Findings())
	}
	// Latency that steps up is a finding while it lasts, and none once it
	// is back: the summary lists what is wrong now.
	for i := range 80 {
		v := 100.0
		if i >= 25 && i < 50 {
			v = 400
		}
		feed(metrics.ResponseTimeMs, v+float64(i%3))
		if i == 49 && len(m.Findings()) != 1 {
			t.Fatalf("findings while latency is up: %+v, want one", m.Findings())
		}
	}
	if len(m.Findings()) != 0 {
		t.Errorf("findings after latency came back: %+v, want none", m.Findings())
	}
	// A way back in steps, each too small for the detector to report, still
	// ends the regression.
	for i := range 60 {
		v := 100.0
		if i >= 25 {
			v = 130
		}
		feed(metrics.ResponseTimeMs, v+float64(i%3))
	}
	if len(m.Findings()) != 1 {
		t.Fatalf("findings after a 30 ms step: %+v, want one", m.Findings())
	}
	for i, v := range []float64{126, 122, 118, 114, 110, 106, 102, 100, 100, 100, 100, 100, 100} {
		feed(metrics.ResponseTimeMs, v+float64(i%3))
	}
	if len(m.Findings()) != 0 {
		t.Errorf("findings after latency came back in small steps: %+v, want none", m.Findings())
	}
	// A series that is not a key series is ignored.
	for range 30 {
		feed("goroutines", 5)
	}
	if got, _ := m.Collect(context.Background()); len(got) < 1 || got[0].Value != 0 {
		t.Errorf("Collect = %+v", got)
	}
	if _, err := NewRegressionModule(RegressionConfig{Sensitivity: "wild"}); err == nil {
		t.Error("NewRegressionModule(sensitivity wild) succeeded")
	}
	if _, err := m.Apply(context.Background(), Action{Kind: "drop_table"}); err == nil {
		t.Error("Apply(unknown kind) succeeded")
	}
}

// TestNoRollbackOfAnUnknownVersion: a regression of a process whose
// version nobody set is a finding that says why no rollback is proposed,
// never a rollback of "unknown".
func TestNoRollbackOfAnUnknownVersion(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Regression.AutoRollbackEnabled = true
	reg, err := NewRegressionModule(cfg.Regression)
	if err != nil {
		t.Fatal(err)
	}
	load := &testModule{name: "load"}
	e, clk := newTestEngine(t, cfg, load, reg)
	for i := range 25 {
		load.set(metrics.ResponseTimeMs, 100+float64(i%3))
		e.step(clk)
	}
	for i := range 8 {
		load.set(metrics.ResponseTimeMs, 400+float64(i%3))
		e.step(clk)
	}
	fs := reg.Findings()
	if len(fs) == 0 || !strings.Contains(fs[0].Detail, "no rollback proposed: the running version is unknown") {
		t.Fatalf("findings %+v, want the regression with the reason there is no rollback", fs)
	}
	for _, a := range e.Actions() {
		if a.Kind == ActionRollback {
			t.Errorf("a rollback was proposed for an unknown version: %+v", a)
		}
	}
}

// TestTargetRegressionIsTheTargetsFinding: a daemon target's series that
// regresses is a finding about that target, and never a rollback of this
// process's release.
func TestTargetRegressionIsTheTargetsFinding(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Version = "v2"
	cfg.Regression.AutoRollbackEnabled = true
	reg, err := NewRegressionModule(cfg.Regression)
	if err != nil {
		t.Fatal(err)
	}
	shop := &testModule{name: "shop"}
	e, clk := newTestEngine(t, cfg, shop, reg)
	set := func(v float64) {
		shop.mu.Lock()
		shop.samples = []metrics.Sample{{Name: metrics.ResponseTimeMs, Value: v, Labels: map[string]string{"target": "shop"}}}
		shop.mu.Unlock()
	}
	for i := range 25 {
		set(100 + float64(i%3))
		e.step(clk)
	}
	for i := range 8 {
		set(400 + float64(i%3))
		e.step(clk)
	}
	fs := reg.Findings()
	if len(fs) == 0 || fs[0].Target != "shop" {
		t.Fatalf("findings %+v, want the regression as shop's", fs)
	}
	for _, a := range e.Actions() {
		if a.Kind == ActionRollback {
			t.Errorf("a target's regression proposed a rollback of this process: %+v", a)
		}
	}
}

func TestTargetOf(t *testing.T) {
	for key, want := range map[string]string{
		"response_time_ms":                            "",
		`response_time_ms{target="shop"}`:             "shop",
		`api_route_p95_ms{route="/x",target="web-1"}`: "web-1",
		`api_route_p95_ms{route="/x"}`:                "",
	} {
		if got := targetOf(key); got != want {
			t.Errorf("targetOf(%s) = %q, want %q", key, got, want)
		}
	}
}
