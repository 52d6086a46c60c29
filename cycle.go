package perfengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// maxBackoffIntervals caps how many intervals a failing module is left alone.
const maxBackoffIntervals = 32

// moduleState is the engine's bookkeeping for one module. Fields other than
// inflight are guarded by the engine's cycle, which runs one at a time.
type moduleState struct {
	m       Module
	name    string
	started bool

	// inflight is set while a Collect runs: a module whose Collect ignores
	// its context is skipped rather than piling up goroutines.
	inflight atomic.Bool

	mu          sync.Mutex // guards the fields below, read by Summary
	failures    int
	nextRetry   time.Time
	lastErr     string
	lastCollect time.Time
	samples     int
}

func (ms *moduleState) recordFailure(now time.Time, interval time.Duration, err error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.failures++
	ms.lastErr = err.Error()
	backoff := interval << min(ms.failures-1, 5)
	ms.nextRetry = now.Add(min(backoff, maxBackoffIntervals*interval))
}

func (ms *moduleState) recordSuccess(now time.Time, n int) (recovered bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	recovered = ms.failures > 0
	ms.failures, ms.lastErr, ms.nextRetry = 0, "", time.Time{}
	ms.lastCollect, ms.samples = now, n
	return recovered
}

func (ms *moduleState) due(now time.Time) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return !now.Before(ms.nextRetry)
}

func (ms *moduleState) status() ModuleStatus {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ModuleStatus{
		Name:        ms.name,
		Healthy:     ms.failures == 0,
		LastCollect: ms.lastCollect,
		LastError:   ms.lastErr,
		Failures:    ms.failures,
		NextRetry:   ms.nextRetry,
		Samples:     ms.samples,
	}
}

// safely runs f, turning a panic into an error that names the module, so
// that a broken module never takes the engine (or the service) down.
func safely(name string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("module %s panicked: %v\n%s", name, r, debug.Stack())
		}
	}()
	return f()
}

// withTimeout runs f under a deadline and returns when f returns or the
// deadline passes, whichever is first; a module that ignores its context
// cannot stall the cycle.
func withTimeout(ctx context.Context, d time.Duration, name string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- safely(name, func() error { return f(ctx) }) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("module %s: %w after %s", name, context.DeadlineExceeded, d)
	}
}

// enabled reports whether the configuration turns the module on. Modules
// named after a toggle follow it; others (runtime, custom ones) are always on.
func (c Config) enabled(name string) bool {
	switch name {
	case "database":
		return c.Modules.Database
	case "api":
		return c.Modules.API
	case "memory":
		return c.Modules.Memory
	case "network":
		return c.Modules.Network
	case "browser":
		return c.Modules.Browser
	case "regression":
		return c.Modules.Regression
	case "scaling":
		return c.Modules.Scaling
	}
	if on, ok := c.Modules.Custom[name]; ok {
		return on
	}
	if spec := lookupCustom(name); spec != nil {
		return spec.on
	}
	return true // a module the application registered, without a toggle
}

// cycle is one turn of the loop: collect, evaluate, recommend, act, record,
// report.
func (e *Engine) cycle(ctx context.Context) {
	if ctx.Err() != nil {
		return // Stop came with the tick
	}
	now := e.now()
	e.mu.Lock()
	e.cycles++
	cfg := e.cfg
	mods := make([]*moduleState, 0, len(e.modules))
	for _, ms := range e.modules {
		if cfg.enabled(ms.name) {
			mods = append(mods, ms)
		}
	}
	e.mu.Unlock()

	// A cycle in flight when Stop comes still collects (module timeouts
	// bound that) and writes down what it learnt, on a context Stop does
	// not cancel; the slow part, the modules' recommendations (index
	// advice, say), ends with ctx.
	keep := context.WithoutCancel(ctx)
	samples := e.collect(keep, now, cfg, mods)
	latest := e.observe(now, cfg.MonitoringInterval.D(), samples)
	if st := e.Store(); st != nil && len(samples) > 0 {
		if err := st.WriteSamples(keep, samples); err != nil {
			e.log.Warn("write samples", "err", err)
		}
	}

	e.verify(keep, now, cfg, mods)

	prev := e.eval.status()
	status, violations := e.eval.evaluate(now, latest)
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.logEvaluation(keep, cfg, status, violations, latest)
	}
	snap := Snapshot{Time: now, Status: status, Latest: latest, Config: cfg, Store: e.Store(), Versions: e.targetVersions()}
	e.recommend(ctx, cfg, snap, mods)
	// The findings of this cycle's recommendations raise the status now,
	// not a cycle later.
	status = e.eval.raise(now, statusCauses(cfg, mods))
	if status != prev {
		e.statusChanged(now, prev, status, mods)
	}
	if ctx.Err() != nil {
		// Stopping: an action applied now would fail on the cancelled
		// context and be recorded as failed; the next start resumes.
		e.publish(now)
		return
	}
	e.applyByPolicy(ctx, cfg)
	e.compact(keep, now)
	e.publish(now)
	e.putAlerts(keep, now, status, e.summary.load().Summary)
}

