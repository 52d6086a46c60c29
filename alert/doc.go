// Package alert tells people what the engine found, with Alertmanager's
// notification semantics, and hands alerts to an Alertmanager a fleet
// already runs.
//
// The caller puts what fires, every cycle, as Prometheus does (Put); an
// alert is identified by its labels (LabelSet: its labels plus alertname,
// severity and source) and resolves when it is put resolved or is not put
// again within the resolve timeout. The Dispatcher groups alerts by the
// GroupBy labels; a new group waits GroupWait (30 s) for more, then is
// looked at every GroupInterval (5 m) and notifies a channel only when it
// holds a firing alert the channel was not told about, a resolution the
// channel wants, or RepeatInterval (4 h) passed since the last
// notification: Alertmanager's DedupStage decision, exactly. Inhibition
// rules mute the alerts a firing one explains (by default a critical
// status mutes its target's warnings); silences mute by matchers until
// they end. Each channel has its own bounded queue and goroutine, and
// retries a failed delivery with backoff until the group's next interval,
// so Put never blocks and a hung mail server delays nothing else. The
// notification log and the silences go to a StateStore (the engine's
// store), so a restart neither repeats what was sent nor forgets a
// silence.
//
// Channels are a Notifier, which gets grouped notifications (Webhook, in
// Alertmanager's webhook format or as a Slack message; Email over SMTP with
// STARTTLS and auth), or a Forwarder, which gets every alert: Alertmanager
// posts them to /api/v2/alerts, re-sent every resend interval while they
// fire and with their endsAt when they resolve, so grouping and silencing
// happen in Alertmanager instead.
//
//	hook, _ := alert.NewWebhook("https://hooks.slack.com/services/T0/B0/X", alert.WebhookOptions{Format: alert.FormatSlack})
//	d, err := alert.NewDispatcher([]alert.Channel{{Name: "oncall", Notifier: hook, SendResolved: true}}, alert.DispatcherOptions{})
//	if err != nil {
//		return err
//	}
//	d.Start(ctx)
//	defer d.Stop(context.Background())
//	d.Put(alert.Alert{ID: "a-1", Severity: alert.SeverityCritical, Source: "engine",
//		Title: "p95 response time 2300 ms above 2000 ms", Labels: map[string]string{"alertname": "status"}})
package alert
