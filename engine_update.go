package perfengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/alert"
)

// ErrRestartRequired is wrapped by UpdateConfig's error for a section that
// takes effect only at the next Start (the store, which holds the open
// database) or at the daemon's next start (the server).
var ErrRestartRequired = errors.New("takes effect at the next start")

// UpdateConfig applies a new configuration to a running (or stopped)
// engine. An invalid configuration is rejected whole and the old one stays
// in force. Everything else applies at once: thresholds, interval, policy,
// debug logging; enabled starts or stops the loop; alerts rebuild the
// dispatcher; a module turned on starts (built if New skipped it), one
// turned off stops; a module whose section changed is reconfigured in place
// (regression: keeps its windows and findings) or rebuilt (database,
// memory). What cannot apply now is in the returned error, one entry per
// section: the store and server (ErrRestartRequired), and the sections of
// modules the application built (ErrModuleOwnedByApplication). The rest
// has applied even then.
func (e *Engine) UpdateConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.ownMaps()
	e.life.Lock()
	defer e.life.Unlock()
	e.mu.Lock()
	old := e.cfg
	e.cfg = cfg
	e.eval.setThresholds(cfg.Thresholds)
	e.mu.Unlock()
	e.debug.Store(cfg.Debug)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.ModuleTimeout.D())
	defer cancel()
	errs := e.reconcileModules(ctx, old, cfg)
	if !reflect.DeepEqual(old.Alerts, cfg.Alerts) {
		// A new alerts section replaces channels ConfigureAlerts gave.
		e.alertChannels = nil
		if err := e.reconfigureAlerts(ctx, cfg, nil); err != nil {
			errs = append(errs, fmt.Errorf("alerts: %w", err))
		}
	}
	if e.running {
		if old.Store != cfg.Store {
			errs = append(errs, fmt.Errorf("store: %w (the engine keeps its open store until Stop)", ErrRestartRequired))
		}
		if old.Server != cfg.Server {
			errs = append(errs, fmt.Errorf("server: %w (the daemon reads it when it starts)", ErrRestartRequired))
		}
	}
	if old.MonitoringInterval != cfg.MonitoringInterval {
		e.sendInterval(cfg.MonitoringInterval.D())
	}
	if e.running && old.Enabled != cfg.Enabled {
		if cfg.Enabled {
			e.startLoop(ctx, cfg)
			e.log.Info("monitoring enabled")
		} else {
			if err := e.stopLoop(ctx); err != nil {
				errs = append(errs, err)
			}
			e.cancel, e.done = func() {}, closedChan()
			e.log.Info("monitoring disabled")
		}
	}
	e.log.Info("config updated", "enabled", cfg.Enabled, "interval", cfg.MonitoringInterval,
		"autoOptimize", cfg.AutoOptimize, "aggressiveMode", cfg.AggressiveMode, "debug", cfg.Debug)
	// The summary shows the new configuration (modules on or off) at once,
	// not at the next cycle.
	e.publish(e.now())
	return errors.Join(errs...)
}

// sendInterval tells the loop about a new interval, replacing a change it
// has not read yet.
func (e *Engine) sendInterval(d time.Duration) {
	select {
	case e.interval <- d:
	default:
		select {
		case <-e.interval:
		default:
		}
		e.interval <- d
	}
}

// reconfigureAlerts replaces the dispatcher with one for cfg, draining the
// old one within ctx. It runs under life.
func (e *Engine) reconfigureAlerts(ctx context.Context, cfg Config, channels []alert.Channel) error {
	n, err := e.newNotifier(cfg, channels, e.notifierRegistered)
	if err != nil {
		return err
	}
	e.notifierRegistered = true
	prev := e.dispatcher()
	n.Adopt(prev)
	if e.running {
		if err := n.Start(ctx); err != nil {
			return fmt.Errorf("start: %w", err)
		}
	}
	e.mu.Lock()
	e.notifier = n
	e.mu.Unlock()
	if prev != nil && e.running {
		if err := prev.Stop(ctx); err != nil {
			e.log.Warn("stop previous alert dispatcher", "err", err)
		}
	}
	return nil
}

// debugHandler lets debug records through when the configuration's debug
// key is on, whatever the level of the handler it wraps: debug mode is a
// setting of the engine, not of the application's logger.
type debugHandler struct {
	slog.Handler
	on *atomic.Bool
}

func (h *debugHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelDebug && h.on.Load() || h.Handler.Enabled(ctx, l)
}

func (h *debugHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &debugHandler{Handler: h.Handler.WithAttrs(as), on: h.on}
}

func (h *debugHandler) WithGroup(name string) slog.Handler {
	return &debugHandler{Handler: h.Handler.WithGroup(name), on: h.on}
}
