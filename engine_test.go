package perfengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testModule is a module whose figures and proposals a test sets.
type testModule struct {
	name string

	mu       sync.Mutex
	samples  []metrics.Sample
	err      error
	panics   bool
	propose  []Action
	applied  []string
	undone   []string
	applyErr error
	statuses []Status
}

func (m *testModule) Name() string { return m.name }

func (m *testModule) set(name string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = []metrics.Sample{{Name: name, Value: v}}
}

func (m *testModule) Collect(context.Context) ([]metrics.Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.panics {
		panic("collector exploded")
	}
	return append([]metrics.Sample(nil), m.samples...), m.err
}

func (m *testModule) Recommend(context.Context, Snapshot) ([]Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Action(nil), m.propose...), nil
}

func (m *testModule) Apply(_ context.Context, a Action) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.applyErr != nil {
		return Result{}, m.applyErr
	}
	m.applied = append(m.applied, a.Target)
	return Result{Message: "done", Params: map[string]string{"previous": "100"}}, nil
}

func (m *testModule) Undo(_ context.Context, a Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Params["previous"] != "100" {
		return errors.New("undo without the previous value")
	}
	m.undone = append(m.undone, a.Target)
	return nil
}

func (m *testModule) StatusChanged(s Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses = append(m.statuses, s)
}

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "perfengine.db"), store.Retention{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newTestEngine returns an engine with a manual clock and a SQLite store;
// tests drive it with step rather than waiting for the loop.
func newTestEngine(t *testing.T, cfg Config, mods ...Module) (*Engine, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	cfg.MonitoringInterval = Duration(time.Second)
	// The runtime module reports this test process's real CPU and memory;
	// keep them out of the statuses the tests assert.
	cfg.Thresholds.CPU = Threshold{100, 100}
	cfg.Thresholds.Memory = Threshold{1, 1}
	// Only the modules under test: no memory or regression module of the
	// configuration's making unless the test passes one.
	given := map[string]bool{}
	for _, m := range mods {
		given[m.Name()] = true
	}
	cfg.Modules.Memory = cfg.Modules.Memory && given["memory"]
	cfg.Modules.Regression = cfg.Modules.Regression && given["regression"]
	e, err := New(cfg, WithClock(clk.now), WithStore(openTestStore(t)), WithModules(mods...))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e, clk
}

func (e *Engine) step(clk *clock) {
	clk.advance(e.Config().MonitoringInterval.D())
	e.cycle(context.Background())
}

func TestStatusFollowsThresholdsWithHysteresis(t *testing.T) {
	m := &testModule{name: "load"}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	// p95 thresholds 1000/2000 ms with 10 % hysteresis: critical is left
	// below 1800, warning below 900.
	steps := []struct {
		p95  float64
		want Status
	}{
		{500, StatusHealthy},
		{1200, StatusWarning},
		{2100, StatusCritical},
		{1900, StatusCritical}, // below 2000 but not below 1800: no flap
		{1999, StatusCritical},
		{1700, StatusWarning},
		{950, StatusWarning}, // below 1000 but not below 900
		{999, StatusWarning},
		{800, StatusHealthy},
		{1100, StatusWarning},
	}
	for i, s := range steps {
		m.set(metrics.ResponseTimeMs, s.p95)
		e.step(clk)
		if got := e.Status(); got != s.want {
			t.Fatalf("step %d: p95 %g ms: status = %s, want %s", i, s.p95, got, s.want)
		}
	}
	m.mu.Lock()
	var seen []string
	for _, s := range m.statuses {
		seen = append(seen, string(s))
	}
	m.mu.Unlock()
	got := strings.Join(seen, " ")
	if want := "warning critical warning healthy warning"; got != want {
		t.Errorf("status changes seen by the listener = %q, want %q", got, want)
	}
	// One record per stretch at a level (warning, critical, warning,
	// warning), each marked resolved when its stretch ended.
	all, err := e.Store().ListAlerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []store.Alert
	for _, a := range all {
		if a.Labels["alertname"] == AlertStatus {
			alerts = append(alerts, a)
		}
	}
	if len(alerts) != 4 {
		t.Fatalf("status alerts recorded = %d, want 4", len(alerts))
	}
	var states []string
	for _, a := range alerts {
		states = append(states, fmt.Sprintf("%s/%v", a.Severity, a.Resolved))
	}
	if got, want := strings.Join(states, " "), "warning/false warning/true critical/true warning/true"; got != want {
		t.Errorf("alerts recorded, newest first = %s, want %s", got, want)
	}
}

func TestSummaryReportsViolationsAndAdvice(t *testing.T) {
	m := &testModule{name: "svc"}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	m.set(metrics.ResponseTimeMs, 2500)
	e.step(clk)
	s := e.Summary()
	if s.Status != StatusCritical {
		t.Fatalf("status = %s, want critical for p95 2500 ms", s.Status)
	}
	if len(s.Violations) != 1 || s.Violations[0].Metric != metrics.ResponseTimeMs || s.Violations[0].Threshold != 2000 {
		t.Errorf("violations = %+v", s.Violations)
	}
	if len(s.Recommendations) == 0 || !strings.Contains(s.Recommendations[0].Message, "slow") {
		t.Errorf("recommendations = %+v, want advice about slow responses", s.Recommendations)
	}
	if s.Metrics[metrics.ResponseTimeMs] != 2500 {
		t.Errorf("metrics[%s] = %v", metrics.ResponseTimeMs, s.Metrics[metrics.ResponseTimeMs])
	}
	if _, ok := s.Metrics[metrics.Goroutines]; !ok {
		t.Errorf("summary lacks the runtime module's %s: %v", metrics.Goroutines, s.Metrics)
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(b), `"status":"critical"`) {
		t.Errorf("summary JSON = %s (%v)", b, err)
	}
	// The summary is a copy.
	s.Metrics[metrics.ResponseTimeMs] = 1
	if e.Summary().Metrics[metrics.ResponseTimeMs] != 2500 {
		t.Error("changing a returned Summary changed the engine's")
	}
}

func TestIdleServiceIsNotCriticalOnThroughput(t *testing.T) {
	m := &testModule{name: "svc"}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	m.set(metrics.ThroughputRPS, 0)
	e.step(clk)
	if got := e.Status(); got != StatusHealthy {
		t.Fatalf("idle service: status = %s, want healthy", got)
	}
	for _, s := range []struct {
		rps  float64
		want Status
	}{{300, StatusHealthy}, {90, StatusWarning}, {40, StatusCritical}, {52, StatusCritical}, {120, StatusHealthy}} {
		m.set(metrics.ThroughputRPS, s.rps)
		e.step(clk)
		if got := e.Status(); got != s.want {
			t.Errorf("throughput %g after traffic: status = %s, want %s", s.rps, got, s.want)
		}
	}
}

func TestBrokenModulesAreIsolatedAndRetried(t *testing.T) {
	panicky := &testModule{name: "panicky", panics: true}
	failing := &testModule{name: "failing", err: errors.New("connection refused")}
	good := &testModule{name: "good"}
	good.set("good_value", 1)
	e, clk := newTestEngine(t, DefaultConfig(), panicky, failing, good)

	e.step(clk)
	byName := func() map[string]ModuleStatus {
		out := map[string]ModuleStatus{}
		for _, ms := range e.Summary().Modules {
			out[ms.Name] = ms
		}
		return out
	}
	st := byName()
	if st["panicky"].Healthy || !strings.Contains(st["panicky"].LastError, "panicked") {
		t.Errorf("panicky = %+v, want unhealthy with the panic reported", st["panicky"])
	}
	if st["failing"].Healthy || st["failing"].LastError != "connection refused" {
		t.Errorf("failing = %+v", st["failing"])
	}
	if !st["good"].Healthy || !st["runtime"].Healthy {
		t.Errorf("good/runtime = %+v / %+v, want healthy", st["good"], st["runtime"])
	}
	if _, ok := e.Summary().Metrics["good_value"]; !ok {
		t.Error("a healthy module's figures are missing while others fail")
	}

	// Backoff: the second failure doubles the wait, so the module is left
	// alone for two intervals after it.
	e.step(clk)
	if f := byName()["failing"].Failures; f != 2 {
		t.Fatalf("failures after two cycles = %d, want 2", f)
	}
	e.step(clk) // within the backoff: not called
	if f := byName()["failing"].Failures; f != 2 {
		t.Errorf("failures = %d, want 2: the module was called during its backoff", f)
	}
	failing.mu.Lock()
	failing.err = nil
	failing.samples = []metrics.Sample{{Name: "back", Value: 1}}
	failing.mu.Unlock()
	e.step(clk)
	if st := byName()["failing"]; !st.Healthy || st.LastError != "" {
		t.Errorf("after recovery: %+v, want healthy", st)
	}
}

// blockingModule ignores its context until released.
type blockingModule struct {
	testModule
	release chan struct{}
}

func (m *blockingModule) Collect(context.Context) ([]metrics.Sample, error) {
	<-m.release
	return nil, nil
}

func TestHungModuleTimesOut(t *testing.T) {
	m := &blockingModule{testModule: testModule{name: "hung"}, release: make(chan struct{})}
	defer close(m.release)
	cfg := DefaultConfig()
	cfg.ModuleTimeout = Duration(20 * time.Millisecond)
	e, clk := newTestEngine(t, cfg, m)
	e.step(clk)
	var st ModuleStatus
	for _, ms := range e.Summary().Modules {
		if ms.Name == "hung" {
			st = ms
		}
	}
	if st.Healthy || !strings.Contains(st.LastError, "deadline exceeded") {
		t.Errorf("hung module = %+v, want a timeout", st)
	}
	if _, ok := e.Summary().Metrics[metrics.Goroutines]; !ok {
		t.Error("the cycle did not finish the other modules' work")
	}
}

func TestPolicyAppliesByRisk(t *testing.T) {
	tests := []struct {
		name        string
		auto, aggr  bool
		risk        Risk
		preApproved bool
		applied     bool
	}{
		{"safe with autoOptimize", true, false, RiskSafe, false, true},
		{"safe without autoOptimize", false, false, RiskSafe, false, false},
		{"moderate without aggressive", true, false, RiskModerate, false, false},
		{"moderate with aggressive", true, true, RiskModerate, false, true},
		{"aggressive alone applies nothing", false, true, RiskModerate, false, false},
		{"risky even when aggressive", true, true, RiskRisky, false, false},
		{"risky pre-approved by config", true, false, RiskRisky, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AutoOptimize, cfg.AggressiveMode = tc.auto, tc.aggr
			m := &testModule{name: "opt", propose: []Action{{Kind: "tune", Target: "x", Description: "tune x", Risk: tc.risk, PreApproved: tc.preApproved}}}
			e, clk := newTestEngine(t, cfg, m)
			e.step(clk)
			want := ActionPending
			if tc.applied {
				want = ActionApplied
			}
			acts := e.Actions()
			if len(acts) != 1 || acts[0].State != want {
				t.Fatalf("actions = %+v, want one %s", acts, want)
			}
			rec, err := e.Store().GetAction(context.Background(), acts[0].ID)
			if err != nil || rec.State != string(want) {
				t.Errorf("stored action = %+v (%v), want state %s", rec, err, want)
			}
		})
	}
}

