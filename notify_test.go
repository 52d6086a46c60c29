package perfengine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

func TestTransitionsAndFindingsReachTheWebhook(t *testing.T) {
	got := make(chan store.Alert, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Text  string      `json:"text"`
			Alert store.Alert `json:"alert"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Text == "" {
			t.Errorf("webhook body: %v, text %q", err, body.Text)
		}
		got <- body.Alert
	}))
	defer srv.Close()

	cfg := DefaultConfig()
	cfg.Alerts.WebhookURL = srv.URL
	m := &findingModule{testModule: testModule{name: "svc"}}
	e, clk := newTestEngine(t, cfg, m)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)

	m.set(metrics.ErrorRate, 0.2)
	m.finding = &Finding{Kind: "heap_leak", Severity: SeverityCritical, Title: "heap grows 1 MiB/min"}
	e.step(clk)

	want := map[string]bool{"status healthy -> critical": false, "heap grows 1 MiB/min": false}
	timeout := time.After(30 * time.Second)
	for seen := 0; seen < len(want); seen++ {
		select {
		case a := <-got:
			if _, ok := want[a.Title]; !ok {
				t.Errorf("unexpected alert %+v", a)
			}
			want[a.Title] = true
		case <-timeout:
			t.Fatalf("alerts delivered: %v", want)
		}
	}
	alerts, err := e.Store().ListAlerts(ctx, 0)
	if err != nil || len(alerts) != 2 {
		t.Errorf("stored alerts = %d (%v), want 2", len(alerts), err)
	}
}

// findingModule reports one finding a test sets.
type findingModule struct {
	testModule
	finding *Finding
}

func (m *findingModule) Findings() []Finding {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finding == nil {
		return nil
	}
	return []Finding{*m.finding}
}
