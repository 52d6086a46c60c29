package perfengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// Errors returned by the engine's action API.
var (
	ErrNotFound    = errors.New("perfengine: action not found")
	ErrConflict    = errors.New("perfengine: action is not in a state that allows this")
	ErrNotUndoable = errors.New("perfengine: action cannot be undone")
	ErrNotRunning  = errors.New("perfengine: engine is not running")
	// ErrRefused is what a module's Apply wraps when a rule of its own
	// (a cooldown, a loop guard) forbids the action now: the action is
	// recorded as rejected with the reason, not as failed, since nothing
	// was tried and nothing broke.
	ErrRefused = errors.New("perfengine: refused")
)

// seriesCapacity bounds each metric's in-memory history: 17 minutes at a 1 s
// interval, 8.5 hours at the default 30 s. Older points live in the store.
const seriesCapacity = 1024

// compactEvery is how often the engine folds old samples in the store.
const compactEvery = 10 * time.Minute

// Option configures an Engine with a collaborator that exists only in code.
type Option func(*Engine)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithRegisterer registers the engine's Prometheus metrics on r. Without it
// the engine exports nothing.
func WithRegisterer(r prometheus.Registerer) Option { return func(e *Engine) { e.reg = r } }

// WithStore makes the engine persist to s instead of opening the store its
// configuration names. The engine does not close a store it was given.
func WithStore(s store.Store) Option { return func(e *Engine) { e.st = s } }

