package perfengine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/memopt"
	"github.com/perfengine/perfengine/metrics"
)

// Memory module sample names, besides the runtime module's general memory
// figures.
const (
	MemoryHeapGrowth       = "memory_heap_growth_bytes_per_min" // Theil–Sen slope of the live heap
	MemoryHeapTrendP       = "memory_heap_trend_p"              // one-sided p of an upward trend
	MemoryGoroutineGrowth  = "goroutines_growth_per_min"
	MemoryLeaks            = "memory_leaks" // confirmed leaks
	MemoryTimeToLimit      = "memory_time_to_limit_seconds"
	MemoryGOGC             = "gc_gogc_percent"
	MemoryGOMEMLIMIT       = "gc_gomemlimit_bytes"
	MemoryLimiterActive    = "gc_limiter_active" // 1 when the GC CPU limiter engaged since the last sample
	MemoryGoroutineWaiting = "goroutines_waiting"
)

// Action kinds of the memory module.
const (
	ActionSetGOGC       = "set_gogc"
	ActionSetGOMEMLIMIT = "set_gomemlimit"
	ActionMemoryCleanup = "memory_cleanup"
)

// MemoryModule adapts a memopt.Optimizer: it reports leak trends and GC
// settings, finds heap and goroutine leaks (naming the function, from
// profile diffs), proposes GC tunings (GOMEMLIMIT from the cgroup limit:
// safe; GOGC moves: moderate; every one undoable) and a cleanup of the
// registered caches when memory passes the engine's thresholds. Safe for
// concurrent use.
type MemoryModule struct {
	opt *memopt.Optimizer
	cfg MemoryConfig
	now func() time.Time

	mu       sync.Mutex
	findings []Finding
}

var (
	_ Module   = (*MemoryModule)(nil)
	_ Undoer   = (*MemoryModule)(nil)
	_ Reporter = (*MemoryModule)(nil)
	_ Starter  = (*MemoryModule)(nil)
)

// NewMemoryModule wraps an optimizer the caller built. cfg supplies the
// sampling interval.
func NewMemoryModule(opt *memopt.Optimizer, cfg MemoryConfig) *MemoryModule {
	return &MemoryModule{opt: opt, cfg: cfg, now: time.Now}
}

// NewMemoryModuleFromConfig builds the optimizer from the engine's memory
// section and its memory thresholds.
func NewMemoryModuleFromConfig(c MemoryConfig, t Thresholds) (*MemoryModule, error) {
	o := memopt.Options{
		Interval: c.SampleInterval.D(), Window: c.Window.D(), ProfileInterval: c.ProfileInterval.D(),
		Alpha: c.Alpha, MinHeapGrowth: c.MinHeapGrowth, GOGCMin: c.GOGCMin, GOGCMax: c.GOGCMax,
		LimitHeadroom: c.LimitHeadroom, WarningRatio: t.Memory.Warning, CriticalRatio: t.Memory.Critical,
	}
	if c.DisableProfiles {
		o.ProfileInterval = -1
	}
	if o.WarningRatio > 0 && o.WarningRatio <= memopt.DefaultPlentifulRatio {
		o.PlentifulRatio = o.WarningRatio / 2
	}
	opt, err := memopt.New(o)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return NewMemoryModule(opt, c), nil
}

// MemoryShedder is a module that holds memory it can give back, such as
// the API module's cache. The engine registers every MemoryShedder with its
// memory module's cleanup registry, so a memory cleanup asks it first.
type MemoryShedder interface {
	Module
	// ShedMemory lets go of what is cheap to rebuild under
	// memopt.PressureWarning, and of everything it can under
	// memopt.PressureCritical, and returns the bytes freed.
	ShedMemory(ctx context.Context, p memopt.Pressure) (freed int64, err error)
}

// shedderPriority places modules' caches in the cleanup order: they refill
// on demand, so they go before an application's own state.
const shedderPriority = 10

// linkMemory registers m with the memory modules, or the shedders with m.
func linkMemory(m Module, others []Module) {
	if mm, ok := m.(*MemoryModule); ok {
		for _, o := range others {
			if s, ok := o.(MemoryShedder); ok {
				mm.opt.Registry().Register(s.Name(), shedderPriority, s.ShedMemory)
			}
		}
		return
	}
	if s, ok := m.(MemoryShedder); ok {
		for _, o := range others {
			if mm, ok := o.(*MemoryModule); ok {
				mm.opt.Registry().Register(s.Name(), shedderPriority, s.ShedMemory)
			}
		}
	}
}

// Optimizer returns the wrapped optimizer, for registering shrink
// functions with Optimizer().Registry().
func (m *MemoryModule) Optimizer() *memopt.Optimizer { return m.opt }

// Name returns "memory".
func (*MemoryModule) Name() string { return "memory" }

