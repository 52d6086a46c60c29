// Package alert tells people when the engine's status changes: notifiers
// for a webhook (JSON with a Slack-compatible "text" field) and for email
// over SMTP, and a Dispatcher in front of them.
//
// The Dispatcher is what the engine calls. Send never blocks: it decides
// whether the alert is news, then queues it for each notifier, each with
// its own bounded queue and goroutine, so a slow mail server cannot stall
// the engine's loop or the webhook. An alert is news when its group (by
// default source, title and labels: GroupKey) was not notified in this
// state within the repeat interval (default 4 h, as in Alertmanager): a
// first firing, an escalation of severity, a resolution, or a repeat after
// the interval. When a queue is full, the alert is dropped for that
// notifier and counted (Stats, and perfengine_alert_dropped_total when a
// Registerer is given). A failed delivery is logged and clears the group's
// memory, so the next occurrence is sent rather than suppressed. Time
// comes from an injected clock, so the repeat logic is testable without
// waiting.
//
//	notifiers, err := alert.Notifiers(cfg.Alerts.WebhookURL, cfg.Alerts.EmailEndpoint)
//	if err != nil {
//		return err
//	}
//	d, err := alert.NewDispatcher(notifiers, alert.DispatcherOptions{Logger: logger})
//	if err != nil {
//		return err
//	}
//	d.Start(ctx)
//	defer d.Stop(context.Background())
//	d.Send(alert.Alert{
//		ID: "a-1", Time: time.Now(), Severity: alert.SeverityCritical,
//		Source: "engine", Title: "p95 response time 2300 ms above 2000 ms",
//	})
package alert
