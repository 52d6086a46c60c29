package perfengine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
)

// moduleBuilder is how the engine builds one optimizer module from its
// configuration, and which part of the configuration the module depends on.
type moduleBuilder struct {
	name string
	// can reports whether the configuration holds enough to build it (the
	// toggle aside): the database module needs database.dsn.
	can func(Config) bool
	// section is the part of the configuration the built module reads; a
	// change in it means a rebuild or a reconfigure.
	section func(Config) any
	build   func(e *Engine, c Config) (Module, error)
	// reconfigure, when set, applies a changed section to the built module
	// in place; handled false means the module cannot and is rebuilt.
	reconfigure func(m Module, c Config) (handled bool, err error)
}

// builtinBuilders are the built-in modules the configuration alone can build. The API,
// network and browser modules live inside the application (a middleware,
// an http.Client), so the application builds and passes them.
var builtinBuilders = []moduleBuilder{
	{
		name:    "database",
		can:     func(c Config) bool { return c.Database.DSN != "" },
		section: func(c Config) any { return c.Database },
		build: func(_ *Engine, c Config) (Module, error) {
			return NewDatabaseModuleFromConfig(c.Database)
		},
	},
	{
		name:    "memory",
		can:     func(Config) bool { return true },
		section: func(c Config) any { return [2]any{c.Memory, c.Thresholds.Memory} },
		build: func(_ *Engine, c Config) (Module, error) {
			return NewMemoryModuleFromConfig(c.Memory, c.Thresholds)
		},
	},
	{
		name:    "regression",
		can:     func(Config) bool { return true },
		section: func(c Config) any { return c.Regression },
		build: func(e *Engine, c Config) (Module, error) {
			opts := []RegressionOption{WithRegressionClock(e.now)}
			if hc := e.outboundClient(); hc != nil {
				opts = append(opts, WithRegressionHTTPClient(hc))
			}
			return NewRegressionModule(c.Regression, opts...)
		},
	},
	{
		name:    "scaling",
		can:     func(Config) bool { return true },
		section: func(c Config) any { return c.AutoScaling },
		build: func(e *Engine, c Config) (Module, error) {
			m, err := NewScaleModule(c.AutoScaling, e.now, e.outboundClient())
			if err != nil {
				return nil, err
			}
			m.dryRun = e.recordDryRun
			return m, nil
		},
	},
}

// builders are the built-in builders, then those of the custom modules.
func builders() []moduleBuilder {
	return append(slices.Clip(builtinBuilders), customBuilders()...)
}

// outboundClient is the client of the network module, when one is
// registered and turned on: the engine's own requests (alert webhooks, the
// rollback webhook) then get its pooling, retries and per-host figures.
// nil means each uses a plain client of its own.
func (e *Engine) outboundClient() *http.Client {
	if !e.Config().enabled("network") {
		return nil
	}
	if ms := e.module("network"); ms != nil {
		if nm, ok := ms.m.(*NetworkModule); ok {
			return nm.Client()
		}
	}
	return nil
}

// sectionOf returns the configuration section a module named name reads,
// for the modules the application builds, so UpdateConfig can tell when it
// cannot apply a change to them.
func sectionOf(name string, c Config) (any, bool) {
	for _, b := range builders() {
		if b.name == name {
			return b.section(c), true
		}
	}
	switch name {
	case "api":
		return c.API, true
	case "network":
		return c.Network, true
	case "browser":
		return c.Browser, true
	}
	return nil, false
}

// reconfigurer is a module that applies a new configuration in place,
// keeping its state.
type reconfigurer interface {
	reconfigureFrom(c Config) error
}

// reconfigureIn applies cfg to the built module m in place, when it can.
func (b moduleBuilder) reconfigureIn(m Module, cfg Config) (handled bool, err error) {
	if b.reconfigure != nil {
		return b.reconfigure(m, cfg)
	}
	if r, ok := m.(reconfigurer); ok {
		return true, r.reconfigureFrom(cfg)
	}
	return false, nil
}

func (m *RegressionModule) reconfigureFrom(c Config) error { return m.reconfigure(c.Regression) }

// addConfigured adds the optimizer modules that the configuration alone can
// build, for those turned on and not given by WithModules.
func (e *Engine) addConfigured(cfg Config, given map[string]bool) error {
	for _, b := range builders() {
		if !cfg.enabled(b.name) || !b.can(cfg) || given[b.name] {
			continue
		}
		m, err := b.build(e, cfg)
		if err != nil {
			return fmt.Errorf("build %s module: %w", b.name, err)
		}
		if err := e.add(m); err != nil {
			return err
		}
		e.built[b.name] = true
	}
	return nil
}

