package perfengine

// AlertsConfig configures notifications.
type AlertsConfig struct {
	// WebhookURL receives a JSON POST per alert. Env ALERT_WEBHOOK_URL.
	WebhookURL string `yaml:"webhookURL" json:"webhookURL"`
	// EmailEndpoint is an smtp://[user[:pass]@]host:port/?to=a@b URL.
	// Env ALERT_EMAIL_ENDPOINT.
	EmailEndpoint string `yaml:"emailEndpoint" json:"emailEndpoint"`
}

func defaultAlertsConfig() AlertsConfig { return AlertsConfig{} }

func (c AlertsConfig) validate(p *problems) {
	checkURL(p, "alerts.webhookURL", c.WebhookURL, "http", "https")
	checkURL(p, "alerts.emailEndpoint", c.EmailEndpoint, "smtp", "smtps")
}
