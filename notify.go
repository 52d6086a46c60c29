package perfengine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/store"
)

// Alert names the engine raises, the alertname label of each.
const (
	AlertStatus              = "status"
	AlertActionFailed        = "action_failed"
	AlertActionNeedsApproval = "action_needs_approval"
	AlertRollback            = "rollback"
	AlertScaling             = "scaling"
)

// failedActionAlertFor is how long a failed action keeps its alert firing.
const failedActionAlertFor = time.Hour

// newNotifier builds the alert dispatcher of the configuration: the
// configured channels, or channels when given (ConfigureAlerts). It opens
// nothing; a dispatcher without channels still tracks alerts and
// silences for the API.
func (e *Engine) newNotifier(cfg Config, channels []alert.Channel, registered bool) (*alert.Dispatcher, error) {
	if channels == nil {
		// The webhooks share the network module's client when there is one.
		var err error
		channels, err = cfg.Alerts.BuildChannels(e.outboundClient(), cfg.MonitoringInterval.D())
		if err != nil {
			return nil, err
		}
	}
	opts, err := cfg.Alerts.dispatcherOptions(cfg.MonitoringInterval.D())
	if err != nil {
		return nil, err
	}
	opts.Logger = e.log
	if st := e.Store(); st != nil {
		opts.State = st
	}
	if !registered {
		opts.Registerer = e.reg
	}
	return alert.NewDispatcher(channels, opts)
}

// dispatcher returns the current alert dispatcher, nil before Start.
func (e *Engine) dispatcher() *alert.Dispatcher {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.notifier
}

// putAlerts tells the dispatcher what fires now, as Prometheus tells
// Alertmanager: every cycle, each alert with its figures; what stopped
// firing is put resolved. Transitions are recorded in the store.
func (e *Engine) putAlerts(ctx context.Context, now time.Time, status Status, sum Summary) {
	active := e.activeAlerts(now, status, sum)
	current := map[uint64]store.Alert{}
	for _, a := range active {
		current[alert.Fingerprint(alert.LabelSet(a))] = a
	}
	e.mu.Lock()
	prev := e.firing
	for fp, a := range current {
		if p, ok := prev[fp]; ok {
			// The same alert firing on keeps its ID and start.
			a.ID, a.Time = p.ID, p.Time
			current[fp] = a
		}
	}
	e.firing = current
	d := e.notifier
	e.mu.Unlock()

	var put []alert.Alert
	for fp, a := range current {
		put = append(put, a)
		if _, ok := prev[fp]; !ok {
			e.recordAlert(ctx, a)
		}
	}
	for fp, a := range prev {
		if _, ok := current[fp]; ok {
			continue
		}
		a.Resolved = true
		put = append(put, a)
		e.recordAlert(ctx, a)
	}
	if d != nil && len(put) > 0 {
		d.Put(put...)
	}
}

func (e *Engine) recordAlert(ctx context.Context, a store.Alert) {
	st := e.Store()
	if st == nil {
		return
	}
	if err := st.SaveAlert(ctx, a); err != nil {
		e.log.Warn("record alert", "err", err)
	}
}

// activeAlerts is everything that fires now: the status, each target's
// status, warning and critical findings, and actions that failed or wait
// for approval. Each says what happened, the figure against its
// threshold, and what to do.
func (e *Engine) activeAlerts(now time.Time, status Status, sum Summary) []store.Alert {
	var out []store.Alert
	if status != StatusHealthy {
		out = append(out, statusAlert(now, "", status, sum.Causes, sum.Recommendations))
	}
	if tm := e.targetsModule(); tm != nil {
		for _, t := range tm.Targets() {
			if t.Status != StatusHealthy {
				out = append(out, statusAlert(now, t.Name, t.Status, violationCauses(t.Violations), nil))
			}
		}
	}
	for _, f := range sum.Findings {
		if f.Severity == SeverityInfo {
			continue
		}
		labels := map[string]string{
			alert.LabelAlertname: f.Kind, "module": f.Module,
			"subject": cmp.Or(f.Subject, f.Title), "target": f.Target,
		}
		out = append(out, store.Alert{ID: newID(), Time: f.Time, Severity: string(f.Severity), Source: f.Module,
			Title: f.Title, Detail: f.Detail, Labels: labels})
	}
	ext := strings.TrimRight(e.Config().Alerts.ExternalURL, "/")
	for _, a := range e.book.list(ActionPending) {
		detail := a.Description
		if a.Impact != "" {
			detail += " (" + a.Impact + ")"
		}
		detail += fmt.Sprintf("\nRisk %s. Approve with POST %s/api/v1/actions/%s/approve and the daemon's token", a.Risk, ext, a.ID)
		if ext == "" {
			detail += " (the daemon's address; set alerts.externalURL to link it)"
		}
		detail += "."
		if a.Undo != "" {
			detail += " Undo: " + a.Undo + "."
		}
		out = append(out, store.Alert{ID: newID(), Time: a.CreatedAt, Severity: string(SeverityInfo), Source: a.Module,
			Title: "needs approval: " + a.Description, Detail: detail,
			Labels: map[string]string{alert.LabelAlertname: AlertActionNeedsApproval, "module": a.Module, "action": a.ID}})
	}
	for _, a := range e.book.list(ActionFailed) {
		if now.Sub(a.UpdatedAt) > failedActionAlertFor {
			continue
		}
		out = append(out, store.Alert{ID: newID(), Time: a.UpdatedAt, Severity: string(SeverityWarning), Source: a.Module,
			Title:  "action failed: " + a.Description,
			Detail: "Error: " + a.Error + "\nThe engine retries it on a later cycle; see the actions in the dashboard or /api/v1/actions.",
			Labels: map[string]string{alert.LabelAlertname: AlertActionFailed, "module": a.Module, "action": a.ID}})
	}
	return out
}

