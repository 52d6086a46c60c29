package perfengine

import (
	"strings"

	"github.com/perfengine/perfengine/alert"
)

// AlertsConfig configures notifications.
type AlertsConfig struct {
	// WebhookURL receives a JSON POST per alert. Env ALERT_WEBHOOK_URL.
	WebhookURL string `yaml:"webhookURL" json:"webhookURL" perfengine:"secret"`
	// EmailEndpoint is an smtp://[user[:pass]@]host:port/?to=a@b URL.
	// Env ALERT_EMAIL_ENDPOINT.
	EmailEndpoint string `yaml:"emailEndpoint" json:"emailEndpoint" perfengine:"secret"`
}

func defaultAlertsConfig() AlertsConfig { return AlertsConfig{} }

func (c AlertsConfig) validate(p *problems) {
	checkURL(p, "alerts.webhookURL", c.WebhookURL, "http", "https")
	// The endpoint is parsed as the notifier will parse it, so a missing
	// recipient or a bad address fails at load, and the password stays
	// out of the message.
	if c.EmailEndpoint != "" {
		if _, err := alert.ParseEmailEndpoint(c.EmailEndpoint); err != nil {
			p.add("alerts.emailEndpoint", redactDSN(c.EmailEndpoint), "must be smtp[s]://[user:pass@]host[:port]/?to=name@example.com: %s",
				strings.TrimPrefix(err.Error(), "alert: "))
		}
	}
}
