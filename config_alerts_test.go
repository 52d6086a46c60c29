package perfengine

import (
	"strings"
	"testing"

	"github.com/perfengine/perfengine/alert"
)

func firstOf(cs []alert.Channel) alert.Notifier {
	if len(cs) == 0 {
		return nil
	}
	return cs[0].Notifier
}

func TestAlertsConfigValidate(t *testing.T) {
	tests := []struct {
		name, webhook, email string
		want                 []string // substrings of the error; none means valid
		notWant              string
	}{
		{"none", "", "", nil, ""},
		{"both valid", "https://hooks.example.com/x", "smtp://u:pw@mail.example.com:587/?to=ops@example.com", nil, ""},
		{"bad webhook scheme", "ftp://x", "", []string{"alerts.webhookURL"}, ""},
		{"email without recipient", "", "smtp://u:hunter2@mail.example.com/", []string{"alerts.emailEndpoint", "no recipient"}, "hunter2"},
		{"email bad scheme", "", "http://mail.example.com/?to=a@b", []string{"alerts.emailEndpoint", "scheme"}, ""},
		{"email bad address", "", "smtps://mail.example.com/?to=nobody", []string{"alerts.emailEndpoint", "to"}, ""},
		{"seed's bare address", "", "alerts@company.com", nil, ""},
		{"address list", "", "alerts@company.com, Ops <ops@company.com>", nil, ""},
		{"bare non-address", "", "alerts", []string{"alerts.emailEndpoint", "addresses such as"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Alerts.WebhookURL, c.Alerts.EmailEndpoint = tc.webhook, tc.email
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("Validate() = %v, shows the password", err)
			}
		})
	}
}

// TestSeedEmailAddressForm loads ALERT_EMAIL_ENDPOINT as the seed writes it
// and finds the server of alerts.smtp behind it.
func TestSeedEmailAddressForm(t *testing.T) {
	c := DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"ALERT_EMAIL_ENDPOINT":            "alerts@company.com",
		"PERFENGINE_ALERTS_SMTP_HOST":     "mail.company.com",
		"PERFENGINE_ALERTS_SMTP_PORT":     "587",
		"PERFENGINE_ALERTS_SMTP_USERNAME": "perf",
		"PERFENGINE_ALERTS_SMTP_PASSWORD": "hunter2",
		"PERFENGINE_ALERTS_SMTP_FROM":     "perf@company.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	ec, ok, err := c.Alerts.email()
	if err != nil || !ok {
		t.Fatalf("email() = %v, %v", ok, err)
	}
	if ec.Host != "mail.company.com" || ec.Port != 587 || ec.Username != "perf" || ec.Password != "hunter2" ||
		ec.From != "perf@company.com" || len(ec.To) != 1 || ec.To[0] != "alerts@company.com" {
		t.Errorf("email config %+v, want alerts@company.com via perf@mail.company.com:587", ec)
	}
	if s := c.Redacted().Alerts.SMTP.Password; s == "hunter2" {
		t.Errorf("Redacted() keeps the SMTP password")
	}
	ns, err := c.Alerts.BuildChannels(nil, 0)
	if _, isEmail := firstOf(ns).(*alert.Email); err != nil || len(ns) != 1 || !isEmail {
		t.Errorf("Notifiers = %v, %v; want the email notifier", ns, err)
	}

	bad := DefaultConfig()
	bad.Alerts.EmailEndpoint = "alerts@company.com"
	bad.Alerts.SMTP.Host, bad.Alerts.SMTP.Port = "", 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "alerts.smtp.host") || !strings.Contains(err.Error(), "alerts.smtp.port") {
		t.Errorf("Validate without a server = %v, want alerts.smtp.host and alerts.smtp.port named", err)
	}
}
