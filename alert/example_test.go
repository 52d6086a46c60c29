package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/perfengine/perfengine/alert"
)

// A webhook receiver, standing in for Slack: it prints the text field.
func newReceiver() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
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
	err = w.Notify(context.Background(), alert.Alert{
		Severity: alert.SeverityWarning, Source: "database", Title: "3 slow queries",
		Detail: "SELECT ... FROM products WHERE name LIKE $1: 412 ms mean",
	})
	fmt.Println("error:", err)
	// Output:
	// received: [WARNING] database: 3 slow queries
	// SELECT ... FROM products WHERE name LIKE $1: 412 ms mean
	// error: <nil>
}

func ExampleDispatcher() {
	srv := newReceiver()
	defer srv.Close()
	hook, err := alert.NewWebhook(srv.URL, alert.WebhookOptions{})
	if err != nil {
		panic(err)
	}

	now := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	d, err := alert.NewDispatcher([]alert.Notifier{hook}, alert.DispatcherOptions{
		RepeatInterval: time.Hour,
		Now:            func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	high := alert.Alert{Severity: alert.SeverityWarning, Source: "engine", Title: "p95 above 1000 ms"}
	d.Send(high) // sent
	now = now.Add(10 * time.Minute)
	d.Send(high) // a repeat within the hour: suppressed
	high.Severity = alert.SeverityCritical
	d.Send(high) // escalated: sent
	high.Resolved = true
	d.Send(high) // resolved: sent

	if err := d.Stop(ctx); err != nil { // waits for the queue to drain
		panic(err)
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// received: [WARNING] engine: p95 above 1000 ms
	// received: [CRITICAL] engine: p95 above 1000 ms
	// received: [RESOLVED] engine: p95 above 1000 ms
	// {Queued:3 Deduped:1 Sent:3 Failed:0 Dropped:0}
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