func (e *Engine) collect(ctx context.Context, now time.Time, cfg Config, mods []*moduleState) []metrics.Sample {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []metrics.Sample
	)
	for _, ms := range mods {
		if !ms.due(now) {
			continue
		}
		if !ms.inflight.CompareAndSwap(false, true) {
			ms.recordFailure(now, cfg.MonitoringInterval.D(), errors.New("previous collection still running"))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []metrics.Sample
			err := withTimeout(ctx, cfg.ModuleTimeout.D(), ms.name, func(ctx context.Context) error {
				defer ms.inflight.Store(false)
				s, err := ms.m.Collect(ctx)
				got = s
				return err
			})
			if err != nil {
				if ms.status().Failures == 0 {
					e.log.Warn("module failing", "name", ms.name, "err", err)
				}
				ms.recordFailure(now, cfg.MonitoringInterval.D(), err)
				if e.prom != nil {
					e.prom.moduleFailures.WithLabelValues(ms.name).Inc()
				}
				return
			}
			for i := range got {
				if got[i].Time.IsZero() {
					got[i].Time = now
				}
			}
			if ms.recordSuccess(now, len(got)) {
				e.log.Info("module recovered", "name", ms.name)
			}
			e.log.Debug("collected", "name", ms.name, "samples", len(got), "took", e.now().Sub(now))
			mu.Lock()
			all = append(all, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

func (e *Engine) recommend(ctx context.Context, cfg Config, snap Snapshot, mods []*moduleState) {
	for _, ms := range mods {
		if ctx.Err() != nil {
			return // stopping: the rest waits for the next start
		}
		if ms.status().Failures > 0 {
			continue
		}
		var proposed []Action
		err := withTimeout(ctx, cfg.ModuleTimeout.D(), ms.name, func(ctx context.Context) error {
			a, err := ms.m.Recommend(ctx, snap)
			proposed = a
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("recommend", "name", ms.name, "err", err)
			}
			continue
		}
		for _, a := range proposed {
			a.Module = ms.name
			if a.Risk == "" {
				a.Risk = RiskRisky
			}
			if rec, isNew := e.book.propose(a, snap.Time); isNew {
				e.record(context.WithoutCancel(ctx), rec)
				e.log.Info("action proposed", "id", rec.ID, "name", rec.Module, "kind", rec.Kind, "target", rec.Target, "risk", rec.Risk)
			}
		}
	}
}

// allowed is the policy: which pending actions the engine applies by itself.
func (c Config) allowed(a Action) bool {
	if !c.AutoOptimize {
		return false
	}
	switch a.Risk {
	case RiskSafe:
		return true
	case RiskModerate:
		// Pre-approval by a module's own switch (autoScaling.enabled)
		// stands in for aggressiveMode for that module's actions.
		return c.AggressiveMode || a.PreApproved
	case RiskRisky:
		return a.PreApproved
	}
	return false
}

// policyReason says why the policy does or does not apply an action, for
// debug mode.
func (c Config) policyReason(a Action) string {
	switch {
	case !c.AutoOptimize:
		return "autoOptimize is off: waits for approval"
	case a.Risk == RiskSafe:
		return "safe: applied automatically"
	case a.Risk == RiskModerate && c.AggressiveMode:
		return "moderate, aggressiveMode on: applied automatically"
	case a.Risk == RiskModerate && a.PreApproved:
		return "moderate, pre-approved by its module's configuration: applied automatically"
	case a.Risk == RiskModerate:
		return "moderate: waits for approval (aggressiveMode is off)"
	case a.Risk == RiskRisky && a.PreApproved:
		return "risky but pre-approved by its module's configuration"
	}
	return "risky: waits for approval"
}

func (e *Engine) applyByPolicy(ctx context.Context, cfg Config) {
	for _, a := range e.book.list(ActionPending) {
		e.log.Debug("policy", "id", a.ID, "kind", a.Kind, "target", a.Target, "risk", a.Risk, "decision", cfg.policyReason(a))
		if cfg.allowed(a) {
			if n, ok := e.measuring(a, e.now(), cfg.MonitoringInterval.D()); ok {
				e.log.Debug("policy", "id", a.ID, "kind", a.Kind, "decision",
					fmt.Sprintf("waits: %d of %d intervals of %s seen, to measure its effect", n, verifyIntervals, a.Expect.Series))
				continue
			}
			if _, err := e.apply(ctx, a.ID); err != nil {
				e.log.Warn("apply", "id", a.ID, "kind", a.Kind, "err", err)
			}
		}
	}
}

// apply runs a pending action through its module and records the outcome.
func (e *Engine) apply(ctx context.Context, id string) (Action, error) {
	a, ok := e.book.claim(id, ActionPending)
	if !ok {
		if _, exists := e.book.get(id); !exists {
			return Action{}, ErrNotFound
		}
		return Action{}, ErrConflict
	}
	ms := e.module(a.Module)
	var res Result
	err := errors.New("module is not registered")
	if ms != nil {
		err = withTimeout(ctx, e.Config().ModuleTimeout.D(), ms.name, func(ctx context.Context) error {
			r, err := ms.m.Apply(ctx, a)
			res = r
			return err
		})
	}
	a = e.book.finish(id, e.now(), res, err, ActionApplied)
	e.record(ctx, a)
	if e.prom != nil {
		e.prom.actions.WithLabelValues(a.Module, string(a.State)).Inc()
	}
	e.announce(ctx, a)
	if errors.Is(err, ErrRefused) {
		e.log.Info("action refused", "id", a.ID, "kind", a.Kind, "reason", err)
		return a, fmt.Errorf("apply %s: %w", a.Kind, err)
	}
	if err != nil {
		e.log.Warn("action failed", "id", a.ID, "kind", a.Kind, "err", err)
		return a, fmt.Errorf("apply %s: %w", a.Kind, err)
	}
	e.log.Info("action applied", "id", a.ID, "kind", a.Kind, "target", a.Target)
	if a = e.startVerification(a); a.Verification != nil {
		e.record(ctx, a) // measuring, with the figure before
	}
	return a, nil
}

// Approve applies a pending action whatever its risk: a person decided.
// The summary is rebuilt at once, so the action leaves the recommendations
// now, not at the next cycle.
func (e *Engine) Approve(ctx context.Context, id string) (Action, error) {
	a, err := e.apply(ctx, id)
	if a.ID != "" {
		e.publish(e.now())
	}
	return a, err
}

// Undo reverts an applied action through its module.
func (e *Engine) Undo(ctx context.Context, id string) (Action, error) {
	cur, ok := e.book.get(id)
	if !ok {
		return Action{}, ErrNotFound
	}
	ms := e.module(cur.Module)
	var u Undoer
	if ms != nil {
		u, _ = ms.m.(Undoer)
	}
	if u == nil {
		return cur, ErrNotUndoable
	}
	a, ok := e.book.claim(id, ActionApplied)
	if !ok {
		return cur, ErrConflict
	}
	err := withTimeout(ctx, e.Config().ModuleTimeout.D(), ms.name, func(ctx context.Context) error {
		return u.Undo(ctx, a)
	})
	if err != nil {
		// The action is still in force: put it back as applied.
		a = e.book.finish(id, e.now(), Result{Message: a.Result}, nil, ActionApplied)
		a.Error = "undo: " + err.Error()
		e.record(ctx, a)
		return a, fmt.Errorf("undo %s: %w", a.Kind, err)
	}
	a = e.book.finish(id, e.now(), Result{Message: "undone"}, nil, ActionUndone)
	e.record(ctx, a)
	if e.prom != nil {
		e.prom.actions.WithLabelValues(a.Module, string(a.State)).Inc()
	}
	e.log.Info("action undone", "id", a.ID, "kind", a.Kind, "target", a.Target)
	e.publish(e.now())
	return a, nil
}

func (e *Engine) module(name string) *moduleState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, ms := range e.modules {
		if ms.name == name {
			return ms
		}
	}
	return nil
}

func (e *Engine) moduleStatuses() []ModuleStatus {
	e.mu.RLock()
	mods := append([]*moduleState(nil), e.modules...)
	e.mu.RUnlock()
	cfg := e.Config()
	out := make([]ModuleStatus, len(mods))
	for i, ms := range mods {
		out[i] = ms.status()
		out[i].Enabled = cfg.enabled(ms.name)
	}
	return out
}

func (e *Engine) record(ctx context.Context, a Action) {
	st := e.Store()
	if st == nil {
		return
	}
	if err := st.SaveAction(ctx, toRecord(a)); err != nil {
		e.log.Warn("record action", "id", a.ID, "err", err)
	}
}

// statusChanged logs a transition and tells modules that listen; the
// status alert itself is put with the others at the end of the cycle.
func (e *Engine) statusChanged(now time.Time, from, to Status, mods []*moduleState) {
	var causes []string
	for _, c := range e.eval.causes() {
		causes = append(causes, c.String())
	}
	e.log.Info("status changed", "from", from, "to", to, "at", now, "causes", causes)
	for _, ms := range mods {
		if l, ok := ms.m.(StatusListener); ok {
			_ = safely(ms.name, func() error { l.StatusChanged(to); return nil })
		}
	}
}

func (e *Engine) compact(ctx context.Context, now time.Time) {
	e.mu.Lock()
	due := now.Sub(e.lastCompact) >= compactEvery
	if due {
		e.lastCompact = now
	}
	e.mu.Unlock()
	st := e.Store()
	if !due || st == nil {
		return
	}
	if err := st.Compact(ctx, now); err != nil {
		e.log.Warn("compact store", "err", err)
	}
}

// logEvaluation logs, in debug mode, each key metric against its
// thresholds and the status that follows.
func (e *Engine) logEvaluation(ctx context.Context, cfg Config, status Status, violations []Violation, latest map[string]float64) {
	for _, r := range rules {
		if v, ok := latest[r.metric]; ok {
			th := r.threshold(cfg.Thresholds)
			e.log.DebugContext(ctx, "threshold", "metric", r.metric, "value", v, "warning", th.Warning, "critical", th.Critical, "lowerIsWorse", r.lowerWorse)
		} else {
			e.log.DebugContext(ctx, "threshold", "metric", r.metric, "value", "not reported")
		}
	}
	for _, v := range violations {
		e.log.DebugContext(ctx, "violation", "detail", v.String())
	}
	e.log.DebugContext(ctx, "evaluated", "status", status, "violations", len(violations), "series", len(latest))
}

// staleIntervals is how many intervals a series may go unreported before the
// engine stops judging it: a module that died must not pin the status.
const staleIntervals = 3

// observe records samples in the series and the latest-value table, drops
// what has gone stale, and returns the fresh latest values by series key.
// Staleness counts cycles by the engine's clock, not the samples' own
// times, so a module with a skewed clock is judged like the others.
func (e *Engine) observe(now time.Time, interval time.Duration, samples []metrics.Sample) map[string]float64 {
	e.series.Observe(samples...)
	staleBefore := now.Add(-staleIntervals * interval)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.latest == nil {
		e.latest = map[string]seen{}
	}
	for _, s := range samples {
		e.latest[s.Key()] = seen{s, now}
	}
	out := make(map[string]float64, len(e.latest))
	for k, s := range e.latest {
		if s.at.Before(staleBefore) {
			delete(e.latest, k)
			continue
		}
		out[k] = s.Value
	}
	// Series keep history for trends, but not for what stopped reporting
	// long ago (a route or host that went away).
	e.series.Prune(now.Add(-seriesCapacity * interval))
	return out
}

// seen is a sample and the cycle time it arrived in.
type seen struct {
	metrics.Sample
	at time.Time
}

// latestSamples returns the newest sample of every fresh series, by name.
func (e *Engine) latestSamples() []metrics.Sample {
	e.mu.RLock()
	out := make([]metrics.Sample, 0, len(e.latest))
	for _, s := range e.latest {
		out = append(out, s.Sample)
	}
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}
