package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/perfengine/perfengine/alert"
)

// A webhook receiver, standing in for Slack: it prints the text field.
func newReceiver() *httptest.Server { return receiver(false) }

// receiver prints the text field, or its first line.
func receiver(firstLine bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if firstLine {
			msg.Text, _, _ = strings.Cut(msg.Text, "\n")
		}
		fmt.Println("received:", msg.Text)
	}))
}

func ExampleWebhook() {
	srv := newReceiver()
	defer srv.Close()

	w, err := alert.NewWebhook(srv.URL, alert.WebhookOptions{})
	if err != nil {
		panic(err)
	}
	err = w.Notify(context.Background(), alert.NotificationOf(alert.Alert{
		Severity: alert.SeverityWarning, Source: "database", Title: "3 slow queries",
		Detail: "SELECT ... FROM products WHERE name LIKE $1: 412 ms mean",
	}))
	fmt.Println("error:", err)
	// Output:
	// received: [WARNING] database: 3 slow queries
	// SELECT ... FROM products WHERE name LIKE $1: 412 ms mean
	// error: <nil>
}

// The dispatcher groups alerts as Alertmanager does: the two alerts of
// the api target go out together after group_wait, a repeat put of a
// firing alert is not news, and the resolution comes at the group's next
// interval.
func ExampleDispatcher() {
	srv := receiver(true)
	defer srv.Close()
	hook, err := alert.NewWebhook(srv.URL, alert.WebhookOptions{})
	if err != nil {
		panic(err)
	}
	d, err := alert.NewDispatcher([]alert.Channel{{Name: "ops", Notifier: hook, SendResolved: true}},
		alert.DispatcherOptions{
			GroupBy:       []string{"target"},
			GroupWait:     50 * time.Millisecond,
			GroupInterval: 200 * time.Millisecond,
		})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	latency := alert.Alert{ID: "1", Severity: alert.SeverityWarning, Source: "engine", Title: "p95 above 1000 ms",
		Labels: map[string]string{"target": "api"}}
	errors := alert.Alert{ID: "2", Severity: alert.SeverityWarning, Source: "engine", Title: "error rate above 1 %",
		Labels: map[string]string{"target": "api"}}
	d.Put(latency, errors)
	time.Sleep(100 * time.Millisecond)
	d.Put(latency, errors) // firing on: nothing new to say
	time.Sleep(200 * time.Millisecond)
	d.Put(alert.Alert{ID: "1", Resolved: true, Severity: alert.SeverityWarning, Source: "engine",
		Title: "p95 above 1000 ms", Labels: map[string]string{"target": "api"}})
	time.Sleep(250 * time.Millisecond)

	if err := d.Stop(ctx); err != nil {
		panic(err)
	}
	st := d.Stats()
	fmt.Println("sent:", st.Sent, "failed:", st.Failed)
	// Output:
	// received: [FIRING:2] (target=api)
	// received: [FIRING:1, RESOLVED:1] (target=api)
	// sent: 2 failed: 0
}

func ExampleParseEmailEndpoint() {
	c, err := alert.ParseEmailEndpoint("smtp://alerts:secret@mail.example.com:587/?from=perfengine@example.com&to=ops@example.com,dba@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Host, c.Port, c.Username, c.From, c.To)
	// Output:
	// mail.example.com 587 alerts perfengine@example.com [ops@example.com dba@example.com]
}

// The seed's bare address form, with a display name and a list.
func ExampleParseRecipients() {
	to, err := alert.ParseRecipients("alerts@company.com, Ops <ops@company.com>")
	fmt.Println(to, err)
	// Output: [alerts@company.com ops@company.com] <nil>
}

// Matchers are Alertmanager's: =, !=, =~ and !~, the regular expressions
// anchored.
func ExampleParseMatchers() {
	ms, err := alert.ParseMatchers(`alertname=~"slow_query|missing_index",target="orders-db"`)
	if err != nil {
		panic(err)
	}
	labels := map[string]string{"alertname": "slow_query", "target": "orders-db"}
	for _, m := range ms {
		fmt.Println(m, m.Matches(labels))
	}
	// Output:
	// alertname=~"slow_query|missing_index" true
	// target="orders-db" true
}