func TestApproveUndoAndNoReproposal(t *testing.T) {
	ctx := context.Background()
	m := &testModule{name: "db", propose: []Action{{Kind: "create_index", Target: "products(sku)", Description: "index sku", Risk: RiskRisky, Undo: "DROP INDEX"}}}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	e.step(clk)
	e.step(clk) // proposing the same thing again does not duplicate it
	pending := e.Actions(ActionPending)
	if len(pending) != 1 {
		t.Fatalf("pending = %d, want 1", len(pending))
	}
	if len(e.Summary().Recommendations) == 0 || e.Summary().Recommendations[0].ActionID != pending[0].ID {
		t.Errorf("summary recommendations = %+v, want the pending action", e.Summary().Recommendations)
	}
	id := pending[0].ID

	if _, err := e.Undo(ctx, id); !errors.Is(err, ErrConflict) {
		t.Errorf("Undo(pending) = %v, want ErrConflict", err)
	}
	a, err := e.Approve(ctx, id)
	if err != nil || a.State != ActionApplied || a.Params["previous"] != "100" {
		t.Fatalf("Approve = %+v, %v", a, err)
	}
	if _, err := e.Approve(ctx, id); !errors.Is(err, ErrConflict) {
		t.Errorf("second Approve = %v, want ErrConflict", err)
	}
	if _, err := e.Approve(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Approve(unknown) = %v, want ErrNotFound", err)
	}
	a, err = e.Undo(ctx, id)
	if err != nil || a.State != ActionUndone {
		t.Fatalf("Undo = %+v, %v", a, err)
	}
	e.step(clk)
	if p := e.Actions(ActionPending); len(p) != 0 {
		t.Errorf("after undo the module's proposal came back: %+v", p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.applied) != 1 || len(m.undone) != 1 {
		t.Errorf("module saw applied=%v undone=%v", m.applied, m.undone)
	}
	stored, err := e.Store().ListActions(ctx, store.ActionFilter{})
	if err != nil || len(stored) != 1 || stored[0].State != string(ActionUndone) {
		t.Errorf("stored = %+v (%v), want the one action, undone", stored, err)
	}
}

func TestUndoNeedsAnUndoer(t *testing.T) {
	ctx := context.Background()
	e, clk := newTestEngine(t, DefaultConfig(), &plainModule{testModule{name: "plain", propose: []Action{{Kind: "k", Target: "t", Risk: RiskSafe}}}})
	e.step(clk)
	acts := e.Actions(ActionApplied)
	if len(acts) != 1 {
		t.Fatalf("applied = %+v", e.Actions())
	}
	if _, err := e.Undo(ctx, acts[0].ID); !errors.Is(err, ErrNotUndoable) {
		t.Errorf("Undo = %v, want ErrNotUndoable", err)
	}
}

// plainModule hides testModule's Undo.
type plainModule struct{ m testModule }

func (p *plainModule) Name() string { return p.m.Name() }
func (p *plainModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	return p.m.Collect(ctx)
}
func (p *plainModule) Recommend(ctx context.Context, s Snapshot) ([]Action, error) {
	return p.m.Recommend(ctx, s)
}
func (p *plainModule) Apply(ctx context.Context, a Action) (Result, error) { return p.m.Apply(ctx, a) }

func TestFailedApplyIsRecorded(t *testing.T) {
	m := &testModule{name: "opt", applyErr: errors.New("lock timeout"), propose: []Action{{Kind: "k", Target: "t", Risk: RiskSafe}}}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	e.step(clk)
	e.step(clk)
	acts := e.Actions()
	if len(acts) != 1 || acts[0].State != ActionFailed || acts[0].Error != "lock timeout" {
		t.Errorf("actions = %+v, want one failed action, not retried every cycle", acts)
	}
}

func TestStartStopIdempotentAndHistorySurvivesRestart(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Modules.Memory, cfg.Modules.Regression = false, false
	cfg.Store.DataDir = t.TempDir()
	cfg.MonitoringInterval = Duration(time.Hour) // the first cycle runs in Start
	m := &testModule{name: "opt", propose: []Action{{Kind: "k", Target: "t", Risk: RiskRisky}}}
	reg := prometheus.NewRegistry()
	e, err := New(cfg, WithModules(m), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if e.Store() != nil {
		t.Error("New opened the store; it should wait for Start")
	}
	for range 2 {
		if err := e.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if s := e.Summary(); s.Status != StatusHealthy || len(s.Metrics) == 0 {
		t.Errorf("after Start: %+v, want healthy with metrics", s)
	}
	if got := testutil.ToFloat64(e.prom.actions.WithLabelValues("opt", "applied")); got != 0 {
		t.Errorf("actions applied counter = %v before anything was applied", got)
	}
	id := e.Actions(ActionPending)[0].ID
	if _, err := e.Approve(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Undo(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(e.prom.actions.WithLabelValues("opt", "undone")); got != 1 {
		t.Errorf("actions undone counter = %v, want 1", got)
	}
	for range 2 {
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}

	e2, err := New(cfg, WithModules(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e2.Stop(ctx)
	acts := e2.Actions()
	if len(acts) != 1 || acts[0].ID != id || acts[0].State != ActionUndone {
		t.Errorf("after restart: %+v, want the undone action and no new proposal", acts)
	}
}

func TestLoopRunsOnItsInterval(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.MonitoringInterval = Duration(100 * time.Millisecond)
	m := &testModule{name: "svc"}
	m.set("x", 1)
	e, err := New(cfg, WithStore(openTestStore(t)), WithModules(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.DebugInfo().Cycles < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c := e.DebugInfo().Cycles; c < 3 {
		t.Errorf("cycles = %d, want at least 3", c)
	}
	got, err := e.Store().QuerySamples(ctx, store.SampleQuery{Name: "x", From: time.Now().Add(-time.Hour)})
	if err != nil || len(got) < 3 {
		t.Errorf("stored samples of x = %d (%v), want one per cycle", len(got), err)
	}
}

func TestUpdateConfig(t *testing.T) {
	m := &testModule{name: "svc"}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	m.set(metrics.ErrorRate, 0.008)
	e.step(clk)
	if e.Status() != StatusHealthy {
		t.Fatalf("status = %s", e.Status())
	}
	bad := e.Config()
	bad.Thresholds.ErrorRate.Warning = 0.5
	if err := e.UpdateConfig(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("UpdateConfig(invalid) = %v", err)
	}
	if e.Config().Thresholds.ErrorRate.Warning != 0.01 {
		t.Error("an invalid config was half-applied")
	}
	good := e.Config()
	good.Thresholds.ErrorRate = Threshold{0.005, 0.05}
	if err := e.UpdateConfig(good); err != nil {
		t.Fatal(err)
	}
	e.step(clk)
	if e.Status() != StatusWarning {
		t.Errorf("after lowering the error-rate warning to 0.005: status = %s, want warning", e.Status())
	}
}

func TestDisabledModulesAreNotCollected(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Modules.Database = false
	db := &testModule{name: "database"}
	db.set("db_value", 1)
	e, clk := newTestEngine(t, cfg, db)
	e.step(clk)
	if _, ok := e.Summary().Metrics["db_value"]; ok {
		t.Error("a module turned off in modules.database was collected")
	}
}

func TestStaleSeriesStopCounting(t *testing.T) {
	m := &testModule{name: "svc"}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	m.set(metrics.ErrorRate, 0.2)
	e.step(clk)
	if e.Status() != StatusCritical {
		t.Fatal("want critical")
	}
	m.mu.Lock()
	m.samples = nil // the module stops reporting its error rate
	m.mu.Unlock()
	for range staleIntervals + 1 {
		e.step(clk)
	}
	if e.Status() != StatusHealthy {
		t.Errorf("status = %s, want healthy once the last error-rate figure went stale", e.Status())
	}
}

// BenchmarkSummary measures Summary, served from memory.
//
//	go test -run '^$' -bench Summary -benchmem .
func BenchmarkSummary(b *testing.B) {
	cfg := DefaultConfig()
	clk := &clock{t: time.Now()}
	e, err := New(cfg, WithClock(clk.now), WithModules(&testModule{name: "opt", propose: []Action{{Kind: "k", Target: "t", Risk: RiskRisky}}}))
	if err != nil {
		b.Fatal(err)
	}
	e.step(clk)
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Summary()
	}
}

// BenchmarkIdleEngineCycle measures one monitoring cycle of an engine with
// only the runtime module and a SQLite store: what an idle process pays per
// interval. %core@1s is that cost as a share of one core at a 1 s interval;
// heap-MB is the engine's live heap after 1,024 cycles, when every series
// buffer is full.
//
//	go test -run '^$' -bench IdleEngineCycle -benchmem .
func BenchmarkIdleEngineCycle(b *testing.B) { benchmarkCycles(b) }

// benchmarkCycles measures one cycle of an engine with the given modules
// (and the runtime one) and a SQLite store at a 1 s interval, after enough
// cycles to fill every series buffer: CPU per cycle as %core@1s, and the
// live heap the engine holds then as heap-MB.
func benchmarkCycles(b *testing.B, mods ...Module) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	st, err := store.OpenSQLite(filepath.Join(b.TempDir(), "perfengine.db"), store.Retention{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: time.Now()}
	cfg := DefaultConfig()
	cfg.MonitoringInterval = Duration(time.Second)
	e, err := New(cfg, WithClock(clk.now), WithStore(st), WithModules(mods...))
	if err != nil {
		b.Fatal(err)
	}
	for range seriesCapacity {
		e.step(clk)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		e.step(clk)
	}
	perCycle := (cpuTime() - start) / time.Duration(b.N)
	b.ReportMetric(float64(perCycle)/float64(time.Second)*100, "%core@1s")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MB")
	runtime.KeepAlive(e)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestDebugInfoHidesSecretsAndSummaryListsAreEmptyNotNull(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Server.Token = "s3cret-token"
	cfg.Alerts.WebhookURL = "https://hooks.example.com/services/T000/B000/XXXXSECRET"
	cfg.Alerts.EmailEndpoint = "smtp://ops:mailpass@127.0.0.1:25/?to=ops@example.com"
	cfg.Store.DSN = "postgres://perf:dbpass@127.0.0.1/perf"
	e, clk := newTestEngine(t, cfg)
	e.step(clk)
	b, err := json.Marshal(e.DebugInfo())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-token", "XXXXSECRET", "mailpass", "dbpass"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("DebugInfo shows %q", secret)
		}
	}
	s, _ := json.Marshal(e.Summary())
	for _, k := range []string{`"violations":[]`, `"optimizations":[]`, `"recommendations":[]`, `"findings":[]`} {
		if !strings.Contains(string(s), k) {
			t.Errorf("summary JSON lacks %s: %s", k, s)
		}
	}
}

// seriesModule reports n series, each value changing every cycle.
type seriesModule struct {
	n     int
	cycle float64
}

func (m *seriesModule) Name() string                                          { return "series" }
func (m *seriesModule) Recommend(context.Context, Snapshot) ([]Action, error) { return nil, nil }
func (m *seriesModule) Apply(context.Context, Action) (Result, error)         { return Result{}, nil }
func (m *seriesModule) Collect(context.Context) ([]metrics.Sample, error) {
	m.cycle++
	out := make([]metrics.Sample, m.n)
	for i := range out {
		out[i] = metrics.Sample{Name: "s", Labels: map[string]string{"i": strconv.Itoa(i)}, Value: m.cycle + float64(i), Unit: metrics.UnitCount}
	}
	return out, nil
}

// BenchmarkEngineSeries is issue 17's growth check of the engine: one
// cycle with a module of 10, 100 and 1000 series at a 1 s interval, with
// a SQLite store, every series buffer full. CPU per cycle (as %core@1s),
// allocation per cycle, and the live heap the series hold (heap-MB).
//
//	go test -run '^$' -bench EngineSeries -benchmem .
func BenchmarkEngineSeries(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) { benchmarkCycles(b, &seriesModule{n: n}) })
	}
}
