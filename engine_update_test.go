package perfengine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// startTestEngine starts an engine whose loop ticks once an hour, so the
// test drives the cycles with step while Start, Stop and UpdateConfig run
// for real.
func startTestEngine(t *testing.T, cfg Config, mods ...Module) (*Engine, *clock) {
	t.Helper()
	e, clk := newTestEngine(t, cfg, mods...)
	c := e.Config()
	c.MonitoringInterval = Duration(time.Hour)
	if err := e.UpdateConfig(c); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e, clk
}

func TestUpdateConfigStopsAndStartsTheLoop(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.MonitoringInterval = Duration(100 * time.Millisecond)
	m := &testModule{name: "svc"}
	e, err := New(cfg, WithStore(openTestStore(t)), WithModules(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)

	off := e.Config()
	off.Enabled = false
	if err := e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	// UpdateConfig returns once the loop has ended, so no cycle can follow,
	// however slow the machine.
	stopped := e.DebugInfo().Cycles
	time.Sleep(5 * cfg.MonitoringInterval.D())
	if c := e.DebugInfo().Cycles; c != stopped {
		t.Fatalf("cycles went from %d to %d with monitoring disabled", stopped, c)
	}

	on := e.Config()
	on.Enabled = true
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	// Enabling runs a first cycle at once, then the loop.
	if c := e.DebugInfo().Cycles; c != stopped+1 {
		t.Errorf("cycles after enabling = %d, want %d", c, stopped+1)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.DebugInfo().Cycles < stopped+3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := e.DebugInfo().Cycles; c < stopped+3 {
		t.Errorf("cycles = %d, want the loop running again", c)
	}
}

func TestUpdateConfigTurnsModulesOnAndOff(t *testing.T) {
	cfg := DefaultConfig() // newTestEngine turns memory and regression off
	e, clk := startTestEngine(t, cfg)
	if e.module("regression") != nil || e.module("memory") != nil {
		t.Fatal("modules built although turned off")
	}

	on := e.Config()
	on.Modules.Regression, on.Modules.Memory = true, true
	on.Memory.SampleInterval = Duration(50 * time.Millisecond)
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	e.step(clk)
	if _, ok := e.Summary().Metrics[RegressionActive]; !ok {
		t.Errorf("regression module turned on but not collected; metrics: %v", e.Summary().Metrics)
	}
	mem := e.module("memory")
	if mem == nil || !mem.started {
		t.Fatalf("memory module turned on while running: %+v, want built and started", mem)
	}

	off := e.Config()
	off.Modules.Memory = false
	if err := e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	if mem := e.module("memory"); mem == nil || mem.started {
		t.Errorf("memory module turned off: %+v, want registered (keeping its state) and stopped", mem)
	}
	before := e.module("memory").status().LastCollect
	e.step(clk)
	if after := e.module("memory").status().LastCollect; !after.Equal(before) {
		t.Error("a module turned off was still collected")
	}
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	if mem := e.module("memory"); !mem.started {
		t.Error("memory module turned back on but not restarted")
	}
}

func TestUpdateConfigReconfiguresRegressionInPlace(t *testing.T) {
	cfg := DefaultConfig()
	reg, err := NewRegressionModule(cfg.Regression)
	if err != nil {
		t.Fatal(err)
	}
	svc := &testModule{name: "svc"}
	e, clk := newTestEngine(t, cfg, svc)
	// Built by the engine, so UpdateConfig may reconfigure it.
	if err := e.add(reg); err != nil {
		t.Fatal(err)
	}
	e.built["regression"] = true
	on := e.Config()
	on.Modules.Regression = true
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		svc.set(metrics.ResponseTimeMs, 100+float64(i%3))
		e.step(clk)
	}
	reg.mu.Lock()
	windows := len(reg.windows[metrics.ResponseTimeMs])
	reg.mu.Unlock()
	det := reg.Detector()

	next := e.Config()
	next.Regression.Sensitivity = "aggressive"
	if err := e.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if e.module("regression").m != reg {
		t.Fatal("the regression module was replaced, losing its state")
	}
	if reg.Detector() == det {
		t.Error("the detector kept its old sensitivity")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if got := len(reg.windows[metrics.ResponseTimeMs]); got != windows || windows == 0 {
		t.Errorf("window after reconfigure = %d values, want the %d it had", got, windows)
	}
}

func TestUpdateConfigSaysWhatItCannotApply(t *testing.T) {
	api := &testModule{name: "api"}
	e, clk := startTestEngine(t, DefaultConfig(), api)
	next := e.Config()
	next.Store.DataDir = t.TempDir()
	next.API.CacheRoutes = "/products=1m"
	next.Thresholds.ErrorRate = Threshold{0.005, 0.05}
	err := e.UpdateConfig(next)
	if !errors.Is(err, ErrRestartRequired) || !strings.Contains(err.Error(), "store") {
		t.Errorf("store change: %v, want ErrRestartRequired naming the store", err)
	}
	if !errors.Is(err, ErrModuleOwnedByApplication) || !strings.Contains(err.Error(), "api") {
		t.Errorf("api change on an application's module: %v, want ErrModuleOwnedByApplication naming api", err)
	}
	api.set(metrics.ErrorRate, 0.008)
	e.step(clk)
	if e.Status() != StatusWarning {
		t.Errorf("status = %s: the thresholds of the same update did not apply", e.Status())
	}
}

func TestUpdateConfigTurnsAlertsOnAndOff(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(bodies) }
	waitFor := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for received() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	svc := &testModule{name: "svc"}
	e, clk := startTestEngine(t, DefaultConfig(), svc)
	on := e.Config()
	on.Alerts.WebhookURL = hook.URL
	on.Alerts.GroupWait = Duration(time.Millisecond)
	on.Alerts.GroupInterval = Duration(20 * time.Millisecond)
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	svc.set(metrics.ErrorRate, 0.2)
	e.step(clk)
	waitFor(1)
	if received() != 1 || !strings.Contains(bodies[0], "critical") {
		t.Fatalf("webhook got %v, want the critical status alert", bodies)
	}

	off := e.Config()
	off.Alerts.WebhookURL = ""
	if err := e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	svc.set(metrics.ErrorRate, 0)
	e.step(clk)
	// Wait until the group's next interval dealt with the resolution.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if as := e.Alerts(); len(as) == 1 && as[0].State == "resolved" && as[0].Group == "" {
			break
		}
	}
	// Alerts off: the resolution is recorded, not sent. Turning them back on
	// shows the webhook is reachable, so silence meant "off".
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	svc.set(metrics.ErrorRate, 0.2)
	e.step(clk)
	waitFor(2)
	if got := received(); got != 2 {
		t.Errorf("webhook got %d alerts, want 2 (none while alerts were off)", got)
	}
}

