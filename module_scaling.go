package perfengine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/scale"
)

// Scaling module names.
const (
	// ActionScale is the kind of the scaling action.
	ActionScale = "scale"
	// ScaleCurrentInstances and ScaleDesiredInstances are its series.
	ScaleCurrentInstances = "scale_current_instances"
	ScaleDesiredInstances = "scale_desired_instances"
)

// ScalingSummary is the autoscaler's state in Summary.
type ScalingSummary struct {
	// DryRun is true while autoScaling.enabled is off: decisions are
	// recorded and followed on paper, nothing is changed.
	DryRun   bool   `json:"dryRun"`
	Actuator string `json:"actuator,omitempty"`
	Target   string `json:"target"`
	Current  int    `json:"current"`
	Desired  int    `json:"desired"`
	// Decision is the last evaluation, with its reason and what held it.
	Decision scale.Decision `json:"decision"`
	// LastScale is when the count last changed.
	LastScale time.Time `json:"lastScale,omitzero"`
	// Error is the last failure to read the count or to scale.
	Error string `json:"error,omitempty"`
}

// ScaleModule drives the autoscaler: each cycle it reads the count (from
// the actuator when it can tell), asks the HPA algorithm for a decision on
// the CPU, memory and response-time targets, and proposes a scale action
// of risk moderate within the bounds, pre-approved when autoScaling.enabled
// is on. Applying runs the actuator; undoing returns to the previous count.
// Off, it is a dry run: decisions are recorded as applied dry runs and the
// count they would set is followed, so the summary shows what the
// autoscaler would do, cooldowns included.
type ScaleModule struct {
	now    func() time.Time
	client *http.Client
	// dryRun records a dry-run decision as an action; set by the engine.
	dryRun func(ctx context.Context, a Action, result string)

	mu       sync.Mutex
	cfg      AutoScalingConfig
	ctl      *scale.Controller
	act      scale.Actuator
	current  int
	seen     map[string]bool // metrics that were ever reported
	last     scale.Decision
	lastErr  string
	lastTime time.Time
}

// NewScaleModule builds the autoscaler of a validated configuration.
func NewScaleModule(cfg AutoScalingConfig, now func() time.Time, client *http.Client) (*ScaleModule, error) {
	if now == nil {
		now = time.Now
	}
	m := &ScaleModule{now: now, client: client, seen: map[string]bool{}}
	if err := m.configure(cfg); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *ScaleModule) configure(cfg AutoScalingConfig) error {
	ctl, err := scale.NewController(cfg.MinInstances, cfg.MaxInstances, cfg.Behavior())
	if err != nil {
		return err
	}
	act, err := cfg.Actuator.actuator(m.client)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The windows and periods carry over: new bounds must not forget
	// what was just scaled.
	ctl.Continue(m.ctl)
	m.cfg, m.ctl, m.act = cfg, ctl, act
	if m.current == 0 {
		m.current = cfg.Instances
		if m.current == 0 {
			m.current = cfg.MinInstances
		}
	}
	return nil
}

// reconfigureFrom applies a new autoScaling section in place.
func (m *ScaleModule) reconfigureFrom(c Config) error { return m.configure(c.AutoScaling) }

// Name is "scaling".
func (m *ScaleModule) Name() string { return "scaling" }

// Collect reads the count from the actuator when it can tell, and reports
// the current and desired counts.
func (m *ScaleModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	m.mu.Lock()
	act, dry := m.act, !m.cfg.Enabled
	m.mu.Unlock()
	var readErr error
	if r, ok := act.(scale.Reader); ok && !dry {
		n, err := r.Current(ctx)
		m.mu.Lock()
		if err != nil {
			readErr = fmt.Errorf("read the instance count: %w", err)
			m.lastErr = readErr.Error()
		} else {
			m.current = n
		}
		m.mu.Unlock()
	}
	now := m.now()
	m.mu.Lock()
	cur, desired := m.current, m.last.Desired
	m.mu.Unlock()
	if desired == 0 {
		desired = cur
	}
	return []metrics.Sample{
		{Name: ScaleCurrentInstances, Value: float64(cur), Time: now},
		{Name: ScaleDesiredInstances, Value: float64(desired), Time: now},
	}, readErr
}

// scaleMetrics are the per-instance figures the decision weighs.
func (m *ScaleModule) scaleMetrics(latest map[string]float64) []scale.Metric {
	cfg := m.cfg
	cpu := metrics.CPUPercentOfGOMAXPROCS
	if _, ok := latest[cpu]; !ok {
		cpu = metrics.CPUPercent
	}
	wanted := []struct {
		name, key string
		target    float64
	}{
		{"cpu", cpu, cfg.CPUThreshold},
		{"memory", metrics.MemoryUsageRatio, cfg.MemoryThreshold},
		{"response_time", metrics.ResponseTimeMs, cfg.ResponseTimeThreshold},
	}
	var out []scale.Metric
	for _, w := range wanted {
		v, ok := latest[w.key]
		switch {
		case ok:
			m.seen[w.name] = true
			out = append(out, scale.Metric{Name: w.name, Value: v, Target: w.target})
		case m.seen[w.name]:
			// Reported before and missing now: the HPA's missing metric,
			// which forbids a scale-down.
			out = append(out, scale.Metric{Name: w.name, Target: w.target, Err: errors.New("not reported this cycle")})
		}
		// Never reported: no module measures it here; it is left out.
	}
	return out
}

