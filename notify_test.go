package perfengine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/metrics"
)

// TestAlertsReachTheWebhookGrouped drives the engine critical with a
// finding: each group is notified once, steady cycles repeat nothing, and
// the resolution of each comes when it clears.
func TestAlertsReachTheWebhookGrouped(t *testing.T) {
	type payload struct {
		Status string `json:"status"`
		Text   string `json:"text"`
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	got := make(chan payload, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body payload
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Text == "" {
			t.Errorf("webhook body: %v, text %q", err, body.Text)
		}
		got <- body
	}))
	defer srv.Close()

	cfg := DefaultConfig()
	cfg.Alerts.WebhookURL = srv.URL
	cfg.Alerts.GroupWait = Duration(time.Millisecond)
	cfg.Alerts.GroupInterval = Duration(50 * time.Millisecond)
	m := &findingModule{testModule: testModule{name: "svc"}}
	e, clk := newTestEngine(t, cfg, m)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)

	m.set(metrics.ErrorRate, 0.2)
	m.setFinding(&Finding{Kind: "heap_leak", Severity: SeverityCritical, Title: "heap grows 1 MiB/min", Subject: "heap"})
	e.step(clk)
	receive := func(what string, n int) map[string]payload {
		t.Helper()
		out := map[string]payload{}
		timeout := time.After(30 * time.Second)
		for len(out) < n {
			select {
			case p := <-got:
				if len(p.Alerts) != 1 {
					t.Fatalf("%s: a notification of %d alerts: %+v", what, len(p.Alerts), p)
				}
				out[p.Alerts[0].Labels["alertname"]] = p
			case <-timeout:
				t.Fatalf("%s: got %v", what, out)
			}
		}
		return out
	}
	fired := receive("firing", 2)
	if fired["status"].Status != "firing" || fired["heap_leak"].Status != "firing" {
		t.Errorf("firing notifications: %+v", fired)
	}
	if !strings.Contains(fired["status"].Text, "error_rate 0.2 >= critical") {
		t.Errorf("the status alert does not give the figure against its threshold: %q", fired["status"].Text)
	}
	// Steady cycles: nothing new to say.
	for range 3 {
		e.step(clk)
		time.Sleep(60 * time.Millisecond)
	}
	select {
	case p := <-got:
		t.Fatalf("a steady group was notified again: %+v", p)
	default:
	}
	m.set(metrics.ErrorRate, 0)
	m.setFinding(nil)
	for range 5 {
		e.step(clk)
	}
	cleared := receive("resolved", 2)
	if cleared["status"].Status != "resolved" || cleared["heap_leak"].Status != "resolved" {
		t.Errorf("resolved notifications: %+v", cleared)
	}
	alerts, err := e.Store().ListAlerts(ctx, 0)
	if err != nil || len(alerts) != 2 || !alerts[0].Resolved || !alerts[1].Resolved {
		t.Errorf("stored alerts = %+v (%v), want the two, resolved", alerts, err)
	}
	if as := e.Alerts(); len(as) != 2 || as[0].State != "resolved" {
		t.Errorf("Alerts() = %+v", as)
	}
}

// findingModule reports one finding a test sets.
type findingModule struct {
	testModule
	finding *Finding
}

func (m *findingModule) setFinding(f *Finding) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finding = f
}

func (m *findingModule) Findings() []Finding {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finding == nil {
		return nil
	}
	return []Finding{*m.finding}
}

// TestFailingChannelShowsInTheSummary: a Slack URL that answers 500 is
// retried within the group interval, counted, and its error is in the
// summary; the loop goes on meanwhile.
func TestFailingChannelShowsInTheSummary(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "slack is down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Alerts.Channels = []AlertChannel{{Name: "team-slack", Type: ChannelSlack, URL: srv.URL + "/services/T0/B0/secret"}}
	cfg.Alerts.GroupWait = Duration(time.Millisecond)
	cfg.Alerts.GroupInterval = Duration(300 * time.Millisecond)
	m := &findingModule{testModule: testModule{name: "svc"}}
	e, clk := newTestEngine(t, cfg, m)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	m.set(metrics.ErrorRate, 0.2)
	start := time.Now()
	e.step(clk)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a cycle took %v with a failing channel", d)
	}
	var ch alert.ChannelStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		e.step(clk)
		if s := e.Summary().Alerting; s != nil && len(s.Channels) == 1 && s.Channels[0].Failed > 0 {
			ch = s.Channels[0]
			break
		}
	}
	if ch.Failed == 0 || !strings.Contains(ch.LastError, "status 500") || strings.Contains(ch.LastError, "secret") {
		t.Fatalf("channel status %+v, want the 500 without the secret URL path", ch)
	}
	if hits.Load() < 2 {
		t.Errorf("%d attempts, want retries", hits.Load())
	}
}