// WithModules adds modules besides the built-in runtime module.
func WithModules(m ...Module) Option {
	return func(e *Engine) { e.pending = append(e.pending, m...) }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// Engine watches a service through its modules, evaluates thresholds into a
// status, applies what its policy allows and records everything.
//
// Create one with New; it does nothing until Start. All methods are safe for
// concurrent use. Summary, CurrentMetrics and Actions are served from memory.
type Engine struct {
	log *slog.Logger
	reg prometheus.Registerer
	now func() time.Time

	mu      sync.RWMutex // guards the fields up to latest, and cycles
	cfg     Config
	modules []*moduleState
	pending []Module // from WithModules, turned into modules by New
	st      store.Store
	// ownStore is true when the engine opened st and so must close it.
	ownStore    bool
	started     time.Time
	lastCompact time.Time
	latest      map[string]seen // newest sample by series key

	series  *metrics.Set
	checks  []pendingCheck // applied actions whose effect is measured; guarded by mu
	eval    *evaluator
	book    *actionBook
	summary summaryCache
	prom    *engineMetrics
	// notifier fans alerts out to webhooks and email; nil when none is
	// configured. Endpoints are read at New.
	notifier           *alert.Dispatcher
	notifierRegistered bool                   // its metrics are on reg already
	alertChannels      []alert.Channel        // set by ConfigureAlerts; nil means the configuration's
	firing             map[uint64]store.Alert // what fired at the last cycle, by fingerprint; guarded by mu

	// life serialises Start and Stop.
	life     sync.Mutex
	running  bool
	cancel   context.CancelFunc
	done     chan struct{}
	interval chan time.Duration // tells the loop about a new interval
	cycles   uint64             // guarded by mu

	// built names the modules the engine built from its configuration, so
	// UpdateConfig may rebuild or remove them; guarded by life (and New).
	built map[string]bool
	// debug mirrors cfg.Debug for the logger, which reads it per record.
	debug atomic.Bool
}

// New validates cfg and builds an engine with the runtime module, the
// modules of opts, and the modules its configuration can build by itself
// (database from database.dsn, memory, regression; see Config.Modules).
// It starts nothing and opens nothing.
func New(cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg.ownMaps(),
		now:      time.Now,
		series:   metrics.NewSet(seriesCapacity),
		book:     newActionBook(),
		interval: make(chan time.Duration, 1),
		built:    map[string]bool{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.debug.Store(cfg.Debug)
	e.log = slog.New(&debugHandler{Handler: e.log.Handler(), on: &e.debug}).With("module", "engine")
	e.eval = newEvaluator(cfg.Thresholds)
	if err := e.add(&RuntimeModule{c: metrics.NewRuntimeCollector(), now: e.now}); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	for _, m := range e.pending {
		if err := e.add(m); err != nil {
			return nil, err
		}
		given[m.Name()] = true
	}
	e.pending = nil
	if err := e.addConfigured(cfg, given); err != nil {
		return nil, err
	}
	if _, err := cfg.Alerts.BuildChannels(nil, 0); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if e.reg != nil {
		m, err := newEngineMetrics(e.reg, e)
		if err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
		e.prom = m
	}
	e.publish(e.now())
	return e, nil
}

// Register adds a module. It may be called while the engine runs; a module
// with background work (Starter) is started at once in that case, within the
// module timeout.
func (e *Engine) Register(m Module) error {
	if err := e.add(m); err != nil {
		return err
	}
	e.life.Lock()
	defer e.life.Unlock()
	if e.running {
		if s, ok := m.(Starter); ok {
			ctx, cancel := context.WithTimeout(context.Background(), e.Config().ModuleTimeout.D())
			defer cancel()
			if err := callStart(ctx, s); err != nil {
				return fmt.Errorf("start module %s: %w", m.Name(), err)
			}
			e.mu.Lock()
			for _, ms := range e.modules {
				if ms.m == m {
					ms.started = true
				}
			}
			e.mu.Unlock()
		}
	}
	return nil
}

func (e *Engine) add(m Module) error {
	if m == nil {
		return errors.New("perfengine: nil module")
	}
	name := m.Name()
	if name == "" {
		return errors.New("perfengine: module has no name")
	}
	e.mu.Lock()
	others := make([]Module, 0, len(e.modules))
	for _, ms := range e.modules {
		if ms.m.Name() == name {
			e.mu.Unlock()
			return fmt.Errorf("perfengine: module %q already registered", name)
		}
		others = append(others, ms.m)
	}
	e.modules = append(e.modules, &moduleState{m: m, name: name})
	e.mu.Unlock()
	linkMemory(m, others)
	return nil
}

// Config returns the configuration in force.
func (e *Engine) Config() Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg.ownMaps()
}

// Store returns the store the engine records to; nil before Start.
func (e *Engine) Store() store.Store {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st
}

// Start opens the store, starts the modules with background work and the
// monitoring loop. It returns once the first cycle has run. Calling Start on
// a running engine does nothing. With monitoring disabled in the
// configuration it only opens the store.
func (e *Engine) Start(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.running {
		return nil
	}
	if err := e.openStore(ctx); err != nil {
		return err
	}
	e.loadHistory(ctx)

	e.mu.Lock()
	e.started = e.now()
	mods := append([]*moduleState(nil), e.modules...)
	cfg := e.cfg
	e.mu.Unlock()
	for _, ms := range mods {
		s, ok := ms.m.(Starter)
		if !ok || ms.started {
			continue
		}
		if err := callStart(ctx, s); err != nil {
			// A module that cannot start is reported like one that cannot
			// collect; the engine runs without it and retries later.
			e.log.Warn("module start failed", "name", ms.name, "err", err)
			ms.recordFailure(e.now(), cfg.MonitoringInterval.D(), err)
			continue
		}
		ms.started = true
	}

	// A dispatcher cannot be restarted, so every Start builds one; it
	// takes over the memory of the one before, or reads it from the store.
	n, err := e.newNotifier(cfg, e.alertChannels, e.notifierRegistered)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	e.notifierRegistered = true
	n.Adopt(e.dispatcher())
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("start alerts: %w", err)
	}
	e.mu.Lock()
	e.notifier = n
	e.mu.Unlock()

	e.running = true
	if !cfg.Enabled {
		e.cancel, e.done = func() {}, closedChan()
		e.log.Info("monitoring disabled by configuration")
		return nil
	}
	e.startLoop(ctx, cfg)
	e.log.Info("engine started", "interval", cfg.MonitoringInterval, "modules", len(mods))
	return nil
}

// startLoop runs the first cycle and starts the loop. It runs under life.
func (e *Engine) startLoop(ctx context.Context, cfg Config) {
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.done = make(chan struct{})
	e.cycle(loopCtx)
	go e.loop(loopCtx, cfg.MonitoringInterval.D())
}