// Recommend decides and proposes the change. A dry run records the
// decision at once and follows it.
func (m *ScaleModule) Recommend(ctx context.Context, snap Snapshot) ([]Action, error) {
	m.mu.Lock()
	d := m.ctl.Decide(snap.Time, m.current, m.scaleMetrics(snap.Latest))
	m.last = d
	cfg, dryRecord := m.cfg, m.dryRun
	m.mu.Unlock()
	if !d.Rescale() {
		return nil, nil
	}
	a := m.action(cfg, d)
	if !cfg.Enabled {
		m.mu.Lock()
		m.scaled(snap.Time, d.Current, d.Desired)
		m.mu.Unlock()
		if dryRecord != nil {
			dryRecord(ctx, a, fmt.Sprintf("dry run (autoScaling.enabled is off): would scale %s %d → %d", cfg.Target, d.Current, d.Desired))
		}
		return nil, nil
	}
	return []Action{a}, nil
}

func (m *ScaleModule) action(cfg AutoScalingConfig, d scale.Decision) Action {
	verb := "up"
	if d.Desired < d.Current {
		verb = "down"
	}
	return Action{
		Module: m.Name(), Kind: ActionScale, Target: cfg.Target,
		Description: fmt.Sprintf("scale %s %s %d → %d: %s", cfg.Target, verb, d.Current, d.Desired, d.Reason),
		Impact:      fmt.Sprintf("%d instances (bounds %d to %d)", d.Desired, cfg.MinInstances, cfg.MaxInstances),
		Risk:        RiskModerate,
		// Turning autoScaling.enabled on is the consent to scale within
		// the bounds; the bounds themselves are never passed.
		PreApproved: cfg.Enabled,
		Undo:        fmt.Sprintf("scale %s back to %d", cfg.Target, d.Current),
		Params: map[string]string{
			"from": strconv.Itoa(d.Current), "to": strconv.Itoa(d.Desired),
			"metric": d.Metric, "reason": d.Reason,
		},
	}
}

// scaled records a change of the count. Runs under mu.
func (m *ScaleModule) scaled(at time.Time, from, to int) {
	m.ctl.Scaled(at, from, to)
	m.current, m.lastTime = to, at
}

// Apply carries a scale action out through the actuator.
func (m *ScaleModule) Apply(ctx context.Context, a Action) (Result, error) {
	if a.Kind != ActionScale {
		return Result{}, fmt.Errorf("scaling: unknown action kind %q", a.Kind)
	}
	from, err1 := strconv.Atoi(a.Params["from"])
	to, err2 := strconv.Atoi(a.Params["to"])
	if err := errors.Join(err1, err2); err != nil {
		return Result{}, fmt.Errorf("scaling: action %s: bad counts: %w", a.ID, err)
	}
	return m.change(ctx, a, from, to, false)
}

// Undo returns to the count before the action.
func (m *ScaleModule) Undo(ctx context.Context, a Action) error {
	from, err1 := strconv.Atoi(a.Params["from"])
	to, err2 := strconv.Atoi(a.Params["to"])
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("scaling: action %s: bad counts: %w", a.ID, err)
	}
	_, err := m.change(ctx, a, to, from, true)
	return err
}

func (m *ScaleModule) change(ctx context.Context, a Action, from, to int, undo bool) (Result, error) {
	m.mu.Lock()
	cfg, act, cur, d := m.cfg, m.act, m.current, m.last
	m.mu.Unlock()
	if to < cfg.MinInstances || to > cfg.MaxInstances {
		return Result{}, fmt.Errorf("%w: %d instances is outside autoScaling's bounds %d to %d", ErrRefused, to, cfg.MinInstances, cfg.MaxInstances)
	}
	if !undo && cur != from {
		return Result{}, fmt.Errorf("%w: the count is %d now, not the %d this decision started from; the next cycle decides again", ErrRefused, cur, from)
	}
	if !cfg.Enabled || act == nil {
		m.mu.Lock()
		m.scaled(m.now(), from, to)
		m.mu.Unlock()
		return Result{Message: fmt.Sprintf("dry run: would scale %s %d → %d", cfg.Target, from, to)}, nil
	}
	err := act.Scale(ctx, scale.Change{Target: cfg.Target, From: from, To: to, Reason: a.Params["reason"], Undo: undo, Detail: d})
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.lastErr = err.Error()
		return Result{}, err
	}
	m.lastErr = ""
	m.scaled(m.now(), from, to)
	return Result{Message: fmt.Sprintf("%s scaled %s %d → %d", act.Name(), cfg.Target, from, to)}, nil
}

// Summary is the autoscaler's state for the engine's summary.
func (m *ScaleModule) Summary() ScalingSummary {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := ScalingSummary{
		DryRun: !m.cfg.Enabled, Target: m.cfg.Target, Current: m.current, Desired: m.last.Desired,
		Decision: m.last, LastScale: m.lastTime, Error: m.lastErr,
	}
	if s.Desired == 0 {
		s.Desired = m.current
	}
	if m.act != nil {
		s.Actuator = m.act.Name()
	}
	return s
}

// scalingSummary is the scaling module's state, nil when it is off.
func (e *Engine) scalingSummary(cfg Config) *ScalingSummary {
	if !cfg.enabled("scaling") {
		return nil
	}
	ms := e.module("scaling")
	if ms == nil {
		return nil
	}
	sm, ok := ms.m.(*ScaleModule)
	if !ok {
		return nil
	}
	s := sm.Summary()
	return &s
}

// ConfigureAutoScaling replaces the autoScaling section at run time, the
// seed's configureAutoScaling: validated as a whole, refused naming the
// field, and applied in place, keeping the windows and periods of what was
// just scaled.
func (e *Engine) ConfigureAutoScaling(c AutoScalingConfig) error {
	cfg := e.Config()
	cfg.AutoScaling = c
	return e.UpdateConfig(cfg)
}
