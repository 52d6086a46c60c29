package perfengine

import (
	"context"
	"time"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/store"
)

// newNotifier builds the alert dispatcher of the configuration, or nil when
// no webhook or email endpoint is configured. It opens nothing.
func (e *Engine) newNotifier(cfg AlertsConfig, registered bool) (*alert.Dispatcher, error) {
	// The webhook shares the network module's client when there is one.
	ns, err := cfg.Notifiers(e.outboundClient())
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, nil
	}
	opts := alert.DispatcherOptions{Now: e.now, Logger: e.log}
	if !registered {
		opts.Registerer = e.reg
	}
	return alert.NewDispatcher(ns, opts)
}

// raise records an alert and hands it to the notifiers without blocking the
// cycle; the dispatcher groups repeats.
func (e *Engine) raise(ctx context.Context, al store.Alert) {
	if st := e.Store(); st != nil {
		if err := st.SaveAlert(ctx, al); err != nil {
			e.log.Warn("record alert", "err", err)
		}
	}
	e.mu.RLock()
	n := e.notifier
	e.mu.RUnlock()
	if n != nil && !n.Send(al) {
		e.log.Debug("alert not queued (repeat or full queue)", "title", al.Title)
	}
}

// alertFindings raises an alert the first time a warning or critical finding
// appears, and a resolution when it is gone.
func (e *Engine) alertFindings(ctx context.Context, now time.Time, findings []Finding) {
	current := map[string]Finding{}
	for _, f := range findings {
		if f.Severity == SeverityInfo {
			continue
		}
		current[f.Module+"\x00"+f.Title] = f
	}
	e.mu.Lock()
	prev := e.firing
	e.firing = current
	e.mu.Unlock()
	for k, f := range current {
		if _, ok := prev[k]; ok {
			continue
		}
		e.raise(ctx, store.Alert{ID: newID(), Time: now, Severity: string(f.Severity), Source: f.Module,
			Title: f.Title, Detail: f.Detail, Labels: map[string]string{"kind": f.Kind}})
	}
	for k, f := range prev {
		if _, ok := current[k]; ok {
			continue
		}
		e.raise(ctx, store.Alert{ID: newID(), Time: now, Severity: string(f.Severity), Source: f.Module,
			Title: f.Title, Detail: "no longer reported", Labels: map[string]string{"kind": f.Kind}, Resolved: true})
	}
}
