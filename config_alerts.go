package perfengine

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/perfengine/perfengine/alert"
)

// AlertsConfig configures notifications.
type AlertsConfig struct {
	// WebhookURL receives a JSON POST per alert. Env ALERT_WEBHOOK_URL.
	WebhookURL string `yaml:"webhookURL" json:"webhookURL" perfengine:"secret"`
	// EmailEndpoint is where alert emails go, in either of two forms: the
	// seed's bare address list (alerts@company.com, ops@company.com), sent
	// through the server of SMTP; or a whole
	// smtp[s]://[user[:pass]@]host[:port]/?to=a@b URL, which ignores SMTP.
	// Env ALERT_EMAIL_ENDPOINT.
	EmailEndpoint string `yaml:"emailEndpoint" json:"emailEndpoint" perfengine:"secret"`
	// SMTP is the mail server for a bare address list.
	SMTP SMTPConfig `yaml:"smtp" json:"smtp"`
}

// SMTPConfig is the mail server alerts go through when
// alerts.emailEndpoint is an address list.
type SMTPConfig struct {
	// Host is the server; default localhost, the machine's own MTA.
	Host string `yaml:"host" json:"host"`
	// Port defaults to 25 (587 is submission with STARTTLS, 465 implicit TLS).
	Port int `yaml:"port" json:"port"`
	// Username and Password authenticate (PLAIN, only over TLS or to a
	// loopback server); empty sends without authentication.
	Username string `yaml:"username" json:"username"`
	Password string `yaml:"password" json:"password" perfengine:"secret"`
	// From is the sender; default perfengine@localhost.
	From string `yaml:"from" json:"from"`
	// ImplicitTLS speaks TLS from the first byte (port 465); otherwise
	// STARTTLS is used when the server offers it.
	ImplicitTLS bool `yaml:"implicitTLS" json:"implicitTLS"`
}

// Default SMTP server of a bare alerts.emailEndpoint.
const (
	DefaultSMTPHost = "localhost"
	DefaultSMTPPort = 25
)

func defaultAlertsConfig() AlertsConfig {
	return AlertsConfig{SMTP: SMTPConfig{Host: DefaultSMTPHost, Port: DefaultSMTPPort}}
}

// isEmailURL tells the URL form of alerts.emailEndpoint from the address
// list.
func isEmailURL(endpoint string) bool { return strings.Contains(endpoint, "://") }

// email is the server and recipients of the section; ok is false when no
// email endpoint is configured.
func (c AlertsConfig) email() (cfg alert.EmailConfig, ok bool, err error) {
	if c.EmailEndpoint == "" {
		return cfg, false, nil
	}
	if isEmailURL(c.EmailEndpoint) {
		cfg, err = alert.ParseEmailEndpoint(c.EmailEndpoint)
		return cfg, true, err
	}
	to, err := alert.ParseRecipients(c.EmailEndpoint)
	if err != nil {
		return cfg, true, err
	}
	if len(to) == 0 {
		return cfg, true, fmt.Errorf("no recipient in %q", c.EmailEndpoint)
	}
	cfg = alert.EmailConfig{
		Host: c.SMTP.Host, Port: c.SMTP.Port, Username: c.SMTP.Username, Password: c.SMTP.Password,
		From: c.SMTP.From, To: to, ImplicitTLS: c.SMTP.ImplicitTLS,
	}
	if cfg.From == "" {
		cfg.From = "perfengine@localhost"
	}
	return cfg, true, nil
}

// Notifiers builds the section's notifiers: the webhook (through client,
// nil for a plain one) and the email. None is an empty list.
func (c AlertsConfig) Notifiers(client *http.Client) ([]alert.Notifier, error) {
	var ns []alert.Notifier
	if c.WebhookURL != "" {
		w, err := alert.NewWebhook(c.WebhookURL, alert.WebhookOptions{Client: client})
		if err != nil {
			return nil, err
		}
		ns = append(ns, w)
	}
	ec, ok, err := c.email()
	if err != nil {
		return nil, fmt.Errorf("alert: email: %w", err)
	}
	if ok {
		e, err := alert.NewEmailFromConfig(ec, alert.EmailOptions{})
		if err != nil {
			return nil, err
		}
		ns = append(ns, e)
	}
	return ns, nil
}

func (c AlertsConfig) validate(p *problems) {
	checkURL(p, "alerts.webhookURL", c.WebhookURL, "http", "https")
	// The endpoint is parsed as the notifier will parse it, so a missing
	// recipient or a bad address fails at load, and the password stays
	// out of the message.
	if c.EmailEndpoint != "" {
		if _, _, err := c.email(); err != nil {
			msg := strings.TrimPrefix(err.Error(), "alert: ")
			if isEmailURL(c.EmailEndpoint) {
				p.add("alerts.emailEndpoint", redactDSN(c.EmailEndpoint), "must be smtp[s]://[user:pass@]host[:port]/?to=name@example.com: %s", msg)
			} else {
				p.add("alerts.emailEndpoint", c.EmailEndpoint, "must be addresses such as alerts@company.com, or an smtp[s]:// URL: %s", msg)
			}
		}
		if !isEmailURL(c.EmailEndpoint) {
			if c.SMTP.Host == "" {
				p.add("alerts.smtp.host", c.SMTP.Host, "must name the mail server for alerts.emailEndpoint's addresses")
			}
			if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
				p.add("alerts.smtp.port", c.SMTP.Port, "must be 1-65535")
			}
			if c.SMTP.From != "" {
				if _, err := alert.ParseRecipients(c.SMTP.From); err != nil {
					p.add("alerts.smtp.from", c.SMTP.From, "must be an address such as perf@company.com")
				}
			}
		}
	}
}
