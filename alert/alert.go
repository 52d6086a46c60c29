package alert

import (
	"context"
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

// Notifier delivers an alert somewhere people look. Notify returns once the
// receiving end accepted it, or with the reason it did not.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// Notifiers builds the notifiers of the engine's alert configuration: a
// webhook when webhookURL is set, email when emailEndpoint is set. Both
// empty gives none and no error.
func Notifiers(webhookURL, emailEndpoint string) ([]Notifier, error) {
	var ns []Notifier
	if webhookURL != "" {
		w, err := NewWebhook(webhookURL, WebhookOptions{})
		if err != nil {
			return nil, err
		}
		ns = append(ns, w)
	}
	if emailEndpoint != "" {
		e, err := NewEmail(emailEndpoint, EmailOptions{})
		if err != nil {
			return nil, err
		}
		ns = append(ns, e)
	}
	return ns, nil
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
