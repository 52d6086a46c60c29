package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
		Use:   "test [--config FILE] [--webhook URL] [--email smtp://…]",
		Short: "Send a test alert through each configured notifier",
		Long: `Sends one info-level test alert through the webhook and the email endpoint, as
configured by --config, ALERT_WEBHOOK_URL and ALERT_EMAIL_ENDPOINT, or the
flags (which win), and reports each delivery. It exits 1 when any fails.`,
		Example: `  perfengine alert test --webhook https://hooks.slack.com/services/T000/B000/XXXX
  ALERT_EMAIL_ENDPOINT='smtp://user:pass@mail.example.com:587/?from=pe@example.com&to=ops@example.com' perfengine alert test --json`,
		Args: cobra.NoArgs,
	}
	configFile := cmd.Flags().String("config", "", "YAML configuration `file` whose alerts section to use")
	webhook := cmd.Flags().String("webhook", "", "webhook `URL` (overrides the configuration)")
	email := cmd.Flags().String("email", "", "email `endpoint` smtp://[user:pass@]host:port/?to=a@b (overrides the configuration)")
	timeout := cmd.Flags().Duration("timeout", 30*time.Second, "how long to wait for each notifier")
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
		notifiers, err := cfg.Alerts.Notifiers(nil)
		if err != nil {
			return err
		}
		if len(notifiers) == 0 {
			return errors.New("no notifier configured: use --webhook or --email, ALERT_WEBHOOK_URL or ALERT_EMAIL_ENDPOINT, or the alerts section of --config")
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
		for _, n := range notifiers {
			name := n.(interface{ Name() string }).Name()
			progressf(cmd, "sending a test alert via %s", name)
			ctx, cancel := context.WithTimeout(cmd.Context(), *timeout)
			start := time.Now()
			err := n.Notify(ctx, a)
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
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %7.1f ms  %s\n", r.Notifier, r.DurationMs, status)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d notifiers failed", failed, len(results))
		}
		return nil
	}
	return cmd
}