// Start begins sampling at the configured interval.
func (m *MemoryModule) Start(ctx context.Context) error {
	err := m.opt.StartMonitoring(ctx, m.cfg.SampleInterval.D())
	if errors.Is(err, memopt.ErrRunning) {
		return nil
	}
	return err
}

// Stop ends sampling.
func (m *MemoryModule) Stop(ctx context.Context) error { return m.opt.Stop(ctx) }

// Collect reports the leak trends and GC settings, and refreshes the
// findings.
func (m *MemoryModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	met, err := m.opt.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	leaks, err := m.opt.DetectLeaks(ctx)
	if err != nil {
		return nil, err
	}
	t := m.now()
	s := met.Sample
	out := []metrics.Sample{
		{Name: MemoryHeapGrowth, Value: met.HeapTrend.Slope * 60, Unit: metrics.UnitBytes, Time: t},
		{Name: MemoryHeapTrendP, Value: met.HeapTrend.P, Unit: metrics.UnitRatio, Time: t},
		{Name: MemoryGoroutineGrowth, Value: met.GoroutineTrend.Slope * 60, Unit: metrics.UnitCount, Time: t},
		{Name: MemoryLeaks, Value: float64(len(leaks)), Unit: metrics.UnitCount, Time: t},
		{Name: MemoryGOGC, Value: float64(s.GOGC), Unit: metrics.UnitPercent, Time: t},
		{Name: MemoryLimiterActive, Value: b2f(s.LimiterActive), Unit: metrics.UnitCount, Time: t},
	}
	if s.MemoryLimit > 0 && s.MemoryLimit < math.MaxInt64 {
		out = append(out, metrics.Sample{Name: MemoryGOMEMLIMIT, Value: float64(s.MemoryLimit), Unit: metrics.UnitBytes, Time: t})
	}
	if s.States != nil {
		out = append(out, metrics.Sample{Name: MemoryGoroutineWaiting, Value: float64(s.States.Waiting), Unit: metrics.UnitCount, Time: t})
	}
	for _, l := range leaks {
		if l.Kind == memopt.LeakHeap && l.TimeToLimit > 0 {
			out = append(out, metrics.Sample{Name: MemoryTimeToLimit, Value: l.TimeToLimit.Seconds(), Unit: metrics.UnitSeconds, Time: t})
		}
	}
	m.setFindings(leaks)
	return out, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *MemoryModule) setFindings(leaks []memopt.Leak) {
	fs := make([]Finding, 0, len(leaks))
	for _, l := range leaks {
		sev := SeverityWarning
		if l.TimeToLimit > 0 && l.TimeToLimit < time.Hour {
			sev = SeverityCritical
		}
		var d strings.Builder
		for i, s := range l.Sites {
			unit := "goroutines"
			g := fmt.Sprintf("+%.0f", s.Growth)
			if l.Kind == memopt.LeakHeap {
				unit, g = "in use", "+"+formatMiB(s.Growth)
			}
			fmt.Fprintf(&d, "%d. %s (%s %s", i+1, s, g, unit)
			if s.Type != "" {
				fmt.Fprintf(&d, "; %s", s.Type)
			}
			d.WriteString(")\n")
		}
		if l.Type != "" {
			fmt.Fprintf(&d, "Leak type %s: %s.\n", l.Type, l.Type.Advice())
		}
		if l.Note != "" {
			d.WriteString(l.Note)
		}
		when := l.Detected
		if when.IsZero() {
			when = m.now()
		}
		fs = append(fs, Finding{Module: "memory", Kind: string(l.Kind) + "_leak", Severity: sev,
			Title: l.String(), Detail: strings.TrimSpace(d.String()), Time: when, Subject: string(l.Kind)})
	}
	m.mu.Lock()
	m.findings = fs
	m.mu.Unlock()
}

func formatMiB(b float64) string { return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) + " MiB" }

// Findings lists the leaks confirmed at the last Collect.
func (m *MemoryModule) Findings() []Finding {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Finding(nil), m.findings...)
}

// tuningExpect is what a GC tuning promises: a higher GOGC less GC CPU, a
// lower GOGC or memory limit a smaller share of the limit in use.
func tuningExpect(t memopt.Tuning) *Expectation {
	if t.Knob == memopt.KnobGOGC && t.To > t.From {
		return &Expectation{Series: metrics.GCCPUFraction, LowerIsBetter: true}
	}
	return &Expectation{Series: metrics.MemoryUsageRatio, LowerIsBetter: true}
}

