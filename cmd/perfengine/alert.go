package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/alert"
)

func newAlertCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alert",
		Short: "Check the alert notifiers",
	}
	cmd.AddCommand(newAlertTestCmd())
	return cmd
}

// alertTestResult is one notifier's outcome in `alert test --json`.
type alertTestResult struct {
	Notifier   string  `json:"notifier"`
	OK         bool    `json:"ok"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"durationMs"`
}

func newAlertTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test [--config FILE] [--channel NAME] [--webhook URL] [--email smtp://…]",
		Short: "Send a test alert through each configured channel",
		Long: `Sends one info-level test alert through each alert channel, or those named by
--channel, and reports each delivery; it exits 1 when any fails. The channels
are the webhook and email endpoint (ALERT_WEBHOOK_URL, ALERT_EMAIL_ENDPOINT or
the flags, which win) and the entries of the alerts.channels list of --config,
disabled ones included; an alertmanager channel posts the test alert to
Alertmanager's API.`,
		Example: `  perfengine alert test --webhook https://hooks.slack.com/services/T000/B000/XXXX
  ALERT_EMAIL_ENDPOINT='smtp://user:pass@mail.example.com:587/?from=pe@example.com&to=ops@example.com' perfengine alert test --json
  perfengine alert test --config perfengine.yaml --channel oncall-slack`,
		Args: cobra.NoArgs,
	}
	configFile := cmd.Flags().String("config", "", "YAML configuration `file` whose alerts section to use")
	webhook := cmd.Flags().String("webhook", "", "webhook `URL` (overrides the configuration)")
	email := cmd.Flags().String("email", "", "email `endpoint` smtp://[user:pass@]host:port/?to=a@b (overrides the configuration)")
	timeout := cmd.Flags().Duration("timeout", 30*time.Second, "how long to wait for each notifier")
	channels := cmd.Flags().StringSlice("channel", nil, "send only through the channel of this `name` (webhook, email, or a name from alerts.channels); repeatable")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := perfengine.LoadConfig(*configFile)
		if err != nil {
			return err
		}
		if *webhook != "" {
			cfg.Alerts.WebhookURL = *webhook
		}
		if *email != "" {
			cfg.Alerts.EmailEndpoint = *email
		}
		notifiers, names, err := cfg.Alerts.Notifiers(nil)
		if err != nil {
			return err
		}
		if len(notifiers) == 0 {
			return errors.New("no notifier configured: use --webhook or --email, ALERT_WEBHOOK_URL or ALERT_EMAIL_ENDPOINT, or the alerts section of --config")
		}
		if len(*channels) > 0 {
			for _, c := range *channels {
				if notifiers[c] == nil {
					return fmt.Errorf("--channel %s: no such channel (configured: %s)", c, strings.Join(names, ", "))
				}
			}
			names = *channels
		}
		host, _ := os.Hostname()
		a := alert.Alert{
			ID:       fmt.Sprintf("test-%d", time.Now().UnixNano()),
			Time:     time.Now(),
			Severity: alert.SeverityInfo,
			Source:   "perfengine",
			Title:    "test alert",
			Detail:   "Sent by `perfengine alert test` on " + host + ". If you read this, alerts reach you.",
		}
		var results []alertTestResult
		failed := 0
		for _, name := range names {
			progressf(cmd, "sending a test alert via %s", name)
			ctx, cancel := context.WithTimeout(cmd.Context(), *timeout)
			start := time.Now()
			err := notifiers[name].Notify(ctx, alert.NotificationOf(a))
			cancel()
			r := alertTestResult{Notifier: name, OK: err == nil, DurationMs: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				r.Error = err.Error()
				failed++
			}
			results = append(results, r)
		}
		if *asJSON {
			if err := writeJSON(cmd.OutOrStdout(), map[string]any{"alert": a, "results": results}); err != nil {
				return err
			}
		} else {
			for _, r := range results {
				status := "ok"
				if !r.OK {
					status = "FAILED: " + r.Error
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-12s %7.1f ms  %s\n", r.Notifier, r.DurationMs, status)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d notifiers failed", failed, len(results))
		}
		return nil
	}
	return cmd
}