// reconcileModules brings the modules in line with a new configuration:
// a module turned off stops its background work (it stays registered, with
// its state, and is skipped by the cycle); one turned on starts, or is
// built if New skipped it; one whose section changed is reconfigured in
// place when it can be, rebuilt when the engine built it, and reported
// when the application did. It runs under e.life.
func (e *Engine) reconcileModules(ctx context.Context, old, cfg Config) []error {
	var errs []error
	for _, b := range builders() {
		ms := e.module(b.name)
		switch {
		case ms == nil && cfg.enabled(b.name) && b.can(cfg):
			m, err := b.build(e, cfg)
			if err == nil {
				err = e.add(m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("build %s module: %w", b.name, err))
				continue
			}
			e.built[b.name] = true
			e.log.Info("module added by configuration", "name", b.name)
		case ms != nil && e.built[b.name] && !b.can(cfg):
			e.stopModule(ctx, ms)
			e.remove(ms)
			delete(e.built, b.name)
			e.log.Info("module removed by configuration", "name", b.name)
		case ms != nil && e.built[b.name] && !reflect.DeepEqual(b.section(old), b.section(cfg)):
			if handled, err := b.reconfigureIn(ms.m, cfg); handled {
				if err != nil {
					errs = append(errs, fmt.Errorf("reconfigure %s module: %w", b.name, err))
				} else {
					e.log.Info("module reconfigured in place", "name", b.name)
				}
				continue
			}
			m, err := b.build(e, cfg)
			if err != nil {
				errs = append(errs, fmt.Errorf("rebuild %s module: %w", b.name, err))
				continue
			}
			e.stopModule(ctx, ms)
			e.replace(ctx, cfg, ms, m)
			e.log.Info("module rebuilt for its new configuration", "name", b.name)
		}
	}
	e.mu.RLock()
	mods := append([]*moduleState(nil), e.modules...)
	e.mu.RUnlock()
	for _, ms := range mods {
		if !e.built[ms.name] {
			if before, ok := sectionOf(ms.name, old); ok {
				after, _ := sectionOf(ms.name, cfg)
				if !reflect.DeepEqual(before, after) {
					errs = append(errs, fmt.Errorf("%s: %w", ms.name, ErrModuleOwnedByApplication))
				}
			}
		}
		if _, ok := ms.m.(Starter); !ok || !e.running {
			continue
		}
		switch on := cfg.enabled(ms.name); {
		case on && !ms.started:
			e.startModule(ctx, ms)
		case !on && ms.started:
			e.stopModule(ctx, ms)
		}
	}
	return errs
}

// ErrModuleOwnedByApplication is reported by UpdateConfig for a section
// whose module the application built and passed in: the engine cannot
// rebuild the application's middleware or client, so the change applies
// when the application builds the module again from the new section.
var ErrModuleOwnedByApplication = errors.New("module built by the application: rebuild it from the new section to apply the change")

// startModule starts a module's background work, if it has any; a failure
// is reported like a failed collection and retried at the next Start.
func (e *Engine) startModule(ctx context.Context, ms *moduleState) {
	s, ok := ms.m.(Starter)
	if !ok || ms.started {
		return
	}
	if err := callStart(ctx, s); err != nil {
		e.log.Warn("module start failed", "name", ms.name, "err", err)
		ms.recordFailure(e.now(), e.Config().MonitoringInterval.D(), err)
		return
	}
	ms.started = true
}

func (e *Engine) stopModule(ctx context.Context, ms *moduleState) {
	if !ms.started {
		return
	}
	ms.started = false
	if s, ok := ms.m.(Starter); ok {
		if err := s.Stop(ctx); err != nil {
			e.log.Warn("module stop failed", "name", ms.name, "err", err)
		}
	}
}

func (e *Engine) remove(ms *moduleState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.modules {
		if x == ms {
			e.modules = append(e.modules[:i:i], e.modules[i+1:]...)
			return
		}
	}
}

// replace swaps a module for its rebuilt self under the same name, and
// starts it when the engine runs. A cycle in flight keeps the old state it
// already holds. It runs under e.life.
func (e *Engine) replace(ctx context.Context, cfg Config, ms *moduleState, m Module) {
	fresh := &moduleState{m: m, name: ms.name}
	e.mu.Lock()
	others := make([]Module, 0, len(e.modules))
	for i, x := range e.modules {
		if x == ms {
			e.modules[i] = fresh
		} else {
			others = append(others, x.m)
		}
	}
	e.mu.Unlock()
	linkMemory(m, others)
	if e.running && cfg.enabled(ms.name) {
		e.startModule(ctx, fresh)
	}
}
