package perfengine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/perfengine/perfengine/alert"
)

// ErrAlertsNotStarted is returned for silences asked of an engine that was
// never started: the dispatcher that holds them does not exist yet.
var ErrAlertsNotStarted = errors.New("perfengine: alerts start with the engine")

// ConfigureAlerts replaces the alert channels at run time, the seed's
// configureAlerts: alerts go to channels from now on instead of those of
// the configuration's alerts section (until UpdateConfig changes that
// section). Routing (grouping, intervals, inhibition) stays the
// configuration's; the memory of what was sent and the silences carry over.
// An empty list turns notifications off; alerts are still tracked.
func (e *Engine) ConfigureAlerts(channels []alert.Channel) error {
	if channels == nil {
		channels = []alert.Channel{}
	}
	e.life.Lock()
	defer e.life.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e.Config().ModuleTimeout.D())
	defer cancel()
	if _, err := alert.NewDispatcher(channels, alert.DispatcherOptions{}); err != nil {
		return err
	}
	e.alertChannels = channels
	if !e.running {
		return nil
	}
	if err := e.reconfigureAlerts(ctx, e.Config(), channels); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

// alertingSummary is the dispatcher's state for the summary.
func (e *Engine) alertingSummary() *AlertingSummary {
	d := e.dispatcher()
	if d == nil {
		return nil
	}
	s := &AlertingSummary{Channels: d.ChannelStatuses()}
	for _, a := range d.Alerts() {
		switch a.State {
		case "active":
			s.Active++
		case "suppressed":
			s.Suppressed++
		}
	}
	now := time.Now()
	for _, sil := range d.Silences() {
		if sil.State(now) != alert.SilenceExpired {
			s.Silences++
		}
	}
	return s
}

// Alerts lists the alerts the engine's dispatcher holds: firing (active
// or suppressed by a silence or an inhibition) and recently resolved.
func (e *Engine) Alerts() []alert.AlertStatus {
	d := e.dispatcher()
	if d == nil {
		return nil
	}
	return d.Alerts()
}

// Silences lists the silences, active and pending first.
func (e *Engine) Silences() []alert.Silence {
	d := e.dispatcher()
	if d == nil {
		return nil
	}
	return d.Silences()
}

// AddSilence mutes the alerts s's matchers select until s.EndsAt. It is
// kept in the store, so a restart does not forget it.
func (e *Engine) AddSilence(s alert.Silence) (alert.Silence, error) {
	d := e.dispatcher()
	if d == nil {
		return s, ErrAlertsNotStarted
	}
	return d.AddSilence(s)
}

// ExpireSilence ends a silence now.
func (e *Engine) ExpireSilence(id string) error {
	d := e.dispatcher()
	if d == nil {
		return ErrAlertsNotStarted
	}
	return d.ExpireSilence(id)
}
