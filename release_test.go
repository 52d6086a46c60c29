package perfengine

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
	"github.com/perfengine/perfengine/store"
)

// releaseProcess is one run of a service at a version: an engine with a
// regression module over a store the runs share, a manual clock, and a
// load module the test sets.
type releaseProcess struct {
	e    *Engine
	clk  *clock
	reg  *RegressionModule
	load *testModule
	i    int
}

func startRelease(t *testing.T, st store.Store, version string, mutate func(*Config)) *releaseProcess {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Version = version
	cfg.MonitoringInterval = Duration(time.Second)
	cfg.Thresholds.CPU = Threshold{100, 100}
	cfg.Thresholds.Memory = Threshold{1, 1}
	cfg.Thresholds.ResponseTime = Threshold{3_000_000, 3_000_000}
	cfg.Modules.Memory = false
	cfg.Regression.BaselineAfter = Duration(20 * time.Second)
	if mutate != nil {
		mutate(&cfg)
	}
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	reg, err := NewRegressionModule(cfg.Regression, WithRegressionClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	load := &testModule{name: "load"}
	e, err := New(cfg, WithClock(clk.now), WithStore(st), WithModules(load, reg))
	if err != nil {
		t.Fatal(err)
	}
	return &releaseProcess{e: e, clk: clk, reg: reg, load: load}
}

// serve runs n intervals at latency ms (with a little jitter) and 50
// requests a second.
func (p *releaseProcess) serve(n int, ms float64) {
	for range n {
		p.load.mu.Lock()
		p.load.samples = []metrics.Sample{
			{Name: metrics.ResponseTimeMs, Value: ms + float64(p.i%5)},
			{Name: metrics.ThroughputRPS, Value: 50 + float64(p.i%3)},
		}
		p.load.mu.Unlock()
		p.i++
		p.e.step(p.clk)
	}
}

func (p *releaseProcess) rollbacks() []Action {
	var out []Action
	for _, a := range p.e.Actions() {
		if a.Kind == ActionRollback {
			out = append(out, a)
		}
	}
	return out
}

// TestReleaseJudgedAgainstThePreviousBaseline follows two releases over one
// store: v1 saves its baseline by itself after 20 s of clean traffic; v2,
// three times slower, is judged against it once warmed up, found worse (a
// performance regression, critical) and rolled back to v1 in a dry run,
// once; a v3 as fast as v1 passes and saves its own baseline.
func TestReleaseJudgedAgainstThePreviousBaseline(t *testing.T) {
	st := openTestStore(t)

	v1 := startRelease(t, st, "v1", nil)
	v1.serve(10, 100)
	if r := v1.e.Summary().Release; r == nil || r.BaselineSaved || r.Previous != "" {
		t.Fatalf("v1 after 10 s: %+v, want no baseline yet and no previous release", r)
	}
	v1.serve(15, 100)
	r := v1.e.Summary().Release
	if r == nil || !r.BaselineSaved || r.Version != "v1" || r.Source != VersionFromConfig || r.Requests < 1000 {
		t.Fatalf("v1 after 25 s: %+v, want its baseline saved after 20 s of traffic", r)
	}
	if vs, _ := st.Versions(t.Context()); len(vs) != 1 || vs[0] != "v1" {
		t.Fatalf("stored baselines %v, want v1's", vs)
	}
	if len(v1.rollbacks()) != 0 || len(v1.reg.Findings()) != 0 {
		t.Fatalf("v1: rollbacks %+v, findings %+v; want none", v1.rollbacks(), v1.reg.Findings())
	}

	v2 := startRelease(t, st, "v2", func(c *Config) { c.Regression.AutoRollbackEnabled = true })
	v2.serve(1, 300)
	if r := v2.e.Summary().Release; r.Previous != "v1" || !strings.Contains(r.Rollback, "no regression") {
		t.Fatalf("v2 in its first interval: %+v, want v1 as previous and nothing judged yet", r)
	}
	found := -1
	for i := range 8 {
		v2.serve(1, 300)
		if len(v2.rollbacks()) > 0 {
			found = i + 2 // intervals served
			break
		}
	}
	if found < 0 || found > 2+3 {
		t.Fatalf("v2 rollback after %d intervals (summary %+v), want within 3 after the 2-interval warm-up", found, v2.e.Summary().Release)
	}
	var rf *Finding
	for _, f := range v2.reg.Findings() {
		if f.Kind == FindingReleaseRegression {
			rf = &f
		}
	}
	if rf == nil || rf.Severity != SeverityCritical || !strings.Contains(rf.Title, "performance release v2") || !strings.Contains(rf.Title, "against v1") {
		t.Fatalf("findings %+v, want a critical performance regression of v2 against v1", v2.reg.Findings())
	}
	if s := v2.e.Summary(); s.Status != StatusCritical || s.Causes[0].Subject != "release:"+metrics.ResponseTimeMs {
		t.Errorf("status %s, causes %+v; want critical from the release finding", s.Status, s.Causes)
	}
	rb := v2.rollbacks()[0]
	if rb.Params["from"] != "v2" || rb.Params["to"] != "v1" || rb.Params["dry_run"] != "true" {
		t.Errorf("rollback %+v, want a dry run from v2 to v1", rb)
	}
	v2.serve(5, 300)
	rbs := v2.rollbacks()
	if len(rbs) != 1 || rbs[0].State != ActionApplied {
		t.Fatalf("rollbacks %+v, want the one, applied (dry run) once the regression lasted", rbs)
	}
	if recs := v2.reg.Rollbacker().Records(); len(recs) != 1 {
		t.Errorf("rollback records %+v, want one", recs)
	}
	if r := v2.e.Summary().Release; !strings.Contains(r.Rollback, "already rolled back to v1 once") || r.BaselineSaved {
		t.Errorf("v2 after its rollback: %+v, want no second rollback and no baseline of a bad release", r)
	}

	v3 := startRelease(t, st, "v3", nil)
	v3.serve(25, 101)
	r = v3.e.Summary().Release
	if r.Previous != "v1" || r.Verdict != regress.Pass || !r.BaselineSaved || len(v3.rollbacks()) != 0 {
		t.Errorf("v3 as fast as v1: %+v, rollbacks %+v; want a pass against v1 and its own baseline", r, v3.rollbacks())
	}
}

// TestNoRollbackWithoutAPreviousRelease: a live regression of the first
// release anyone recorded is a finding that says why nothing is rolled
// back.
func TestNoRollbackWithoutAPreviousRelease(t *testing.T) {
	p := startRelease(t, openTestStore(t), "v1", func(c *Config) { c.Regression.AutoRollbackEnabled = true })
	p.serve(25, 100) // the live detector's warm-up; a baseline would come at 20 s
	p.serve(8, 400)
	if len(p.rollbacks()) != 0 {
		t.Fatalf("rollbacks %+v with no earlier release", p.rollbacks())
	}
	r := p.e.Summary().Release
	if !strings.Contains(r.Rollback, "no rollback proposed") {
		t.Errorf("release %+v, want the reason no rollback is proposed", r)
	}
}

func TestVersionOfBuild(t *testing.T) {
	rev := func(r, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: r}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged module", debug.BuildInfo{Main: debug.Module{Version: "v1.4.2"}, Settings: rev("0123456789abcdef", "false")}, "v1.4.2"},
		{"checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev("0123456789abcdef", "false")}, "0123456789ab"},
		{"modified checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev("0123456789abcdef", "true")}, "0123456789ab-dirty"},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ""},
	} {
		if got := versionOfBuild(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTargetReleasesHaveTheirOwnBaselines: a daemon target's version (its
// build_info label) gets its own baseline, kept apart from the service's,
// and a slower next version of the target is that target's finding, never
// a rollback of this process.
func TestTargetReleasesHaveTheirOwnBaselines(t *testing.T) {
	st := openTestStore(t)
	cfg := DefaultConfig()
	cfg.Version = "self-1"
	cfg.MonitoringInterval = Duration(time.Second)
	cfg.Regression.BaselineAfter = Duration(20 * time.Second)
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	reg, err := NewRegressionModule(cfg.Regression, WithRegressionClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	p95 := metrics.SeriesKey(metrics.ResponseTimeMs, map[string]string{"target": "shop"})
	rps := metrics.SeriesKey(metrics.ThroughputRPS, map[string]string{"target": "shop"})
	step := func(version string, ms float64, i int) []Action {
		clk.advance(time.Second)
		acts, err := reg.Recommend(t.Context(), Snapshot{Time: clk.now(), Config: cfg, Store: st,
			Versions: map[string]string{"shop": version},
			Latest:   map[string]float64{p95: ms + float64(i%5), rps: 50}})
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
	for i := range 25 {
		step("2.0.0", 100, i)
	}
	vs, _ := st.Versions(t.Context())
	if !slices.Contains(vs, "target:shop/2.0.0") || slices.Contains(vs, "self-1") {
		t.Fatalf("stored baselines %v, want shop's 2.0.0 alone (the service itself served nothing)", vs)
	}
	var acts []Action
	for i := range 8 {
		acts = append(acts, step("2.1.0", 300, i)...)
	}
	var found *Finding
	for _, f := range reg.Findings() {
		if f.Kind == FindingReleaseRegression && f.Target == "shop" {
			found = &f
		}
	}
	if found == nil || !strings.Contains(found.Title, "release 2.1.0") || !strings.Contains(found.Title, "against 2.0.0") {
		t.Fatalf("findings %+v, want shop's 2.1.0 judged worse than 2.0.0", reg.Findings())
	}
	if len(acts) != 0 {
		t.Errorf("actions %+v: a target's regression must not roll back this process", acts)
	}
	rs := reg.TargetReleases()
	if len(rs) != 1 || rs[0].Target != "shop" || rs[0].Previous != "2.0.0" || rs[0].Source != VersionFromLabel {
		t.Errorf("target releases %+v", rs)
	}
}