// statusAlert says what holds the status (thresholds crossed and by how
// much, findings) and what the engine recommends.
func statusAlert(now time.Time, target string, status Status, causes []Cause, recs []Recommendation) store.Alert {
	sev := SeverityWarning
	if status == StatusCritical {
		sev = SeverityCritical
	}
	title := "status " + string(status)
	if target != "" {
		title = "target " + target + " status " + string(status)
	}
	var b strings.Builder
	for i, c := range causes {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	if len(causes) > 0 {
		title += ": " + causes[0].String()
		if len(causes) > 1 {
			title += fmt.Sprintf(" and %d more", len(causes)-1)
		}
	}
	recs = slices.Clone(recs)
	if len(recs) > 3 {
		recs = recs[:3]
	}
	for i, r := range recs {
		if i == 0 {
			b.WriteString("\nWhat to do:")
		}
		b.WriteString("\n- " + r.Message)
	}
	return store.Alert{ID: newID(), Time: now, Severity: string(sev), Source: "engine", Title: title,
		Detail: strings.TrimSpace(b.String()),
		Labels: map[string]string{alert.LabelAlertname: AlertStatus, "target": target}}
}

// raiseEvent notifies a one-time notice, a rollback or a scaling
// decision: it fires once and its end is not announced.
func (e *Engine) raiseEvent(ctx context.Context, name string, severity Severity, source, title, detail string, labels map[string]string) {
	ls := map[string]string{alert.LabelAlertname: name, alert.LabelEvent: "true"}
	for k, v := range labels {
		ls[k] = v
	}
	a := alert.Alert{ID: newID(), Time: e.now(), Severity: string(severity), Source: source, Title: title, Detail: detail, Labels: ls}
	e.recordAlert(ctx, a)
	if d := e.dispatcher(); d != nil {
		d.Put(a)
	}
}

// recordDryRun records what a module decided and did not perform (the
// autoscaler's dry run) as an applied action whose result says so, and
// announces it like a performed one.
func (e *Engine) recordDryRun(ctx context.Context, a Action, result string) {
	now := e.now()
	a = e.book.direct(a, now)
	if _, ok := e.book.claim(a.ID, ActionPending); !ok {
		return
	}
	a = e.book.finish(a.ID, now, Result{Message: result}, nil, ActionApplied)
	e.record(ctx, a)
	e.announce(ctx, a)
}

// announce raises the one-time notice of a rollback or a scaling decision
// once it was applied (or, in a dry run, recorded) or failed; failures of
// other actions alert through their state.
func (e *Engine) announce(ctx context.Context, a Action) {
	var name string
	sev := SeverityWarning
	switch a.Kind {
	case ActionRollback:
		name = AlertRollback
	case ActionScale:
		// Scaling is the autoscaler working as meant: worth knowing,
		// not worth waking someone.
		name, sev = AlertScaling, SeverityInfo
	default:
		return
	}
	title := a.Description
	detail := a.Result
	if a.State == ActionFailed {
		sev = SeverityWarning
		title = "failed: " + a.Description
		detail = "Error: " + a.Error
	} else if a.State == ActionRejected {
		sev = SeverityInfo
		title = "held: " + a.Description
		detail = a.Error
	}
	if a.Undo != "" {
		detail += "\nUndo: " + a.Undo + " (POST /api/v1/actions/" + a.ID + "/undo)."
	}
	e.raiseEvent(ctx, name, sev, a.Module, title, strings.TrimSpace(detail), map[string]string{"action": a.ID})
}

// targetsModule returns the daemon's targets module, if there is one.
// targetVersions are the versions the daemon's targets report, by name.
func (e *Engine) targetVersions() map[string]string {
	tm := e.targetsModule()
	if tm == nil {
		return nil
	}
	out := map[string]string{}
	for _, t := range tm.Targets() {
		if t.Version != "" {
			out[t.Name] = t.Version
		}
	}
	return out
}

func (e *Engine) targetsModule() *TargetsModule {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, ms := range e.modules {
		if tm, ok := ms.m.(*TargetsModule); ok {
			return tm
		}
	}
	return nil
}