// Recommend proposes GC tunings and, past the memory thresholds, a cleanup.
func (m *MemoryModule) Recommend(ctx context.Context, snap Snapshot) ([]Action, error) {
	usage := -1.0
	if v, ok := snap.Latest[metrics.MemoryUsageRatio]; ok && v > 0 {
		usage = v
	}
	var out []Action
	for _, t := range m.opt.Recommend(usage) {
		kind, target := ActionSetGOGC, "GOGC"
		if t.Knob == memopt.KnobMemoryLimit {
			kind, target = ActionSetGOMEMLIMIT, "GOMEMLIMIT"
		}
		risk := RiskSafe
		if t.Moderate {
			risk = RiskModerate
		}
		out = append(out, Action{Module: "memory", Kind: kind, Target: target, Description: t.String(),
			Impact: tuningImpact(t), Risk: risk,
			Undo:   fmt.Sprintf("set %s back to %s", target, tuningValue(t.Knob, t.From)),
			Params: map[string]string{"from": strconv.FormatInt(t.From, 10), "to": strconv.FormatInt(t.To, 10), "reason": t.Reason},
			Expect: tuningExpect(t)})
	}
	if usage < 0 {
		met, err := m.opt.Metrics(ctx)
		if err != nil {
			return out, err
		}
		usage = met.Usage
	}
	th := snap.Config.Thresholds.Memory
	level := ""
	switch {
	case th.Critical > 0 && usage >= th.Critical:
		level = memopt.PressureCritical.String()
	case th.Warning > 0 && usage >= th.Warning && m.opt.Registry().Len() > 0:
		level = memopt.PressureWarning.String()
	}
	if level != "" {
		desc := fmt.Sprintf("memory at %.0f%% of the limit: ask %d registered caches to shed memory", 100*usage, m.opt.Registry().Len())
		if level == "critical" {
			desc += ", then return freed memory to the OS"
		}
		out = append(out, Action{Module: "memory", Kind: ActionMemoryCleanup, Target: level, Description: desc,
			Impact: "lower heap and RSS; caches refill on demand", Risk: RiskSafe,
			Params: map[string]string{"pressure": level}})
	}
	return out, nil
}

func tuningValue(k memopt.Knob, v int64) string {
	switch {
	case k == memopt.KnobMemoryLimit && v == math.MaxInt64:
		return "off"
	case k == memopt.KnobMemoryLimit:
		return formatMiB(float64(v))
	}
	return strconv.FormatInt(v, 10)
}

func tuningImpact(t memopt.Tuning) string {
	switch {
	case t.Knob == memopt.KnobMemoryLimit && t.To > t.From:
		return "less GC CPU near the limit, more memory used"
	case t.Knob == memopt.KnobMemoryLimit:
		return "the GC works harder before the container's OOM killer would act"
	case t.To < t.From:
		return "smaller heap, more GC CPU"
	}
	return "less GC CPU, larger heap"
}

// Apply makes a tuning or runs a cleanup.
func (m *MemoryModule) Apply(ctx context.Context, a Action) (Result, error) {
	switch a.Kind {
	case ActionSetGOGC, ActionSetGOMEMLIMIT:
		t, err := actionTuning(a)
		if err != nil {
			return Result{}, err
		}
		if _, err := m.opt.Governor().Apply(t); err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("%s set to %s (was %s)", a.Target, tuningValue(t.Knob, t.To), tuningValue(t.Knob, t.From))}, nil
	case ActionMemoryCleanup:
		p := memopt.PressureWarning
		if a.Params["pressure"] == memopt.PressureCritical.String() {
			p = memopt.PressureCritical
		}
		rep, err := m.opt.Cleanup(ctx, p)
		msg := fmt.Sprintf("%d shrink steps freed about %s", len(rep.Steps), formatMiB(float64(rep.Freed)))
		if rep.FreedOS {
			msg += "; memory returned to the OS"
		}
		return Result{Message: msg}, err
	}
	return Result{}, fmt.Errorf("memory: unknown action kind %q: %w", a.Kind, ErrNotFound)
}

// Undo reverts a tuning; a cleanup cannot be undone (caches refill
// themselves).
func (m *MemoryModule) Undo(_ context.Context, a Action) error {
	if a.Kind == ActionMemoryCleanup {
		return ErrNotUndoable
	}
	t, err := actionTuning(a)
	if err != nil {
		return err
	}
	return m.opt.Governor().Undo(t)
}

func actionTuning(a Action) (memopt.Tuning, error) {
	t := memopt.Tuning{Knob: memopt.KnobGOGC, Reason: a.Params["reason"]}
	if a.Kind == ActionSetGOMEMLIMIT {
		t.Knob = memopt.KnobMemoryLimit
	}
	var err error
	if t.From, err = strconv.ParseInt(a.Params["from"], 10, 64); err != nil {
		return t, fmt.Errorf("memory: action %s: bad from %q", a.ID, a.Params["from"])
	}
	if t.To, err = strconv.ParseInt(a.Params["to"], 10, 64); err != nil {
		return t, fmt.Errorf("memory: action %s: bad to %q", a.ID, a.Params["to"])
	}
	return t, nil
}