// lockedBuffer is a log sink safe for the engine's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestDebugModeLogsEveryDecision(t *testing.T) {
	var logs lockedBuffer
	// The application logs at info: debug mode is the engine's setting.
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m := &testModule{name: "opt", propose: []Action{{Kind: "tune", Target: "pool", Description: "grow the pool", Risk: RiskModerate}}}
	m.set(metrics.ErrorRate, 0.02)
	cfg := DefaultConfig()
	cfg.MonitoringInterval = Duration(time.Second)
	cfg.Modules.Memory, cfg.Modules.Regression = false, false
	clk := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	e, err := New(cfg, WithClock(clk.now), WithLogger(log), WithStore(openTestStore(t)), WithModules(m))
	if err != nil {
		t.Fatal(err)
	}
	e.step(clk)
	if strings.Contains(logs.String(), "level=DEBUG") {
		t.Fatalf("debug records without debug mode:\n%s", logs.String())
	}
	on := e.Config()
	on.Debug = true
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	e.step(clk)
	out := logs.String()
	for _, want := range []string{
		`msg=collected module=engine name=opt samples=1`,
		`msg=threshold module=engine metric=error_rate value=0.02 warning=0.01 critical=0.05`,
		`msg=violation`,
		`msg=evaluated module=engine status=warning`,
		`decision="moderate: waits for approval (aggressiveMode is off)"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %s:\n%s", want, out)
		}
	}
	var c Config = DefaultConfig()
	if err := c.UnmarshalYAMLBytes([]byte("debug: true\n")); err != nil || !c.Debug {
		t.Errorf("debug: true in YAML: %v, Debug=%v", err, c.Debug)
	}
}

// TestUpdateConfigIsSafeUnderCycles races UpdateConfig against the loop.
func TestUpdateConfigIsSafeUnderCycles(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.MonitoringInterval = Duration(100 * time.Millisecond)
	cfg.Modules.Memory = false
	e, err := New(cfg, WithStore(openTestStore(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	var n atomic.Int32
	for i := range 20 {
		c := e.Config()
		c.Debug = i%2 == 0
		c.Modules.Regression = i%3 != 0
		c.Regression.Sensitivity = []string{"conservative", "moderate", "aggressive"}[i%3]
		c.Enabled = i%4 != 0
		if err := e.UpdateConfig(c); err != nil {
			t.Fatal(err)
		}
		n.Add(1)
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() != 20 {
		t.Fatal("updates lost")
	}
}

// TestEngineRequestsGoThroughNetworkModule sends an alert webhook with a
// network module registered: the request shows in the module's per-host
// figures, so the engine's own traffic gets the netopt client.
func TestEngineRequestsGoThroughNetworkModule(t *testing.T) {
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer hook.Close()
	nm, err := NewNetworkModuleFromConfig(defaultNetworkConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Alerts.WebhookURL = hook.URL
	svc := &testModule{name: "svc"}
	e, clk := startTestEngine(t, cfg, svc, nm)
	svc.set(metrics.ErrorRate, 0.2)
	e.step(clk)
	for deadline := time.Now().Add(30 * time.Second); hits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	samples, err := nm.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(hook.URL, "http://")
	var requests float64
	for _, s := range samples {
		if s.Name == NetHostRequests && s.Labels["host"] == host {
			requests = s.Value
		}
	}
	if hits.Load() != 1 || requests != 1 {
		t.Errorf("webhook hits %d, network module counted %v requests to %s; want 1 and 1", hits.Load(), requests, host)
	}
}
