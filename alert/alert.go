package alert

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/perfengine/perfengine/store"
)

// Alert is what the engine raises, records in the store and notifies: the
// same record, so what was sent is what is kept.
type Alert = store.Alert

// Severities, from least to most urgent.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Notifiers builds the channels of the seed's two settings: a webhook
// when webhookURL is set, email when emailEndpoint is set, each sending
// resolutions. Both empty gives none and no error.
func Notifiers(webhookURL, emailEndpoint string) ([]Channel, error) {
	var cs []Channel
	if webhookURL != "" {
		w, err := NewWebhook(webhookURL, WebhookOptions{})
		if err != nil {
			return nil, err
		}
		cs = append(cs, Channel{Name: "webhook", Notifier: w, SendResolved: true})
	}
	if emailEndpoint != "" {
		e, err := NewEmail(emailEndpoint, EmailOptions{})
		if err != nil {
			return nil, err
		}
		cs = append(cs, Channel{Name: "email", Notifier: e, SendResolved: true})
	}
	return cs, nil
}

// Summary is the one-line form of an alert used as the webhook text and
// the email subject: "[CRITICAL] database: replication lag".
func Summary(a Alert) string {
	state := strings.ToUpper(a.Severity)
	if state == "" {
		state = "ALERT"
	}
	if a.Resolved {
		state = "RESOLVED"
	}
	s := "[" + state + "] "
	if a.Source != "" {
		s += a.Source + ": "
	}
	return oneLine(s + a.Title)
}

// Text is the alert for people: the summary, then the detail and labels.
func Text(a Alert) string {
	var b strings.Builder
	b.WriteString(Summary(a))
	if a.Detail != "" {
		b.WriteString("\n")
		b.WriteString(a.Detail)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		fmt.Fprintf(&b, "\n%s: %s", k, a.Labels[k])
	}
	if !a.Time.IsZero() {
		fmt.Fprintf(&b, "\nat %s", a.Time.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	return b.String()
}

// oneLine keeps titles that contain line breaks from breaking headers and
// one-line chat messages.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