// stopLoop ends the loop and waits for the cycle in flight, within ctx.
// It runs under life.
func (e *Engine) stopLoop(ctx context.Context) error {
	e.cancel()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for monitoring loop: %w", ctx.Err())
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func callStart(ctx context.Context, s Starter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.Start(ctx)
}

// Stop ends the loop, waits for the cycle in flight (within ctx), stops the
// modules, flushes and closes the store the engine opened. Stopping a stopped
// engine does nothing.
func (e *Engine) Stop(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if !e.running {
		return nil
	}
	e.running = false
	var errs []error
	if err := e.stopLoop(ctx); err != nil {
		errs = append(errs, err)
	}

	e.mu.RLock()
	mods := append([]*moduleState(nil), e.modules...)
	e.mu.RUnlock()
	for i := len(mods) - 1; i >= 0; i-- {
		ms := mods[i]
		s, ok := ms.m.(Starter)
		if !ok || !ms.started {
			continue
		}
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop module %s: %w", ms.name, err))
		}
		ms.started = false
	}

	if e.notifier != nil {
		if err := e.notifier.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop alerts: %w", err))
		}
	}

	e.mu.Lock()
	st, own := e.st, e.ownStore
	if own {
		e.st, e.ownStore = nil, false
	}
	e.mu.Unlock()
	if own && st != nil {
		if err := st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	e.log.Info("engine stopped")
	return errors.Join(errs...)
}

func (e *Engine) openStore(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != nil {
		return nil
	}
	sc := e.cfg.Store
	dsn := sc.DSN
	if dsn == "" {
		if err := os.MkdirAll(sc.DataDir, 0o755); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		dsn = "sqlite:" + filepath.Join(sc.DataDir, "perfengine.db")
	}
	st, err := store.Open(ctx, dsn, store.Retention{Raw: sc.RawRetention.D(), Aggregate: sc.AggregateRetention.D()})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	e.st, e.ownStore = st, true
	return nil
}

// historyLimit is how many past actions the engine reloads at Start, so that
// what a person undid stays undone across restarts.
const historyLimit = 500

func (e *Engine) loadHistory(ctx context.Context) {
	st := e.Store()
	if st == nil {
		return
	}
	recs, err := st.ListActions(ctx, store.ActionFilter{Limit: historyLimit})
	if err != nil {
		e.log.Warn("load action history", "err", err)
		return
	}
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		e.book.restore(fromRecord(recs[i]))
	}
}

func (e *Engine) loop(ctx context.Context, interval time.Duration) {
	defer close(e.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-e.interval:
			t.Reset(d)
		case <-t.C:
			// Stop cuts the recommendations of a cycle in flight short;
			// its samples are still collected and recorded, and Stop
			// waits for that.
			e.cycle(ctx)
		}
	}
}

// Status returns the current status.
func (e *Engine) Status() Status { return e.summary.load().Status }

// Summary returns the report of the last cycle. It is a copy: the caller may
// keep and change it.
func (e *Engine) Summary() Summary { return e.summary.load().clone() }

// CurrentMetrics returns the newest sample of every series.
func (e *Engine) CurrentMetrics() []metrics.Sample {
	return append([]metrics.Sample(nil), e.summary.load().samples...)
}

// Actions returns the actions in the given states (all when none), newest
// first.
func (e *Engine) Actions(states ...ActionState) []Action { return e.book.list(states...) }

// DebugInfo returns the engine's history and per-metric trends over the last
// ten intervals.
func (e *Engine) DebugInfo() DebugInfo {
	e.mu.RLock()
	cfg, started, cycles := e.cfg, e.started, e.cycles
	e.mu.RUnlock()
	cfg = cfg.Redacted()
	now := e.now()
	return DebugInfo{
		Config:  cfg,
		Started: started,
		Cycles:  cycles,
		History: e.book.list(),
		Trends:  e.series.Stats(now, 10*cfg.MonitoringInterval.D()),
		Modules: e.moduleStatuses(),
	}
}
