package perfengine

import (
	"strings"
	"testing"
)

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
